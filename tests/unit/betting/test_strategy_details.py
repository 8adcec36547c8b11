"""Details of the opener strategy and the bettor's metrics, each computed by hand.

Prices are hand-built unit-test inputs (made-up numbers), not real game data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bullpen.betting import opener
from bullpen.betting.metrics import (
    BOOTSTRAP_RESAMPLES,
    bootstrap_roi_ci,
    logit,
    max_drawdown,
    mean_and_se,
    r2_of_move,
    summarise_bets,
)
from bullpen.features.odds import devig_two_way


def _games(rows: list[tuple]) -> pd.DataFrame:
    cols = ["game_date", "game_id", "home_open_ml", "away_open_ml", "home_close_ml",
            "away_close_ml", "home_win", "p_close_pred"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    frame["p_open_home"] = devig_two_way(frame["home_open_ml"], frame["away_open_ml"], "shin")
    frame["p_close_home"] = devig_two_way(frame["home_close_ml"], frame["away_close_ml"], "shin")
    return frame


def test_logit_by_hand_and_clipped() -> None:
    assert logit([0.5])[0] == 0.0
    assert logit([0.8])[0] == pytest.approx(math.log(4.0))
    assert logit([0.0])[0] == pytest.approx(math.log(1e-6 / (1 - 1e-6)))
    assert logit([1.0])[0] == pytest.approx(-math.log(1e-6 / (1 - 1e-6)))
    assert logit([0.25, 0.75]).tolist() == pytest.approx([-math.log(3.0), math.log(3.0)])


def test_bootstrap_interval_is_the_percentiles_of_seeded_resamples() -> None:
    stakes = np.array([1.0, 2.0, 1.5, 0.5, 3.0, 1.0])
    profits = np.array([0.9, -2.0, 1.4, -0.5, 2.7, -1.0])
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 6, size=(BOOTSTRAP_RESAMPLES, 6))
    rois = profits[idx].sum(axis=1) / stakes[idx].sum(axis=1)
    expected = (np.quantile(rois, 0.025), np.quantile(rois, 0.975))
    assert bootstrap_roi_ci(stakes, profits) == pytest.approx(expected)
    assert bootstrap_roi_ci(stakes, profits, seed=7) == bootstrap_roi_ci(stakes, profits)
    narrow = bootstrap_roi_ci(stakes, profits, level=0.5)
    assert narrow == pytest.approx((np.quantile(rois, 0.25), np.quantile(rois, 0.75)))
    assert BOOTSTRAP_RESAMPLES == 2000
    assert all(math.isnan(v) for v in bootstrap_roi_ci([1.0], [0.5]))
    # A resample that staked nothing counts as ROI 0, not a division by zero.
    zero = bootstrap_roi_ci(np.array([0.0, 0.0]), np.array([0.0, 0.0]))
    assert zero == (0.0, 0.0)


def test_summary_figures_and_json_form() -> None:
    bets = pd.DataFrame(
        {
            "stake": [1.0, 3.0],
            "profit": [0.9, -3.0],
            "clv_pp": [0.02, 0.04],
            "ev_close": [0.01, 0.05],
            "bankroll_after": [100.9, 97.9],
        }
    )
    s = summarise_bets(bets, 100.0)
    se = np.std([0.01, 0.05], ddof=1) / math.sqrt(2)
    assert (s.n, s.staked, s.profit) == (2, 4.0, pytest.approx(-2.1))
    assert s.roi == pytest.approx(-2.1 / 4.0)
    assert s.mean_clv == pytest.approx(0.03)
    assert s.clv_se == pytest.approx(np.std([0.02, 0.04], ddof=1) / math.sqrt(2))
    assert s.ev_se == pytest.approx(se)
    assert s.ev_ci == pytest.approx((0.03 - 1.959963984540054 * se, 0.03 + 1.959963984540054 * se))
    assert s.max_drawdown == pytest.approx((100.9 - 97.9) / 100.9)
    out = s.as_dict()
    assert out["ev_ci"] == pytest.approx(list(s.ev_ci)) and isinstance(out["ev_ci"], list)
    assert out["roi_ci"] == pytest.approx(list(s.roi_ci)) and isinstance(out["roi_ci"], list)
    assert out["n"] == 2 and out["roi"] == pytest.approx(s.roi)
    assert out["mean_clv"] == pytest.approx(0.03)
    one = summarise_bets(bets.head(1), 100.0).as_dict()
    assert one["clv_se"] is None and one["roi_ci"] == [None, None]
    empty = summarise_bets(bets.head(0), 100.0)
    assert (empty.staked, empty.profit, empty.max_drawdown) == (0.0, 0.0, 0.0)
    assert all(math.isnan(v) for v in (*empty.ev_ci, *empty.roi_ci, empty.ev_se, empty.clv_se))


def test_mean_se_drawdown_and_r2_edges() -> None:
    assert mean_and_se([2.0, 4.0]) == pytest.approx((3.0, 1.0))
    assert max_drawdown(100.0, [50.0]) == pytest.approx(0.5)
    assert max_drawdown(10.0, []) == 0.0
    assert math.isnan(r2_of_move([0.1, 0.1], [0.0, 0.2]))
    assert r2_of_move([0.0, 2.0], [0.5, 1.5]) == pytest.approx(1 - 0.5 / 2.0)
    with pytest.raises(ValueError, match="two or more paired values"):
        r2_of_move([0.1, 0.2], [0.1])


def test_expected_log_growth_by_hand() -> None:
    games = _games(
        [
            ("2018-05-01", 1, -110, -110, -130, 110, 1, 0.56),  # +6 pp: bet home at 1.909
            ("2018-05-01", 2, -110, -110, -105, -115, 0, 0.45),  # -5 pp: bet away at 1.909
            ("2018-05-01", 3, -110, -110, -110, -110, 0, 0.51),  # +1 pp: below the threshold
            ("2018-05-01", 4, -110, -110, -110, -110, 0, float("nan")),  # no forecast: skipped
        ]
    )
    d = 1 + 100 / 110
    total = 0.0
    for p_side, p_true in ((0.56, (1 + 1 / (1 + 100 / 130) - 1 / 2.1) / 2), (0.55, None)):
        f = min(0.5 * (p_side - (1 - p_side) / (d - 1)), 0.02)
        if p_true is None:
            ih, ia = 1 / (1 + 100 / 105), 1 / (1 + 100 / 115)
            p_true = 1 - (1 + ih - ia) / 2
        total += p_true * math.log1p(f * (d - 1)) + (1 - p_true) * math.log1p(-f)
    growth, n = opener.expected_log_growth(games, 0.02, 0.5, 0.02)
    assert n == 2
    assert growth == pytest.approx(total)
    # The cap binds: with cap 0.001 every stake is 0.1 % of the bankroll.
    capped, _ = opener.expected_log_growth(games, 0.02, 0.5, 0.001)
    assert abs(capped) < abs(growth)


def test_choose_params_picks_the_best_eligible_setting() -> None:
    # Moves of 3 pp that the market completes: every setting with bets grows; the largest Kelly
    # multiplier grows most, and thresholds above 3 pp have no bets at all.
    rows = [("2018-05-01", i, -110, -110, -125, 105, i % 2, 0.53) for i in range(1, 61)]
    games = _games(rows)
    params, why = opener.choose_params(games, opener.OpenerParams(), thresholds=(0.02, 0.04))
    assert (params.threshold, params.kelly_multiplier) == (0.02, 0.5)
    assert "over 60 selection bets" in why
    assert opener.MIN_SELECTION_BETS == 50
    few = opener.choose_params(games.head(50), opener.OpenerParams(), thresholds=(0.02,))
    assert few[0].threshold == 0.02 and "maximised" in few[1]  # exactly 50 bets is enough
    none = opener.choose_params(games.head(49), opener.OpenerParams(), thresholds=(0.02,))
    assert "fewer than 50" in none[1]


def test_settings_round_trip_through_model_version_tags() -> None:
    chosen = opener.OpenerParams(threshold=0.015, kelly_multiplier=0.5)
    tags = chosen.as_tags("because " * 100)
    assert tags[opener.THRESHOLD_TAG] == "0.015" and tags[opener.KELLY_TAG] == "0.5"
    assert len(tags[opener.WHY_TAG]) == 500
    back, why = opener.OpenerParams.from_tags(tags, devig_method="power")
    assert (back.threshold, back.kelly_multiplier, back.devig_method) == (0.015, 0.5, "power")
    assert why.startswith("because")
    default, why = opener.OpenerParams.from_tags({opener.THRESHOLD_TAG: "0.3"})
    assert default == opener.OpenerParams() and "defaults" in why
    default, _ = opener.OpenerParams.from_tags({opener.KELLY_TAG: "0.3"})
    assert default == opener.OpenerParams()
    no_why, why = opener.OpenerParams.from_tags(
        {opener.THRESHOLD_TAG: "0.3", opener.KELLY_TAG: "1"}
    )
    assert no_why.threshold == 0.3 and why == "recorded on the model version"


def test_backtest_config_carries_every_setting() -> None:
    p = opener.OpenerParams(
        threshold=0.03, kelly_multiplier=0.4, max_stake_fraction=0.05, max_day_exposure=0.3,
        starting_bankroll=250.0, devig_method="power",
    )  # fmt: skip
    c = p.backtest_config()
    assert (c.edge_threshold, c.kelly_multiplier, c.max_stake_fraction) == (0.03, 0.4, 0.05)
    assert (c.max_day_exposure, c.starting_bankroll, c.devig_method) == (0.3, 250.0, "power")


def test_season_bets_and_pooled_summary() -> None:
    day_one = [("2018-05-01", i, -110, -110, -130, 110, i % 2, 0.56) for i in range(1, 5)]
    day_two = [("2019-05-01", i, -110, -110, -130, 110, 1, 0.56) for i in range(5, 8)]
    params = opener.OpenerParams(threshold=0.02, starting_bankroll=50.0)
    one = opener.season_bets(2018, _games(day_one), 0.12, params, "why one")
    two = opener.season_bets(2019, _games(day_two), 0.08, params)
    assert (one.season, one.r2_move, one.n_games, one.why, one.params) == (
        2018, 0.12, 4, "why one", params,
    )  # fmt: skip
    assert two.why == "given"
    assert one.summary.n == 4 and two.summary.n == 3
    assert one.result.starting_bankroll == 50.0
    pooled = opener.pooled_summary([one, two])
    assert pooled.n == 7
    assert pooled.staked == pytest.approx(one.summary.staked + two.summary.staked)
    assert pooled.max_drawdown == max(one.summary.max_drawdown, two.summary.max_drawdown)
    assert pooled.mean_clv == pytest.approx(
        pd.concat([one.result.bets, two.result.bets])["clv_pp"].mean()
    )
    quiet = opener.season_bets(2017, _games(day_one), 0.1, opener.OpenerParams(threshold=0.5))
    assert quiet.summary.n == 0
    assert opener.pooled_summary([quiet]).n == 0
    mixed = opener.pooled_summary([quiet, one])
    assert mixed.n == 4 and mixed.max_drawdown == one.summary.max_drawdown


def test_strategy_frame_uses_the_predicted_close_as_the_model() -> None:
    games = _games([("2018-05-01", 1, -110, -110, -130, 110, 1, 0.56)])
    frame = opener.strategy_frame(games)
    assert frame["p_model"].tolist() == [0.56]
    assert list(frame.columns) == [
        "game_date", "game_id", "home_open_ml", "away_open_ml", "home_close_ml", "away_close_ml",
        "home_win", "p_model",
    ]  # fmt: skip


def test_expected_log_growth_skips_each_game_it_cannot_bet_and_goes_on() -> None:
    nan = float("nan")
    bettable = ("2018-05-02", 9, -110, -110, -130, 110, 1, 0.56)
    alone, n_alone = opener.expected_log_growth(_games([bettable]), 0.02, 0.5, 0.02)
    assert n_alone == 1
    skipped_first = [
        ("2018-05-01", 1, -110, -110, -110, -110, 0, nan),  # no forecast
        ("2018-05-01", 2, -110, -110, -110, -110, 0, 0.53125 - 0.0234375),  # small move
        ("2018-05-01", 3, 100, -130, 100, -130, 0, 0.5),  # +3.3 pp, but Kelly is exactly 0 at +100
        ("2018-05-01", 4, 50, -110, -110, -110, 0, 0.9),  # impossible price: skipped, no error
        ("2018-05-01", 5, -110, 50, -110, -110, 0, 0.1),  # the same on the away side
        bettable,
    ]
    growth, n = opener.expected_log_growth(_games(skipped_first), 0.02, 0.5, 0.02)
    assert (growth, n) == (pytest.approx(alone), 1)


def test_expected_log_growth_threshold_is_strict() -> None:
    # Binary fractions: the predicted move is exactly the threshold, so no bet.
    at = _games([("2018-05-01", 1, 100, 100, 100, 100, 1, 0.53125)])
    assert opener.expected_log_growth(at, 0.03125, 0.5, 0.02) == (0.0, 0)
    assert opener.expected_log_growth(at, 0.03, 0.5, 0.02)[1] == 1


def test_choose_params_keeps_the_first_of_equal_settings_and_sets_the_threshold() -> None:
    rows = [("2018-05-01", i, -110, -110, -125, 105, i % 2, 0.53) for i in range(1, 61)]
    # Both thresholds select the same 60 bets, so their growth ties: the first one stands.
    params, _ = opener.choose_params(
        _games(rows), opener.OpenerParams(threshold=0.04), thresholds=(0.005, 0.01)
    )
    assert (params.threshold, params.kelly_multiplier) == (0.005, 0.5)


def test_defaults_sentence_when_nothing_is_recorded() -> None:
    params, why = opener.OpenerParams.from_tags({})
    assert why == "no settings recorded on the model version: defaults"


def test_small_stakes_are_still_stakes() -> None:
    # Stakes below one unit (a small bankroll): ROI and its interval use them as they are.
    bets = pd.DataFrame(
        {
            "stake": [0.1, 0.2, 0.1],
            "profit": [0.09, -0.2, 0.1],
            "clv_pp": [0.01, 0.02, 0.03],
            "ev_close": [0.0, 0.01, 0.02],
            "bankroll_after": [10.09, 9.89, 9.99],
        }
    )
    s = summarise_bets(bets, 10.0)
    assert s.roi == pytest.approx(-0.01 / 0.4)
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 3, size=(BOOTSTRAP_RESAMPLES, 3))
    stakes, profits = bets["stake"].to_numpy(), bets["profit"].to_numpy()
    rois = profits[idx].sum(axis=1) / stakes[idx].sum(axis=1)
    assert s.roi_ci == pytest.approx((np.quantile(rois, 0.025), np.quantile(rois, 0.975)))
