"""Kelly criterion bet sizing for a single binary bet at decimal odds."""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

ArrayLike = TypeVar("ArrayLike", float, np.ndarray)


def kelly_fraction(p: float, decimal_odds: float) -> float:
    """Full-Kelly fraction of bankroll to stake: p - (1 - p) / (decimal_odds - 1), floored at 0.

    Raises:
        ValueError: if p is outside [0, 1] or decimal_odds is not > 1.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    if not (math.isfinite(decimal_odds) and decimal_odds > 1.0):
        raise ValueError(f"decimal_odds must be finite and > 1, got {decimal_odds!r}")
    return max(0.0, p - (1.0 - p) / (decimal_odds - 1.0))


def stake(bankroll: float, p: float, decimal_odds: float, multiplier: float, cap: float) -> float:
    """Fractional-Kelly stake in bankroll units.

    Args:
        bankroll: current bankroll; a non-positive bankroll stakes nothing.
        p: probability that the bet wins.
        decimal_odds: the price actually available (with vig).
        multiplier: Kelly multiplier, e.g. 0.25 for quarter Kelly.
        cap: maximum stake as a fraction of bankroll.

    Raises:
        ValueError: if multiplier < 0 or cap is outside [0, 1] (plus `kelly_fraction`'s checks).
    """
    if multiplier < 0.0:
        raise ValueError(f"multiplier must be >= 0, got {multiplier!r}")
    if not 0.0 <= cap <= 1.0:
        raise ValueError(f"cap must be a fraction in [0, 1], got {cap!r}")
    fraction = min(multiplier * kelly_fraction(p, decimal_odds), cap)
    return max(bankroll, 0.0) * fraction


MONEY_PLACES = 2  # stakes are whole cents of the bankroll unit, as a book takes them


def whole_cents(amount: ArrayLike) -> ArrayLike:
    """`amount` rounded down to cents (never up: a capped total stays within its cap); the
    backtest and the live ledger stake by this one rule, so a bust bankroll stakes nothing."""
    scale = 10**MONEY_PLACES
    return np.floor(np.asarray(amount, dtype=float) * scale + 1e-9) / scale


def within_day_room(
    wanted: float, bankroll: float, max_day_exposure: float, staked: float
) -> float:
    """`wanted` cut to what is left of the day's exposure limit, in whole cents (rounded down).

    First come, first served: the live ledger and the backtest both give each of a day's bets, in
    decision order, what the bets before it left, because live the later games are not known
    when the first pick is made.
    """
    room = max(bankroll * max_day_exposure - staked, 0.0)
    return float(whole_cents(min(wanted, room)))
