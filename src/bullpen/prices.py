"""Price conversions, American <-> decimal: the one place for this arithmetic.

Below every other layer (like `teams.py`), so the collectors and the model code share it without
an upward import. Two flavours of the same rule:
  float  for modelling (`features.odds` builds its implied probabilities and arrays on it);
  exact  for prices that are stored: Decimal arithmetic rounded half-even, so a stored price
         never depends on binary rounding. Through floats, 4,730 of the ten million decimal
         prices 1.001..1001.0000 (4 places) would round to a different American price (ties
         such as 2.135 -> 113.4999... instead of 113.5 -> 114).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

_CENT = Decimal("0.0001")
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def american_to_decimal(price: float) -> float:
    """Convert an American price (-130, +120) to decimal odds (1.769..., 2.2).

    Raises:
        ValueError: if the price is not finite or |price| < 100.
    """
    value = float(price)
    if not math.isfinite(value) or abs(value) < 100:
        raise ValueError(f"impossible American price: {price!r} (need |price| >= 100)")
    return 1.0 + value / 100.0 if value > 0 else 1.0 + 100.0 / -value


def decimal_to_american(decimal: float) -> float:
    """Convert decimal odds to an American price; 2.0 maps to +100.

    Returns a float (1.909... gives -110.00000000000001); round at the edge if an int is needed.

    Raises:
        ValueError: if the decimal price is not finite or <= 1.
    """
    value = float(decimal)
    if not math.isfinite(value) or value <= 1.0:
        raise ValueError(f"impossible decimal price: {decimal!r} (need > 1)")
    return (value - 1.0) * 100.0 if value >= 2.0 else -100.0 / (value - 1.0)


def american_to_decimal_exact(price: int) -> Decimal:
    """+150 → 2.5, -110 → 1.9091 (4 places, half-even); the caller checks |price| >= 100."""
    gain = Decimal(price) / _HUNDRED if price > 0 else _HUNDRED / Decimal(-price)
    return (_ONE + gain).quantize(_CENT, ROUND_HALF_EVEN)


def decimal_to_american_exact(price: Decimal) -> int:
    """2.02 → +102, 1.82 → -122 (nearest integer, half-even); the caller checks price > 1."""
    value = (price - _ONE) * _HUNDRED if price >= 2 else -_HUNDRED / (price - _ONE)
    return int(value.quantize(_ONE, ROUND_HALF_EVEN))
