"""The rollback decision of monitor-champion without the registry (judge_versions). Predictions
come from plain probability functions of the game rows. The rollback itself (aliases and audit
row through `transition`) runs against the real registry in tests/integration/test_retrain.py."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bullpen.models.train import MONEYLINE
from bullpen.registry.monitor import judge_versions
from bullpen.registry.promotion import RollbackDecision

SINCE = date(2024, 6, 1)


def _frame(n_on_since: int = 40, n_after: int = 300, seed: int = 0) -> pd.DataFrame:
    """Games on the promotion's last date and after it; p_close_home is the true probability."""
    rng = np.random.default_rng(seed)
    n = n_on_since + n_after
    p = rng.uniform(0.25, 0.75, n)
    dates = [SINCE] * n_on_since + [SINCE + timedelta(days=1 + i % 30) for i in range(n_after)]
    return pd.DataFrame(
        {
            "game_date": dates,
            "home_win": (rng.uniform(size=n) < p).astype(float),
            "p_open_home": p,
            "p_close_home": p,
        }
    )


def _sharp(games: pd.DataFrame) -> np.ndarray:
    return games["p_close_home"].to_numpy(float)


def _backwards(games: pd.DataFrame) -> np.ndarray:
    return 1.0 - games["p_close_home"].to_numpy(float)


PREDICTORS = {"2": _backwards, "1": _sharp}  # champion v2 is far worse than previous v1


def _judge(frame: pd.DataFrame, **kwargs: object):  # noqa: ANN202
    args = {"promoted": True, "since": SINCE, "predictor": PREDICTORS.__getitem__, **kwargs}
    return judge_versions(frame, MONEYLINE, "2", "1", **args)  # type: ignore[arg-type]


def test_a_worse_champion_is_rolled_back_on_games_strictly_after_the_promotion() -> None:
    result = _judge(_frame(), n_boot=200)
    assert (result.champion, result.previous) == ("2", "1")
    assert result.n_settled == 300  # the 40 games on SINCE itself judged the promotion
    assert result.interval is not None and result.interval.n == 300
    assert result.interval.lower > 0.0  # mean(champion - previous) log loss: champion worse
    assert result.decision.rollback is True
    assert result.decision.reason.startswith("champion worse than previous-champion")


def test_a_better_champion_stays() -> None:
    swapped = {"2": _sharp, "1": _backwards}
    result = _judge(_frame(), predictor=swapped.__getitem__, n_boot=200)
    assert result.interval is not None and result.interval.upper < 0.0
    assert result.decision.rollback is False


def test_without_a_since_date_every_game_counts() -> None:
    result = _judge(_frame(), since=None, n_boot=100)
    assert result.n_settled == 340


def test_confidence_n_boot_and_min_games_are_passed_on() -> None:
    result = _judge(_frame(), confidence=0.8, n_boot=123, min_games=301)
    assert result.interval is not None
    assert (result.interval.confidence, result.interval.n_boot) == (0.8, 123)
    assert result.decision.rollback is False and result.decision.reason.endswith(": wait")
    assert _judge(_frame(), n_boot=50, min_games=300).decision.rollback is True


def test_the_default_minimum_is_100_settled_games() -> None:
    assert _judge(_frame(n_after=99), n_boot=50).decision.reason.endswith("(< 100): wait")
    assert _judge(_frame(n_after=100), n_boot=50).decision.rollback is True


def test_unsettled_or_unpriced_games_are_not_judged() -> None:
    frame = _frame()
    frame.loc[frame.index[-10:], "home_win"] = np.nan
    frame.loc[frame.index[-20:-10], "p_close_home"] = np.nan
    assert _judge(frame, n_boot=50).n_settled == 280


@pytest.mark.parametrize(
    ("champion", "previous", "promoted"),
    [(None, "1", True), ("2", None, True), ("2", "1", False)],
)
def test_nothing_to_compare_keeps_the_champion(
    champion: str | None, previous: str | None, promoted: bool
) -> None:
    result = judge_versions(
        _frame(), MONEYLINE, champion, previous, promoted=promoted, since=SINCE,
        predictor=PREDICTORS.__getitem__,
    )  # fmt: skip
    assert (result.champion, result.previous) == (champion, previous)
    assert (result.n_settled, result.interval) == (0, None)
    why = "no promotion with a previous-champion to compare against"
    assert result.decision == RollbackDecision(False, why)


