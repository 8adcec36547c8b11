"""Unit tests for odds conversions and de-margining in bullpen.features.odds."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bullpen.features import odds
from bullpen.prices import american_to_decimal, decimal_to_american

METHODS = ("proportional", "power", "shin")

# A valid American price: at least 100 in absolute value, either sign.
american_prices = st.one_of(st.integers(-20_000, -100), st.integers(100, 20_000))


@pytest.mark.parametrize(
    ("american", "decimal"),
    [(-110, 1.0 + 100 / 110), (150, 2.5), (100, 2.0), (-100, 2.0), (-200, 1.5), (120, 2.2)],
)
def test_american_to_decimal_known_values(american: int, decimal: float) -> None:
    assert american_to_decimal(american) == pytest.approx(decimal, abs=1e-12)


def test_american_to_decimal_minus_110_is_1_909() -> None:
    assert american_to_decimal(-110) == pytest.approx(1.909090909, abs=1e-9)


@pytest.mark.parametrize(("decimal", "american"), [(2.0, 100), (2.5, 150), (1.5, -200)])
def test_decimal_to_american_known_values(decimal: float, american: int) -> None:
    assert decimal_to_american(decimal) == pytest.approx(american, abs=1e-9)


@pytest.mark.parametrize("american", [-10_000, -250, -110, -101, 100, 101, 110, 150, 999, 25_000])
def test_american_decimal_round_trip(american: int) -> None:
    back = decimal_to_american(american_to_decimal(american))
    assert back == pytest.approx(american, abs=1e-9)
    assert round(back) == american


@pytest.mark.parametrize("bad", [0, 50, -99, 99.9, float("nan"), float("inf")])
def test_american_to_decimal_rejects_impossible_price(bad: float) -> None:
    with pytest.raises(ValueError):
        american_to_decimal(bad)


@pytest.mark.parametrize("bad", [1.0, 0.5, -2.0, float("nan")])
def test_decimal_to_american_rejects_decimal_at_or_below_one(bad: float) -> None:
    with pytest.raises(ValueError):
        decimal_to_american(bad)


def test_implied_probability_known_values() -> None:
    assert odds.implied_probability(100) == pytest.approx(0.5)
    assert odds.implied_probability(-110) == pytest.approx(110 / 210)
    assert odds.implied_probability(150) == pytest.approx(0.4)


def test_array_variants_match_scalars_and_propagate_nan() -> None:
    prices = np.array([-110.0, 150.0, np.nan, 100.0, -250.0])
    dec = odds.american_to_decimal_array(prices)
    assert np.isnan(dec[2])
    expected = [american_to_decimal(p) for p in (-110, 150, 100, -250)]
    np.testing.assert_allclose(dec[[0, 1, 3, 4]], expected)
    np.testing.assert_allclose(odds.implied_probability_array(prices)[[0, 1]], 1 / dec[[0, 1]])
    back = odds.decimal_to_american_array(dec)
    assert np.isnan(back[2])
    np.testing.assert_allclose(back[[0, 1, 3, 4]], [-110, 150, 100, -250])


def test_array_variant_raises_or_masks_impossible_prices() -> None:
    prices = np.array([-110.0, 50.0])
    with pytest.raises(ValueError):
        odds.american_to_decimal_array(prices)
    masked = odds.american_to_decimal_array(prices, invalid="nan")
    assert np.isnan(masked[1]) and masked[0] == pytest.approx(1.0 + 100 / 110)
    with pytest.raises(ValueError):
        odds.decimal_to_american_array(np.array([2.0, 1.0]))


def test_array_variant_accepts_pandas_nullable_ints() -> None:
    prices = pd.Series([-110, None, 120], dtype="Int64")
    dec = odds.american_to_decimal_array(prices)
    assert np.isnan(dec[1]) and dec[2] == pytest.approx(2.2)


@pytest.mark.parametrize("method", METHODS)
def test_devig_sums_to_one_for_two_way_market(method: str) -> None:
    probs = [odds.implied_probability(-150), odds.implied_probability(130)]
    fair = odds.devig(probs, method)
    assert fair.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all((fair > 0) & (fair < 1))


def test_devig_even_market_gives_one_half_for_every_method() -> None:
    probs = [odds.implied_probability(-110)] * 2
    for method in METHODS:
        np.testing.assert_allclose(odds.devig(probs, method), [0.5, 0.5], atol=1e-12)


def test_devig_proportional_known_values() -> None:
    np.testing.assert_allclose(odds.devig_proportional([0.6, 0.5]), [0.6 / 1.1, 0.5 / 1.1])


def test_devig_power_solves_for_exponent() -> None:
    probs = np.array([0.6, 0.5])
    fair = odds.devig_power(probs)
    k = np.log(fair[0]) / np.log(probs[0])
    assert np.log(fair[1]) / np.log(probs[1]) == pytest.approx(k, rel=1e-9)
    assert k > 1.0  # an overround market needs k > 1 to shrink the probabilities


def test_devig_shin_two_way_equals_additive_closed_form() -> None:
    # For two outcomes Shin's model reduces to removing half the margin from each side.
    probs = np.array([0.6, 0.5])
    np.testing.assert_allclose(odds.devig_shin(probs), [0.55, 0.45], atol=1e-12)


@pytest.mark.parametrize(("fav", "dog"), [(-150, 130), (-300, 250), (-1000, 700)])
def test_shin_and_power_favour_the_favourite_more_than_proportional(fav: int, dog: int) -> None:
    probs = [odds.implied_probability(fav), odds.implied_probability(dog)]
    proportional = odds.devig_proportional(probs)[0]
    assert odds.devig_shin(probs)[0] > proportional
    assert odds.devig_power(probs)[0] > proportional


def test_devig_handles_underround_market() -> None:
    probs = [0.45, 0.5]  # sums to 0.95: an arbitrage across books, still must normalise
    for method in METHODS:
        fair = odds.devig(probs, method)
        assert fair.sum() == pytest.approx(1.0, abs=1e-9)
        assert fair[1] > fair[0]


@pytest.mark.parametrize("bad", [[0.5], [0.5, 0.0], [0.5, 1.0], [0.5, float("nan")], [[0.5, 0.5]]])
def test_devig_rejects_invalid_market(bad: list) -> None:
    for method in METHODS:
        with pytest.raises(ValueError):
            odds.devig(bad, method)


def test_devig_rejects_unknown_method() -> None:
    with pytest.raises(ValueError):
        odds.devig([0.55, 0.5], "multiplicative")
    with pytest.raises(ValueError):
        odds.devig_two_way(np.array([-110.0]), np.array([-110.0]), method="nope")


def test_default_devig_method_is_shin() -> None:
    assert odds.DEFAULT_DEVIG_METHOD == "shin"


@given(prices=st.lists(american_prices, min_size=2, max_size=2))
def test_devig_two_way_property_sums_to_one(prices: list[int]) -> None:
    probs = [odds.implied_probability(p) for p in prices]
    for method in METHODS:
        fair = odds.devig(probs, method)
        assert abs(fair.sum() - 1.0) < 1e-9
        assert np.all((fair > 0) & (fair < 1))


@given(prices=st.lists(american_prices, min_size=3, max_size=3))
def test_devig_three_way_property_sums_to_one(prices: list[int]) -> None:
    probs = [odds.implied_probability(p) for p in prices]
    for method in METHODS:
        fair = odds.devig(probs, method)
        assert abs(fair.sum() - 1.0) < 1e-9
        assert np.all((fair > 0) & (fair < 1))


@given(price_a=american_prices, price_b=american_prices)
def test_devig_two_way_vectorised_matches_scalar(price_a: int, price_b: int) -> None:
    probs = [odds.implied_probability(price_a), odds.implied_probability(price_b)]
    for method in METHODS:
        vectorised = odds.devig_two_way(np.array([price_a]), np.array([price_b]), method)
        assert vectorised[0] == pytest.approx(odds.devig(probs, method)[0], abs=1e-9)


def test_devig_two_way_nan_where_price_missing_or_invalid() -> None:
    price_a = np.array([-130.0, np.nan, -120.0, 110.0])
    price_b = np.array([110.0, 110.0, 50.0, -130.0])
    for method in METHODS:
        fair = odds.devig_two_way(price_a, price_b, method)
        assert np.isnan(fair[1]) and np.isnan(fair[2])
        assert 0.5 < fair[0] < 1.0 and 0.0 < fair[3] < 0.5


def test_devig_two_way_is_fast_on_a_season() -> None:
    rng = np.random.default_rng(7)
    n_rows = 25_000
    magnitude = rng.integers(100, 400, n_rows).astype(float)
    price_a = np.where(rng.random(n_rows) < 0.5, -magnitude, magnitude)
    price_b = -price_a - np.sign(price_a) * 20
    for method in METHODS:
        started = time.perf_counter()
        fair = odds.devig_two_way(price_a, price_b, method)
        elapsed = time.perf_counter() - started
        assert not np.isnan(fair).any()
        assert elapsed < 0.5, f"{method} took {elapsed:.3f}s"


def test_overround_of_minus_110_pair() -> None:
    result = odds.overround(np.array([-110.0, np.nan]), np.array([-110.0, 100.0]))
    assert result[0] == pytest.approx(2 * 110 / 210 - 1)
    assert np.isnan(result[1])
