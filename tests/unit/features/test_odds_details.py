"""Odds conversions and devig details left open by the first tests (found by mutation testing):
the messages of impossible input, NaN masking without warnings, and Shin on several markets."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from bullpen.features.odds import (
    _devig_shin_rows,
    decimal_to_american_array,
    devig,
    devig_power,
    devig_shin,
    devig_two_way,
    implied_probability_array,
)
from bullpen.prices import american_to_decimal, decimal_to_american


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: american_to_decimal(50),
         r"impossible American price: 50 \(need \|price\| >= 100\)"),
        (lambda: decimal_to_american(0.5), r"impossible decimal price: 0.5 \(need > 1\)"),
        (lambda: decimal_to_american_array([0.5]),
         r"impossible decimal price \(need > 1\): \[0.5\]"),
        (lambda: devig([0.5]),
         "a market needs a 1-D sequence of at least two implied probabilities"),
        (lambda: devig([0.5, 1.2]), r"implied probabilities must lie in \(0, 1\): \[0.5, 1.2\]"),
    ],
)  # fmt: skip
def test_impossible_input_is_named_in_the_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()  # type: ignore[operator]


def test_decimal_array_masks_impossible_prices_quietly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or invalid-value warning leaks out
        out = decimal_to_american_array([1.0, 0.5, math.nan, 2.5, 1.5], invalid="nan")
    assert np.isnan(out[:3]).all()
    np.testing.assert_allclose(out[3:], [150.0, -200.0])


def test_implied_probability_array_passes_the_invalid_policy_on() -> None:
    out = implied_probability_array([50, -110], invalid="nan")
    assert math.isnan(out[0]) and out[1] == pytest.approx(110 / 210)
    with pytest.raises(ValueError):
        implied_probability_array([50, -110])


def test_shin_rows_solve_each_market_on_its_own() -> None:
    markets = np.array([[0.55, 0.5], [0.3, 0.75], [0.52, 0.52]])
    together = _devig_shin_rows(markets)
    assert together.shape == (3, 2)
    for row, fair in zip(markets, together, strict=True):
        np.testing.assert_allclose(fair, devig_shin(row), rtol=1e-12)
        assert fair.sum() == pytest.approx(1.0, abs=1e-15)
    # A three-way market (shape (1, 3)) and a two-way batch differ in rows and columns.
    three = _devig_shin_rows(np.array([[0.5, 0.3, 0.3]]))
    assert three.shape == (1, 3) and three.sum() == pytest.approx(1.0, abs=1e-15)


def test_power_devig_of_a_season_equals_one_market_at_a_time() -> None:
    """The vectorised Newton solve must treat every market on its own (over- and underround)."""
    rng = np.random.default_rng(0)
    home = rng.choice(np.r_[-300:-100, 100:300], 400).astype(float)
    away = rng.choice(np.r_[-300:-100, 100:300], 400).astype(float)
    together = devig_two_way(home, away, "power")
    one_by_one = [
        devig_power([1 / american_to_decimal(h), 1 / american_to_decimal(a)])[0]
        for h, a in zip(home, away, strict=True)
    ]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12)
