"""The rule that decides when tuned parameters replace the defaults."""

from __future__ import annotations

from bullpen.models.tuning import store


def test_decide_use_tuned_needs_strictly_better_cv_and_held_out_scores() -> None:
    confirmed = (0.6650, 0.6652)
    assert store.decide_use_tuned(0.6740, 0.6741, *confirmed)
    assert not store.decide_use_tuned(0.6741, 0.6741, *confirmed)
    assert not store.decide_use_tuned(0.6742, 0.6741, *confirmed)
    assert not store.decide_use_tuned(float("nan"), 0.6741, *confirmed)
    assert not store.decide_use_tuned(0.6740, 0.6741, 0.6652, 0.6652)  # CV alone is not enough
    assert not store.decide_use_tuned(0.6740, 0.6741, 0.6653, 0.6652)
    assert not store.decide_use_tuned(0.6740, 0.6741, float("nan"), 0.6652)
    assert not store.decide_use_tuned(0.6740, 0.6741, None, None)  # never confirmed
