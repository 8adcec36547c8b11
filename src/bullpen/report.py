"""Render model-vs-market evaluation and backtest results as one self-contained HTML report."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bullpen.betting.backtest import BacktestResult
from bullpen.models.evaluate import CalibrationBin, Metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def plot_calibration(calibration: dict[str, list[CalibrationBin]], path: Path) -> Path:
    """Save a reliability diagram (one line per source plus the diagonal) as a PNG at `path`."""
    figure = _new_figure()
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for name, bins in calibration.items():
        axes.plot(
            [b.mean_predicted for b in bins],
            [b.observed_rate for b in bins],
            marker="o",
            label=name,
        )
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability")
    axes.set(ylabel="observed win rate", title="Calibration")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_bankroll(curve: pd.Series, path: Path, *, starting_bankroll: float | None = None) -> Path:
    """Save the end-of-day bankroll curve as a PNG at `path` (a note if there is no data)."""
    figure = _new_figure()
    axes = figure.subplots()
    if curve.empty:
        axes.text(0.5, 0.5, "no eligible games", ha="center", va="center")
    else:
        axes.plot(pd.to_datetime(curve.index), curve.to_numpy(), color="tab:blue")
        if starting_bankroll is not None:
            axes.axhline(starting_bankroll, linestyle="--", color="grey", label="start")
            axes.legend(loc="upper left")
        figure.autofmt_xdate()
    axes.set(xlabel="date", ylabel="bankroll", title="Backtest bankroll (end of day)")
    return _save(figure, path)


def write_report(
    path: Path,
    *,
    title: str,
    comparison: dict[str, Metrics],
    calibration: dict[str, list[CalibrationBin]],
    backtest: BacktestResult,
    notes: list[str],
) -> Path:
    """Write the HTML report to `path`, plus `calibration.png` and `bankroll.png` beside it.

    The PNGs are also embedded as base64 so the HTML file stands alone. Returns `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    calibration_png = plot_calibration(calibration, path.parent / "calibration.png")
    bankroll_png = plot_bankroll(
        backtest.bankroll_curve,
        path.parent / "bankroll.png",
        starting_bankroll=backtest.starting_bankroll,
    )

    body = "\n".join(
        [
            f"<h1>{html.escape(title)}</h1>",
            "<h2>Model vs market</h2>",
            _comparison_table(comparison),
            "<h2>Calibration</h2>",
            _img(calibration_png, "calibration curve"),
            "<h2>Backtest</h2>",
            _backtest_table(backtest),
            _img(bankroll_png, "bankroll curve"),
            "<h2>Notes</h2>",
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>",
        ]
    )
    document = (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    path.write_text(document, encoding="utf-8")
    return path


def _new_figure() -> Figure:
    # Lazy import keeps `import bullpen.report` cheap and headless-safe; Figure avoids pyplot's
    # global state, so concurrent report writers do not share figures.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(7, 4.5), dpi=100, layout="tight")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _img(png: Path, alt: str) -> str:
    encoded = base64.b64encode(png.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{encoded}'>"


def _comparison_table(comparison: dict[str, Metrics]) -> str:
    header = "".join(
        f"<th>{c}</th>" for c in ("source", "n", "log_loss", "brier", "accuracy", "ece")
    )
    rows = [
        f"<tr><td>{html.escape(name)}</td><td>{m.n}</td><td>{_num(m.log_loss)}</td>"
        f"<td>{_num(m.brier)}</td><td>{_num(m.accuracy)}</td><td>{_num(m.ece)}</td></tr>"
        for name, m in comparison.items()
    ]
    return f"<table class='comparison'><tr>{header}</tr>{''.join(rows)}</table>"


def _backtest_table(result: BacktestResult) -> str:
    items = [
        ("bets", str(result.n_bets)),
        ("games skipped (missing/invalid inputs)", str(result.n_skipped)),
        ("total staked", _num(result.total_staked, 2)),
        ("profit", _num(result.profit, 2)),
        ("ROI", _pct(result.roi)),
        ("mean CLV", _pct(result.mean_clv)),
        ("max drawdown", _pct(result.max_drawdown)),
        ("starting bankroll", _num(result.starting_bankroll, 2)),
        ("final bankroll", _num(result.final_bankroll, 2)),
    ]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in items)
    return f"<table class='backtest'>{rows}</table>"


def _num(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _pct(value: float) -> str:
    return f"{value:.2%}" if math.isfinite(value) else "n/a"
