"""Render model-vs-market evaluation and backtest results as one self-contained HTML report."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bullpen.betting.backtest import BacktestResult
from bullpen.models.evaluate import CalibrationBin, Metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bullpen.betting.opener import SeasonBets

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
        ]
    )
    return _write_document(path, title, body, notes)


def _write_document(path: Path, title: str, body: str, notes: list[str]) -> Path:
    """One self-contained HTML page: the body, then the notes."""
    notes_html = "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
    document = (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n<h2>Notes</h2>\n{notes_html}\n</body>\n</html>\n"
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


def plot_cumulative_clv(seasons: Sequence[SeasonBets], path: Path) -> Path:
    """Cumulative CLV (probability points) bet by bet, across seasons in order."""
    figure = _new_figure()
    axes = figure.subplots()
    frames = [s.result.bets.assign(season=s.season) for s in seasons if len(s.result.bets)]
    if not frames:
        axes.text(0.5, 0.5, "no bets", ha="center", va="center")
    else:
        bets = pd.concat(frames, ignore_index=True)
        axes.plot(range(1, len(bets) + 1), bets["clv_pp"].cumsum().to_numpy() * 100)
        # Row position of each season's first bet: where that season starts on the x axis.
        for position, season in bets.groupby("season").head(1)["season"].items():
            axes.axvline(position + 1, color="grey", linewidth=0.5)
            axes.text(position + 1, 0, str(season), fontsize=7, color="grey")
        axes.axhline(0, linestyle="--", color="grey")
    axes.set(xlabel="bet number", ylabel="cumulative CLV (pp)", title="Closing-line value")
    return _save(figure, path)


def plot_season_bankrolls(seasons: Sequence[SeasonBets], path: Path) -> Path:
    """One end-of-day bankroll line per season (each season starts its own bankroll)."""
    figure = _new_figure()
    axes = figure.subplots()
    for s in seasons:
        curve = s.result.bankroll_curve
        if not curve.empty:
            axes.plot(range(len(curve)), curve.to_numpy(), label=str(s.season))
    if seasons:
        axes.axhline(seasons[0].params.starting_bankroll, linestyle="--", color="grey")
    axes.set(xlabel="betting day of the season", ylabel="bankroll", title="Bankroll by season")
    axes.legend(loc="upper left", fontsize=7)
    return _save(figure, path)


def write_strategy_report(
    path: Path,
    *,
    title: str,
    seasons: Sequence[SeasonBets],
    pooled: dict,
    comparison: dict[str, Metrics],
    calibration: dict[str, list[CalibrationBin]],
    notes: list[str],
) -> Path:
    """The opener strategy by season (CLV, EV at close, ROI, drawdown, R^2 of the move) with
    CLV and bankroll curves, and the home-win champion against the market."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clv_png = plot_cumulative_clv(seasons, path.parent / "clv.png")
    bankroll_png = plot_season_bankrolls(seasons, path.parent / "bankroll.png")
    calibration_png = plot_calibration(calibration, path.parent / "calibration.png")
    body = "\n".join(
        [
            f"<h1>{html.escape(title)}</h1>",
            "<h2>Bets by season</h2>",
            _season_table(seasons, pooled),
            _img(clv_png, "cumulative closing-line value"),
            _img(bankroll_png, "bankroll by season"),
            "<h2>Home-win model vs market</h2>",
            _comparison_table(comparison),
            _img(calibration_png, "calibration curve"),
        ]
    )
    return _write_document(path, title, body, notes)


def _season_table(seasons: Sequence[SeasonBets], pooled: dict) -> str:
    header = "".join(
        f"<th>{html.escape(c)}</th>"
        for c in ("season", "R² move", "threshold", "Kelly", "bets", "mean CLV (pp)",
                  "EV at close", "EV 95% CI", "ROI", "ROI 95% CI", "max drawdown")
    )  # fmt: skip
    rows = []
    for s in seasons:
        m = s.summary
        rows.append(
            f"<tr><td>{s.season}</td><td>{_num(s.r2_move)}</td><td>{_num(s.params.threshold, 3)}"
            f"</td><td>{s.params.kelly_multiplier}</td><td>{m.n}</td>"
            f"<td>{_pp(m.mean_clv, m.clv_se)}</td><td>{_pct(m.ev_at_close)}</td>"
            f"<td>{_interval(m.ev_ci)}</td><td>{_pct(m.roi)}</td><td>{_interval(m.roi_ci)}</td>"
            f"<td>{_pct(m.max_drawdown)}</td></tr>"
        )
    rows.append(
        f"<tr><th>pooled</th><td></td><td></td><td></td><td>{pooled['n']}</td>"
        f"<td>{_pp(_f(pooled['mean_clv']), _f(pooled['clv_se']))}</td>"
        f"<td>{_pct(_f(pooled['ev_at_close']))}</td>"
        f"<td>{_interval(tuple(_f(v) for v in pooled['ev_ci']))}</td>"
        f"<td>{_pct(_f(pooled['roi']))}</td>"
        f"<td>{_interval(tuple(_f(v) for v in pooled['roi_ci']))}</td>"
        f"<td>{_pct(_f(pooled['max_drawdown']))}</td></tr>"
    )
    return f"<table class='seasons'><tr>{header}</tr>{''.join(rows)}</table>"


def _f(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _pp(mean: float, se: float) -> str:
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean * 100:+.2f}" + (f" ({se * 100:.2f})" if math.isfinite(se) else "")


def _interval(bounds: tuple[float, ...]) -> str:
    low, high = bounds
    if not (math.isfinite(low) and math.isfinite(high)):
        return "n/a"
    return f"[{low:+.2%}, {high:+.2%}]"
