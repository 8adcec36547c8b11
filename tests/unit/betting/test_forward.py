"""The forward record from a hand-made ledger frame (made-up picks, shaped like load_ledger's)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bullpen.betting.forward import forward_record, newest_strategy, write_forward_report

T0 = datetime(2030, 6, 1, 16, tzinfo=UTC)


def _ledger() -> pd.DataFrame:
    rows = [
        # bet_id, strategy, state, stake, bankroll, profit, clv_pp, ev_close, settled hours
        (1, "s", "won", 10.0, 1000.0, 12.0, 0.02, 0.05, 30),
        (2, "s", "lost", 20.0, 1000.0, -20.0, -0.01, -0.02, 28),  # settled first
        (3, "s", "void", 5.0, 1000.0, 0.0, None, None, 29),
        (4, "s", "won", 8.0, 1000.0, 8.0, None, None, 31),  # no closing line
        (5, "s", "open", 7.0, 992.0, None, None, None, None),
        (6, "other", "lost", 50.0, 500.0, -50.0, 0.1, 0.1, 27),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["bet_id", "strategy_version", "state", "stake", "bankroll", "profit", "clv_pp",
                 "ev_close", "settled_h"],
    )  # fmt: skip
    frame["opened_at"] = [T0 + timedelta(minutes=i) for i in frame["bet_id"]]
    frame["settled_at"] = [
        None if pd.isna(h) else T0 + timedelta(hours=h) for h in frame.pop("settled_h")
    ]
    frame["game_date"] = date(2030, 6, 1)
    for col in ("away_team", "home_team", "book", "side"):
        frame[col] = "x"
    frame["price_american"] = 120
    return frame


def test_record_counts_money_in_settlement_order_and_clv_only_with_a_close() -> None:
    record = forward_record(_ledger(), "s")
    assert record.starting_bankroll == 1000.0
    assert record.bankroll == pytest.approx(1000.0 + 12 - 20 + 8)
    assert (record.n_open, record.at_risk, record.n_void, record.n_with_close) == (1, 7.0, 1, 2)
    s = record.summary
    assert s.n == 3 and s.staked == 38.0 and s.profit == pytest.approx(0.0)
    # Settled order: lost (28 h), won (30 h), won (31 h): 980, 992, 1000 -> drawdown 2 %.
    assert record.settled["bankroll_after"].tolist() == [980.0, 992.0, 1000.0]
    assert s.max_drawdown == pytest.approx(0.02)
    assert s.mean_clv == pytest.approx(0.005)  # (0.02 - 0.01) / 2: the pick without close is out
    assert s.clv_se == pytest.approx(math.sqrt(((0.015**2) * 2) / 1) / math.sqrt(2))
    assert s.ev_at_close == pytest.approx(0.015)


def test_newest_strategy_is_the_one_of_the_last_opened_pick() -> None:
    ledger = _ledger()
    assert newest_strategy(ledger) == "other"  # bet 6 opened last
    assert newest_strategy(ledger.iloc[:0]) is None


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="no picks"):
        forward_record(_ledger(), "nope")


def test_report_page_has_both_curves_and_the_figures(tmp_path: Path) -> None:
    record = forward_record(_ledger(), "s")
    path = write_forward_report(tmp_path / "f.html", record, since=date(2030, 6, 1))
    body = path.read_text()
    assert body.count("<img") == 2 and "bankroll 1000.00 (start 1000.00)" in body
    assert "Games from 2030-06-01 on." in body
