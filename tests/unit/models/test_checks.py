"""Behaviour checks catch a model that punishes a bigger favourite, NaN and certainty."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bullpen.models.checks import (
    check_market_monotone,
    check_probabilities_valid,
    failed,
    run_behaviour_checks,
)

GAMES = pd.DataFrame(
    {"mkt": np.linspace(0.3, 0.7, 50), "other": np.random.default_rng(0).normal(size=50)}
)


def test_market_monotone_passes_a_model_that_follows_the_market() -> None:
    result = check_market_monotone(lambda f: 0.9 * f["mkt"].to_numpy() + 0.05, GAMES, "mkt")
    assert result.passed, result.detail


def test_market_monotone_fails_a_model_that_fades_favourites() -> None:
    def contrarian(frame: pd.DataFrame) -> np.ndarray:
        p = frame["mkt"].to_numpy()
        return np.where(p > 0.6, 1.2 - p, p)  # big favourites get lower probabilities

    result = check_market_monotone(contrarian, GAMES, "mkt")
    assert not result.passed
    assert "get a lower probability" in result.detail


def test_probabilities_valid_rejects_nan_and_certainty() -> None:
    assert check_probabilities_valid(np.array([0.2, 0.8])).passed
    assert not check_probabilities_valid(np.array([0.2, np.nan])).passed
    assert not check_probabilities_valid(np.array([0.0, 0.5])).passed
    assert not check_probabilities_valid(np.array([0.5, 1.0])).passed


def test_run_behaviour_checks_lists_failures() -> None:
    results = run_behaviour_checks(lambda f: np.full(len(f), np.nan), GAMES, "mkt")
    names = [r.split(":")[0] for r in failed(results)]
    assert "probabilities_valid" in names
