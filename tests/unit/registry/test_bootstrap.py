"""Paired bootstrap: seeded, centred on the mean difference, sensitive to real differences."""

from __future__ import annotations

import numpy as np
import pytest

from bullpen.registry.bootstrap import paired_bootstrap


def _losses(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.3, 1.0, n)


def test_paired_bootstrap_is_seeded_and_contains_the_mean() -> None:
    a, b = _losses(500, 1), _losses(500, 2)
    first = paired_bootstrap(a, b, seed=3)
    assert first == paired_bootstrap(a, b, seed=3)
    assert first != paired_bootstrap(a, b, seed=4)
    assert first.lower < first.mean < first.upper
    assert first.mean == pytest.approx(float((a - b).mean()))


def test_paired_bootstrap_finds_a_small_consistent_improvement() -> None:
    # Each game 0.01 better plus noise shared by both sources: pairing sees through the noise.
    base = _losses(1000, 5)
    better = base - 0.01 + np.random.default_rng(6).normal(0, 0.005, base.size)
    interval = paired_bootstrap(better, base, confidence=0.95)
    assert interval.upper < 0
    assert interval.lower == pytest.approx(-0.01, abs=0.002)


def test_paired_bootstrap_interval_covers_zero_for_identical_sources() -> None:
    a = _losses(300, 7)
    interval = paired_bootstrap(a, a.copy())
    assert interval.lower == interval.upper == interval.mean == 0.0


def test_paired_bootstrap_wider_at_higher_confidence() -> None:
    a, b = _losses(400, 8), _losses(400, 9)
    narrow, wide = paired_bootstrap(a, b, confidence=0.8), paired_bootstrap(a, b, confidence=0.99)
    assert wide.lower < narrow.lower and wide.upper > narrow.upper


@pytest.mark.parametrize(
    ("new", "old", "confidence"),
    [([], [], 0.95), ([0.5], [0.5, 0.6], 0.95), ([np.nan], [0.5], 0.95), ([0.5], [0.5], 1.0)],
)
def test_paired_bootstrap_rejects_bad_input(new: list, old: list, confidence: float) -> None:
    with pytest.raises(ValueError):
        paired_bootstrap(new, old, confidence=confidence)
