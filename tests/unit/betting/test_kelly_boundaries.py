"""Kelly sizing at its boundaries, and the messages that say which input was wrong."""

from __future__ import annotations

import math

import pytest

from bullpen.betting.kelly import kelly_fraction, stake, within_day_room


def test_zero_multiplier_and_zero_cap_are_allowed_and_stake_nothing() -> None:
    assert stake(100.0, 0.60, 2.0, multiplier=0.0, cap=0.03) == 0.0
    assert stake(100.0, 0.60, 2.0, multiplier=0.25, cap=0.0) == 0.0


def test_full_cap_allows_the_whole_kelly_fraction() -> None:
    assert stake(100.0, 0.60, 2.0, multiplier=1.0, cap=1.0) == pytest.approx(20.0)


def test_kelly_fraction_at_the_edges_of_its_domain() -> None:
    assert kelly_fraction(0.0, 2.0) == 0.0
    assert kelly_fraction(1.0, 2.0) == 1.0
    assert kelly_fraction(0.5, math.nextafter(1.0, 2.0)) == 0.0  # barely above evens-minus


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kelly_fraction(1.5, 2.0), r"p must be a probability in \[0, 1\], got 1.5"),
        (lambda: kelly_fraction(0.5, 1.0), r"decimal_odds must be finite and > 1, got 1.0"),
        (lambda: kelly_fraction(0.5, math.inf), r"decimal_odds must be finite and > 1, got inf"),
        (lambda: stake(1.0, 0.5, 2.0, -0.5, 0.03), r"multiplier must be >= 0, got -0.5"),
        (lambda: stake(1.0, 0.5, 2.0, 0.25, 1.5), r"cap must be a fraction in \[0, 1\], got 1.5"),
    ],
)
def test_invalid_inputs_are_named_in_the_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()  # type: ignore[operator]


def test_the_day_room_at_its_exact_boundaries() -> None:
    # bankroll 100, cap 20 %: 20.00 of room.
    assert within_day_room(5.0, 100.0, 0.2, 15.0) == 5.0  # takes exactly what is left
    assert within_day_room(5.01, 100.0, 0.2, 15.0) == 5.0  # one cent more is cut to the room
    assert within_day_room(5.0, 100.0, 0.2, 20.0) == 0.0  # the room is used up exactly
    assert within_day_room(5.0, 100.0, 0.2, 25.0) == 0.0  # over it (a repriced pick): nothing
    assert within_day_room(0.019, 100.0, 0.2, 0.0) == 0.01  # whole cents, rounded down
