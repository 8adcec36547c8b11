"""Unit tests for Kelly sizing in bullpen.betting.kelly."""

from __future__ import annotations

import pytest

from bullpen.betting.kelly import kelly_fraction, stake


@pytest.mark.parametrize(
    ("p", "decimal_odds", "expected"),
    [
        (0.55, 2.0, 0.10),
        (0.60, 2.0, 0.20),
        (0.50, 3.0, 0.25),  # b=2: (2*0.5 - 0.5) / 2
        (0.50, 2.0, 0.0),  # fair coin at evens: no edge
        (0.40, 2.0, 0.0),  # negative edge floors at zero
        (1.00, 1.5, 1.0),
        (0.00, 5.0, 0.0),
    ],
)
def test_kelly_fraction_known_values(p: float, decimal_odds: float, expected: float) -> None:
    assert kelly_fraction(p, decimal_odds) == pytest.approx(expected)


@pytest.mark.parametrize(("p", "decimal_odds"), [(-0.1, 2.0), (1.1, 2.0), (0.5, 1.0), (0.5, 0.5)])
def test_kelly_fraction_rejects_invalid_inputs(p: float, decimal_odds: float) -> None:
    with pytest.raises(ValueError):
        kelly_fraction(p, decimal_odds)


def test_stake_applies_multiplier() -> None:
    assert stake(100.0, 0.55, 2.0, multiplier=0.25, cap=1.0) == pytest.approx(2.5)


def test_stake_applies_cap() -> None:
    assert stake(100.0, 0.60, 2.0, multiplier=1.0, cap=0.03) == pytest.approx(3.0)


def test_stake_is_zero_without_edge_or_bankroll() -> None:
    assert stake(100.0, 0.45, 2.0, multiplier=0.25, cap=0.03) == 0.0
    assert stake(0.0, 0.60, 2.0, multiplier=0.25, cap=0.03) == 0.0
    assert stake(-5.0, 0.60, 2.0, multiplier=0.25, cap=0.03) == 0.0


@pytest.mark.parametrize(("multiplier", "cap"), [(-0.1, 0.03), (0.25, -0.01), (0.25, 1.5)])
def test_stake_rejects_invalid_settings(multiplier: float, cap: float) -> None:
    with pytest.raises(ValueError):
        stake(100.0, 0.6, 2.0, multiplier=multiplier, cap=cap)
