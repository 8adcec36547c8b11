"""Exact price conversions for stored prices (bullpen.prices), and that they agree with the
float ones wherever the float result is not a rounding tie."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bullpen.prices import (
    american_to_decimal,
    american_to_decimal_exact,
    decimal_to_american_exact,
)


@pytest.mark.parametrize(
    ("american", "decimal"),
    [(100, "2.0000"), (-100, "2.0000"), (150, "2.5000"), (-110, "1.9091"), (-164, "1.6098")],
)
def test_american_to_decimal_exact(american: int, decimal: str) -> None:
    assert american_to_decimal_exact(american) == Decimal(decimal)


@pytest.mark.parametrize(
    ("decimal", "american"),
    [("2.02", 102), ("1.82", -122), ("2.0", 100), ("1.5", -200), ("11.0", 1000)],
)
def test_decimal_to_american_exact(decimal: str, american: int) -> None:
    assert decimal_to_american_exact(Decimal(decimal)) == american


@pytest.mark.parametrize("american", [-100_000, -164, -110, -101, 100, 101, 150, 99_999])
def test_exact_and_float_conversions_agree_to_four_places(american: int) -> None:
    exact = american_to_decimal_exact(american)
    assert abs(float(exact) - american_to_decimal(american)) <= 0.00005


def test_exact_conversion_rounds_ties_half_even_where_floats_do_not() -> None:
    # 2.135 is 113.5 American exactly; in binary floating point it is 113.49999999999997.
    assert decimal_to_american_exact(Decimal("2.135")) == 114
    assert decimal_to_american_exact(Decimal("2.225")) == 122
