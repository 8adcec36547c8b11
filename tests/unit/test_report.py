"""Unit tests for the HTML report writer in bullpen.report.

The backtest frame below is a hand-built unit-test input with made-up prices, not real data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bullpen.betting.backtest import BacktestConfig, run_backtest
from bullpen.models.evaluate import calibration_table, score_probabilities
from bullpen.report import plot_calibration, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _handbuilt_backtest_games() -> pd.DataFrame:
    """Hand-built unit-test input: three games over two dates."""
    return pd.DataFrame(
        [
            ("2024-04-01", 1, 0.60, -110, -110, -130, 110, 1),
            ("2024-04-01", 2, 0.50, -140, 120, 100, 100, 1),
            ("2024-04-02", 3, 0.45, 150, -170, 160, -180, 0),
        ],
        columns=[
            "game_date",
            "game_id",
            "p_model",
            "home_open_ml",
            "away_open_ml",
            "home_close_ml",
            "away_close_ml",
            "home_win",
        ],
    )


def test_write_report_writes_table_images_and_pngs(tmp_path: Path) -> None:
    y = [1, 0, 1, 1, 0, 0]
    sources = {
        "model": [0.7, 0.4, 0.6, 0.55, 0.3, 0.45],
        "market <close>": [0.6, 0.5, 0.55, 0.6, 0.4, 0.5],
    }
    comparison = {name: score_probabilities(y, p) for name, p in sources.items()}
    calibration = {name: calibration_table(y, p) for name, p in sources.items()}
    backtest = run_backtest(_handbuilt_backtest_games(), BacktestConfig())

    out = write_report(
        tmp_path / "report" / "index.html",
        title="Season 2024 & friends",
        comparison=comparison,
        calibration=calibration,
        backtest=backtest,
        notes=["Opening prices only.", "Shin devig <default>."],
    )

    assert out == tmp_path / "report" / "index.html"
    text = out.read_text(encoding="utf-8")
    assert "<table class='comparison'>" in text
    assert "<td>model</td>" in text and "market &lt;close&gt;" in text
    assert f"{comparison['model'].log_loss:.4f}" in text
    assert len(re.findall(r"<img [^>]*src='data:image/png;base64,", text)) == 2
    assert "Season 2024 &amp; friends" in text
    assert "Shin devig &lt;default&gt;." in text
    assert f"{backtest.roi:.2%}" in text
    for name in ("calibration.png", "bankroll.png"):
        assert (tmp_path / "report" / name).read_bytes().startswith(PNG_MAGIC)


def test_write_report_handles_zero_bet_backtest(tmp_path: Path) -> None:
    empty = run_backtest(_handbuilt_backtest_games().iloc[0:0], BacktestConfig())
    out = write_report(
        tmp_path / "empty.html",
        title="empty",
        comparison={},
        calibration={},
        backtest=empty,
        notes=[],
    )
    text = out.read_text(encoding="utf-8")
    assert text.count("<img ") == 2
    assert "n/a" in text  # mean CLV is NaN with no bets


def test_plot_calibration_writes_png(tmp_path: Path) -> None:
    table = calibration_table([1, 0, 1, 0], [0.8, 0.2, 0.6, 0.4])
    path = plot_calibration({"model": table}, tmp_path / "cal.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_strategy_report_has_the_season_table_and_both_curves(tmp_path: Path) -> None:
    from bullpen.betting import opener
    from bullpen.features.odds import devig_two_way
    from bullpen.report import write_strategy_report

    # Hand-built unit-test input: made-up prices over two seasons.
    rows = [
        ("2018-05-01", 1, -110, -110, -130, 110, 1, 0.56),
        ("2018-05-02", 2, -110, -110, -105, -115, 0, 0.45),
        ("2019-05-01", 3, 120, -140, 110, -130, 0, 0.47),
    ]
    cols = ["game_date", "game_id", "home_open_ml", "away_open_ml", "home_close_ml",
            "away_close_ml", "home_win", "p_close_pred"]  # fmt: skip
    games = pd.DataFrame(rows, columns=cols)
    games["p_open_home"] = devig_two_way(games["home_open_ml"], games["away_open_ml"], "shin")
    params = opener.OpenerParams(threshold=0.02)
    seasons = [
        opener.season_bets(2018, games.iloc[:2], 0.11, params),
        opener.season_bets(2019, games.iloc[2:], 0.09, params),
    ]
    pooled = opener.pooled_summary(seasons).as_dict()
    games_eval = _handbuilt_backtest_games()
    y = games_eval["home_win"].to_numpy(float)
    p = games_eval["p_model"].to_numpy(float)
    path = write_strategy_report(
        tmp_path / "r" / "opener.html",
        title="opener <test>",
        seasons=seasons,
        pooled=pooled,
        comparison={"model": score_probabilities(y, p)},
        calibration={"model": calibration_table(y, p)},
        notes=["a & b"],
    )
    text = path.read_text()
    assert "<title>opener &lt;test&gt;</title>" in text
    assert text.count("data:image/png;base64,") == 3
    for name in ("clv.png", "bankroll.png", "calibration.png"):
        assert (path.parent / name).read_bytes().startswith(PNG_MAGIC)
    table = re.search(r"<table class='seasons'>(.*?)</table>", text).group(1)
    assert table.count("<tr>") == 4  # header, two seasons, pooled
    assert "<td>2018</td><td>0.1100</td>" in table
    assert f"<th>pooled</th><td></td><td></td><td></td><td>{pooled['n']}</td>" in table
    assert "<li>a &amp; b</li>" in text
