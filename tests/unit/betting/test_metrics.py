"""Bettor's figures: CLV, EV at close, ROI interval, drawdown and R^2 of the move, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bullpen.betting.metrics import (
    bootstrap_roi_ci,
    max_drawdown,
    mean_and_se,
    r2_of_move,
    summarise_bets,
)


def _bets() -> pd.DataFrame:
    # Hand-built settled bets (made-up numbers for the arithmetic, not game data).
    return pd.DataFrame(
        {
            "stake": [2.0, 1.0, 3.0, 2.0],
            "profit": [1.8, -1.0, -3.0, 2.4],
            "clv_pp": [0.03, 0.01, -0.02, 0.04],
            "ev_close": [0.05, 0.02, -0.03, 0.06],
            "bankroll_after": [101.8, 100.8, 97.8, 100.2],
        }
    )


def test_mean_and_se_by_hand() -> None:
    mean, se = mean_and_se([1.0, 2.0, 3.0, 6.0])
    assert mean == 3.0
    # sample sd = sqrt(((4 + 1 + 0 + 9) / 3)) = sqrt(14/3); se = sd / 2
    assert se == pytest.approx(math.sqrt(14 / 3) / 2)
    assert math.isnan(mean_and_se([1.0])[1])
    assert math.isnan(mean_and_se([])[0])


def test_summary_by_hand() -> None:
    s = summarise_bets(_bets(), 100.0)
    assert s.n == 4
    assert s.mean_clv == pytest.approx(0.015)
    assert s.ev_at_close == pytest.approx(0.025)
    ev_sd = np.std([0.05, 0.02, -0.03, 0.06], ddof=1)
    assert s.ev_se == pytest.approx(ev_sd / 2)
    assert s.ev_ci[0] == pytest.approx(0.025 - 1.959963984540054 * ev_sd / 2)
    assert s.ev_ci[1] == pytest.approx(0.025 + 1.959963984540054 * ev_sd / 2)
    assert s.staked == 8.0
    assert s.profit == pytest.approx(0.2)
    assert s.roi == pytest.approx(0.2 / 8.0)
    # peak 101.8, trough 97.8
    assert s.max_drawdown == pytest.approx((101.8 - 97.8) / 101.8)
    assert s.roi_ci[0] <= s.roi <= s.roi_ci[1]


def test_summary_of_no_bets_is_undefined_not_zero() -> None:
    s = summarise_bets(_bets().iloc[0:0], 100.0)
    assert s.n == 0 and math.isnan(s.mean_clv) and math.isnan(s.roi)
    assert s.as_dict()["mean_clv"] is None


def test_bootstrap_interval_is_deterministic_and_covers_the_spread() -> None:
    stakes = np.ones(200)
    profits = np.where(np.arange(200) % 2 == 0, 0.9, -1.0)
    low, high = bootstrap_roi_ci(stakes, profits)
    assert (low, high) == bootstrap_roi_ci(stakes, profits)
    assert low < -0.05 < high
    assert high - low < 0.4
    # all wins: the interval collapses onto the ROI
    assert bootstrap_roi_ci(np.ones(10), np.full(10, 0.5)) == pytest.approx((0.5, 0.5))


def test_max_drawdown_counts_the_start_as_a_peak() -> None:
    assert max_drawdown(100.0, [90.0, 95.0, 120.0, 60.0]) == pytest.approx(0.5)
    assert max_drawdown(100.0, [101.0, 102.0]) == 0.0


def test_r2_of_move() -> None:
    actual = np.array([0.1, -0.1, 0.2, -0.2])
    assert r2_of_move(actual, actual) == 1.0
    assert r2_of_move(actual, np.zeros(4)) == pytest.approx(0.0)  # mean is 0
    assert r2_of_move(actual, -actual) == pytest.approx(-3.0)
    with pytest.raises(ValueError):
        r2_of_move([0.1], [0.1])