def test_no_games_after_the_promotion_keeps_the_champion() -> None:
    result = _judge(_frame(n_after=0))
    assert (result.champion, result.previous) == ("2", "1")
    assert (result.n_settled, result.interval) == (0, None)
    why = "no settled games after 2024-06-01"
    assert result.decision == RollbackDecision(False, why)


def test_the_default_bootstrap_is_2000_resamples_at_95_percent() -> None:
    result = _judge(_frame())
    assert result.interval is not None
    assert (result.interval.n_boot, result.interval.confidence) == (2000, 0.95)


# -- forward predictions: the champion judged on what it predicted before the games ---------


def _framed(n_after: int = 300, seed: int = 0) -> pd.DataFrame:
    frame = _frame(n_after=n_after, seed=seed)
    return frame.assign(game_id=np.arange(len(frame)) + 1000)


def _forward(frame: pd.DataFrame, p_home: np.ndarray, version: str = "2") -> pd.DataFrame:
    """Settled forward picks of `version` on `frame`'s games (the ledger's stored predictions)."""
    return pd.DataFrame(
        {
            "game_id": frame["game_id"].to_numpy(),
            "game_date": frame["game_date"].to_numpy(),
            "model_version": version,
            "p_home": p_home,
            "consensus_home": frame["p_open_home"].to_numpy(),
            "close_home": frame["p_close_home"].to_numpy(),
            "home_win": frame["home_win"].to_numpy(),
            "n_picks": 1,
        }
    )


# Re-scored, champion v2 equals previous v1: only its stored predictions can condemn it.
SAME = {"2": _sharp, "1": _sharp}


def test_stored_forward_predictions_judge_the_champion_not_a_rescore() -> None:
    frame = _framed()
    stored = 1.0 - frame["p_close_home"].to_numpy()  # what v2 predicted then: backwards
    result = _judge(frame, predictor=SAME.__getitem__, forward=_forward(frame, stored), n_boot=200)
    assert result.source == "forward"
    assert result.n_settled == 300  # the 40 picks on SINCE itself are not counted
    assert result.interval is not None and result.interval.lower > 0.0
    assert result.decision.rollback is True
    assert result.source_note == (
        "judged on v2's 300 settled forward picks (predictions stored in the bets ledger before "
        "the games); v1 re-scored on the same games"
    )
    rescored = _judge(frame, predictor=SAME.__getitem__, n_boot=200)  # no ledger: a tie
    assert rescored.source == "rescored" and rescored.decision.rollback is False
    assert rescored.source_note == (
        "no settled forward picks of v2 in the bets ledger: re-scored history"
    )


def test_forward_picks_of_other_versions_unlabelled_or_unframed_games_are_left_out() -> None:
    frame = _framed()
    stored = 1.0 - frame["p_close_home"].to_numpy()
    forward = _forward(frame, stored)
    forward.loc[forward.index[-50:], "model_version"] = "1"  # the previous champion's picks
    forward.loc[forward.index[-60:-50], "home_win"] = np.nan  # not settled
    forward.loc[forward.index[-70:-60], "game_id"] += 10_000  # a game the frame lacks
    result = _judge(frame, predictor=SAME.__getitem__, forward=forward, n_boot=100)
    assert result.source == "forward" and result.n_settled == 300 - 70
    assert result.interval is not None and result.interval.n == 230


def test_forward_losses_pair_each_pick_with_the_previous_version_on_its_game() -> None:
    frame = _framed(n_after=120)
    stored = frame["p_close_home"].to_numpy()  # the champion predicted exactly what v1 does
    result = _judge(frame, predictor=SAME.__getitem__, forward=_forward(frame, stored), n_boot=50)
    assert result.source == "forward" and result.n_settled == 120
    assert result.interval is not None
    assert result.interval.mean == pytest.approx(0.0, abs=1e-12)
    assert result.decision.rollback is False


def test_forward_judging_keeps_the_minimum_and_bootstrap_settings() -> None:
    frame = _framed(n_after=99)
    stored = 1.0 - frame["p_close_home"].to_numpy()
    forward = _forward(frame, stored)
    result = _judge(frame, predictor=SAME.__getitem__, forward=forward, n_boot=77, confidence=0.8)
    assert result.decision.reason.endswith("(< 100): wait")
    assert result.interval is not None
    assert (result.interval.n_boot, result.interval.confidence) == (77, 0.8)
    assert _judge(
        frame, predictor=SAME.__getitem__, forward=forward, n_boot=50, min_games=99
    ).decision.rollback
