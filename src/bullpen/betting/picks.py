"""What a pick is and the pure rules the ledger (bullpen.betting.ledger) applies to it:
fractional-Kelly stake with per-bet and per-day caps, the result of a game for a side, P&L at the
exact American payout, closing-line value. No database here, so every rule is unit-tested alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from bullpen.betting.kelly import stake as kelly_stake
from bullpen.betting.kelly import within_day_room
from bullpen.prices import american_to_decimal

SIDES = ("home", "away")
SETTLED_STATES = ("won", "lost", "push", "void")
# MLB Stats API statuses (mlb_games.status) that void a pick: the game was not played as listed.
VOID_STATUSES = ("postponed", "suspended", "cancelled")
# A game row the live collector created whose MLB listing moved to another date (postponed and
# rescheduled) keeps no mlb_games row: bullpen.betting.ledger.load_outcomes reports it with this
# status.
MOVED = "moved"


@dataclass(frozen=True)
class StakePolicy:
    """Fractional Kelly on a bankroll with exposure caps (fractions of the current bankroll)."""

    starting_bankroll: float = 1000.0
    kelly_multiplier: float = 0.25
    max_stake_fraction: float = 0.02  # per bet
    max_day_exposure: float = 0.2  # all picks on one game date together

    def __post_init__(self) -> None:
        if not (math.isfinite(self.starting_bankroll) and self.starting_bankroll > 0):
            raise ValueError("starting_bankroll must be > 0")
        if self.kelly_multiplier < 0:
            raise ValueError("kelly_multiplier must be >= 0")
        if not 0 <= self.max_stake_fraction <= 1:
            raise ValueError("max_stake_fraction must be in [0, 1]")
        if not 0 < self.max_day_exposure <= 1:
            raise ValueError("max_day_exposure must be in (0, 1]")


@dataclass(frozen=True)
class Pick:
    """A strategy's decision to bet one side of a game at one book's price."""

    game_id: int
    side: str  # home | away
    book: str
    price_american: int
    quoted_at: datetime  # the book's last_update of this price
    p_home: float  # model's probabilities
    p_away: float
    consensus_home: float  # vig-free consensus at decision time
    consensus_method: str
    model_version: str
    strategy_version: str
    reason: str

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be home or away, got {self.side!r}")
        american_to_decimal(self.price_american)  # raises on an impossible price
        for name in ("p_home", "p_away", "consensus_home"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability, got {value!r}")

    @property
    def p_side(self) -> float:
        return self.p_home if self.side == "home" else self.p_away

    @property
    def price_decimal(self) -> float:
        return american_to_decimal(self.price_american)


@dataclass(frozen=True)
class PickWrite:
    """What `record_pick` did: opened, price_moved, unchanged, settled (left alone), no_stake."""

    action: str
    bet_id: int | None
    stake: float
    reason: str = ""


@dataclass(frozen=True)
class GameOutcome:
    game_id: int
    status: str  # final | scheduled | live | postponed | suspended | cancelled | moved | unknown
    home_score: int | None = None
    away_score: int | None = None


@dataclass(frozen=True)
class ClosingLine:
    fair_home: float  # vig-free closing consensus, home side
    method: str


@dataclass(frozen=True)
class SettleSummary:
    settled: int
    by_state: dict[str, int]
    profit: float
    still_open: int  # picks on these games whose result is not known yet


# --- pure decisions ----------------------------------------------------------------------------


def size_stake(
    p_side: float, price_american: int, bankroll: float, day_staked: float, policy: StakePolicy
) -> float:
    """Fractional-Kelly stake (bullpen.betting.kelly), capped per bet and by the day's room.

    Rounded down to cents, so the capped total never exceeds the day's limit.
    """
    wanted = kelly_stake(
        bankroll,
        p_side,
        american_to_decimal(price_american),
        policy.kelly_multiplier,
        policy.max_stake_fraction,
    )
    return within_day_room(wanted, bankroll, policy.max_day_exposure, day_staked)


def decide_result(
    side: str, status: str, home_score: int | None, away_score: int | None
) -> tuple[str, str] | None:
    """(state, reason) for a pick on `side`, or None while the game is not decided.

    Final games settle on the score (a tie is a push); postponed, suspended, cancelled or moved
    games void the pick.
    """
    if status in VOID_STATUSES or status == MOVED:
        what = "moved to another date" if status == MOVED else status
        return "void", f"game {what}"
    if status != "final":
        return None
    if home_score is None or away_score is None:
        return None
    if home_score == away_score:
        return "push", f"tied {home_score}-{away_score}"
    home_won = home_score > away_score
    won = home_won if side == "home" else not home_won
    return ("won" if won else "lost"), f"final {away_score}-{home_score} (away-home)"


def profit_of(state: str, stake: float, price_american: int) -> float:
    """Profit in bankroll units: the exact American payout, not the 4-place decimal."""
    if state == "won":
        gain = price_american / 100 if price_american > 0 else 100 / -price_american
        return round(stake * gain, 4)
    if state == "lost":
        return -stake
    if state in ("push", "void"):
        return 0.0
    raise ValueError(f"not a settled state: {state!r}")


def closing_value(
    side: str, price_american: int, consensus_home: float, close_home: float
) -> tuple[float, float]:
    """(CLV in probability points, EV at close) of a pick, as bullpen.betting.metrics defines
    them: vig-free close minus vig-free consensus at decision, and price * close - 1, both for
    the side bet."""
    close_side = close_home if side == "home" else 1.0 - close_home
    decided_side = consensus_home if side == "home" else 1.0 - consensus_home
    return close_side - decided_side, american_to_decimal(price_american) * close_side - 1.0


def closing_lines(consensus: pd.DataFrame) -> dict[int, ClosingLine]:
    """{game_id: ClosingLine} from bullpen.market.lines consensus rows of the close phase.

    The method records both the consensus rule and the devig method ("sharp:pinnacle/shin").
    """
    close = consensus[(consensus["phase"] == "close") & consensus["game_id"].notna()]
    return {
        int(row.game_id): ClosingLine(float(row.fair_home), f"{row.method}/{row.devig_method}")
        for row in close.itertuples()
    }
