"""Behaviour checks a challenger must pass before it may become champion (used as a gate)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

Predict = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def check_probabilities_valid(p: np.ndarray) -> CheckResult:
    """Every prediction is a number strictly inside (0, 1): no NaN, no certainty."""
    p = np.asarray(p, dtype=float)
    nan = int(np.isnan(p).sum())
    outside = int(((p <= 0.0) | (p >= 1.0)).sum())
    passed = nan == 0 and outside == 0 and p.size > 0
    return CheckResult(
        "probabilities_valid", passed, f"{p.size} predictions, {nan} NaN, {outside} outside (0,1)"
    )


def check_market_monotone(
    predict: Predict,
    games: pd.DataFrame,
    market_column: str,
    steps: tuple[float, ...] = (-0.10, -0.05, -0.02, 0.02, 0.05, 0.10),
    tolerance: float = 1e-9,
) -> CheckResult:
    """A bigger market favourite never gets a lower probability, other features held fixed.

    Each game's market probability is moved by each step (clipped to [0.02, 0.98]) and the
    predictions must order like the perturbed prices, game by game.
    """
    base = games[market_column].to_numpy(float)
    known = ~np.isnan(base)
    rows = games[known]
    if rows.empty:
        return CheckResult("market_monotone", False, f"no games with {market_column}")
    prices = np.clip(
        rows[market_column].to_numpy(float)[:, None] + np.array((0.0, *steps)), 0.02, 0.98
    )
    order = np.argsort(prices, axis=1, kind="stable")
    preds = np.empty_like(prices)
    for j in range(prices.shape[1]):
        shifted = rows.copy()
        shifted[market_column] = prices[:, j]
        preds[:, j] = predict(shifted)
    sorted_preds = np.take_along_axis(preds, order, axis=1)
    violations = int((np.diff(sorted_preds, axis=1) < -tolerance).any(axis=1).sum())
    return CheckResult(
        "market_monotone",
        violations == 0,
        f"{violations} of {len(rows)} games get a lower probability for a bigger favourite",
    )


def run_behaviour_checks(
    predict: Predict, games: pd.DataFrame, market_column: str
) -> list[CheckResult]:
    """All checks on `games` (e.g. the evaluation games); the caller gates on `passed`."""
    return [
        check_probabilities_valid(predict(games)),
        check_market_monotone(predict, games, market_column),
    ]


def failed(results: list[CheckResult]) -> list[str]:
    return [f"{r.name}: {r.detail}" for r in results if not r.passed]
