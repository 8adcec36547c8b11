"""Walk-forward moneyline backtest: bet model edges at opening prices; track CLV and bankroll."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bullpen.betting.kelly import stake, within_day_room
from bullpen.features.odds import (
    DEFAULT_DEVIG_METHOD,
    DEVIG_METHODS,
    american_to_decimal_array,
    devig_two_way,
)

REQUIRED_COLUMNS: tuple[str, ...] = (
    "game_date",
    "game_id",
    "p_model",
    "home_open_ml",
    "away_open_ml",
    "home_close_ml",
    "away_close_ml",
    "home_win",
)
BET_COLUMNS: tuple[str, ...] = (
    "game_id",
    "game_date",
    "side",
    "p_model",
    "p_open_fair",
    "edge",
    "price_decimal",
    "stake",
    "profit",
    "clv",
    "clv_pp",
    "ev_close",
    "bankroll_after",
)


@dataclass(frozen=True)
class BacktestConfig:
    """Betting rule and bankroll settings."""

    edge_threshold: float = 0.03
    kelly_multiplier: float = 0.25
    max_stake_fraction: float = 0.03
    # Most of the start-of-day bankroll that one date's bets may stake together.
    max_day_exposure: float = 1.0
    starting_bankroll: float = 100.0
    devig_method: str = DEFAULT_DEVIG_METHOD

    def __post_init__(self) -> None:
        if self.edge_threshold < 0.0:
            raise ValueError("edge_threshold must be >= 0")
        if self.kelly_multiplier < 0.0:
            raise ValueError("kelly_multiplier must be >= 0")
        if not 0.0 <= self.max_stake_fraction <= 1.0:
            raise ValueError("max_stake_fraction must be in [0, 1]")
        if not 0.0 < self.max_day_exposure <= 1.0:
            raise ValueError("max_day_exposure must be in (0, 1]")
        if self.starting_bankroll <= 0.0:
            raise ValueError("starting_bankroll must be > 0")
        if self.devig_method not in DEVIG_METHODS:
            raise ValueError(f"devig_method must be one of {DEVIG_METHODS}")


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Outcome of `run_backtest`.

    `roi` is 0.0 and `mean_clv` is NaN when no bet was placed (an average of nothing is undefined,
    and NaN keeps it from reading as "break-even CLV"). `max_drawdown` is the largest fall from a
    running peak of the end-of-day bankroll (starting bankroll included), as a fraction of that
    peak. `bankroll_curve` has one point per date with at least one eligible game.
    """

    bets: pd.DataFrame
    n_bets: int
    total_staked: float
    profit: float
    roi: float
    mean_clv: float
    final_bankroll: float
    max_drawdown: float
    bankroll_curve: pd.Series
    n_skipped: int
    starting_bankroll: float


def run_backtest(games: pd.DataFrame, config: BacktestConfig) -> BacktestResult:
    """Bet the side whose model edge over the vig-free opening line exceeds the threshold.

    Games are settled in date order. All stakes of one date are sized from the bankroll at the
    start of that date, because every bet is placed before any of that day's results are known.
    A day's bets share `max_day_exposure` of that bankroll first come, first served in game id
    order (`kelly.within_day_room`, the live ledger's rule; with the defaults, the whole
    bankroll). Stakes are whole cents, rounded down; a bet whose stake rounds to nothing is not
    placed.
    Games with a missing or impossible price (open or close), model probability, result or date
    are skipped and counted in `n_skipped`. Per bet: `ev_close` (also `clv`, its older name) =
    opening decimal price * vig-free closing probability of the bet side - 1; `clv_pp` =
    vig-free closing minus vig-free opening probability of the bet side (both defined in
    bullpen.betting.metrics).

    Raises:
        ValueError: if a required column is missing.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in games.columns]
    if missing:
        raise ValueError(f"games is missing columns: {missing}")

    eligible = _eligible_games(games, config.devig_method)
    candidates = _pick_sides(eligible, config.edge_threshold)

    by_day = dict(iter(candidates.groupby("game_date", sort=False)))
    bankroll = config.starting_bankroll
    bet_frames: list[pd.DataFrame] = []
    curve: dict[pd.Timestamp, float] = {}
    for day in pd.Index(eligible["game_date"]).unique().sort_values():
        if day in by_day:
            day_bets = _settle_day(by_day[day].copy(), bankroll, config)
            bankroll = float(day_bets["bankroll_after"].iloc[-1])
            bet_frames.append(day_bets[day_bets["stake"] > 0.0])
        curve[day] = bankroll

    bets = (
        pd.concat(bet_frames, ignore_index=True)[list(BET_COLUMNS)]
        if bet_frames
        else pd.DataFrame({c: pd.Series(dtype=_bet_dtype(c)) for c in BET_COLUMNS})
    )
    bankroll_curve = pd.Series(curve, name="bankroll", dtype=np.float64)
    bankroll_curve.index.name = "game_date"
    total_staked = float(bets["stake"].sum())
    profit = float(bets["profit"].sum())
    return BacktestResult(
        bets=bets,
        n_bets=len(bets),
        total_staked=total_staked,
        profit=profit,
        roi=profit / total_staked if total_staked > 0.0 else 0.0,
        mean_clv=float(bets["clv"].mean()) if len(bets) else float("nan"),
        final_bankroll=bankroll,
        max_drawdown=_max_drawdown(config.starting_bankroll, bankroll_curve),
        bankroll_curve=bankroll_curve,
        n_skipped=len(games) - len(eligible),
        starting_bankroll=config.starting_bankroll,
    )


def _eligible_games(games: pd.DataFrame, method: str) -> pd.DataFrame:
    """Games with every input valid, plus decimal prices and vig-free home probabilities."""
    p_model = pd.to_numeric(games["p_model"], errors="coerce").astype(float)
    home_win = pd.to_numeric(games["home_win"], errors="coerce").astype(float)
    # Normalised so that timestamps with a time of day still group by calendar date.
    game_date = pd.to_datetime(games["game_date"]).dt.normalize()

    frame = pd.DataFrame(
        {
            "game_date": game_date,
            "game_id": games["game_id"],
            "p_model": p_model,
            "home_win": home_win,
            "dec_home": american_to_decimal_array(games["home_open_ml"], invalid="nan"),
            "dec_away": american_to_decimal_array(games["away_open_ml"], invalid="nan"),
            "p_open_home": devig_two_way(games["home_open_ml"], games["away_open_ml"], method),
            "p_close_home": devig_two_way(games["home_close_ml"], games["away_close_ml"], method),
        },
        index=games.index,
    )
    # devig_two_way is NaN when either price of a pair is missing or impossible.
    valid = (
        frame["game_date"].notna()
        & frame["p_model"].between(0.0, 1.0)
        & frame["home_win"].isin([0.0, 1.0])
        & frame["p_open_home"].notna()
        & frame["p_close_home"].notna()
    )
    return frame[valid].sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)


def _pick_sides(eligible: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """One candidate bet per game whose better side's edge exceeds the threshold."""
    edge_home = eligible["p_model"] - eligible["p_open_home"]
    edge_away = (1.0 - eligible["p_model"]) - (1.0 - eligible["p_open_home"])
    home = edge_home >= edge_away
    edge = np.where(home, edge_home, edge_away)
    picked = pd.DataFrame(
        {
            "game_id": eligible["game_id"],
            "game_date": eligible["game_date"],
            "side": np.where(home, "home", "away"),
            "p_model": np.where(home, eligible["p_model"], 1.0 - eligible["p_model"]),
            "p_open_fair": np.where(home, eligible["p_open_home"], 1.0 - eligible["p_open_home"]),
            "edge": edge,
            "price_decimal": np.where(home, eligible["dec_home"], eligible["dec_away"]),
            "p_close_fair": np.where(
                home, eligible["p_close_home"], 1.0 - eligible["p_close_home"]
            ),
            "won": np.where(home, eligible["home_win"] == 1.0, eligible["home_win"] == 0.0),
        }
    )
    return picked[edge > threshold]


def _settle_day(day_bets: pd.DataFrame, bankroll: float, config: BacktestConfig) -> pd.DataFrame:
    """Size every bet of one date from the start-of-day bankroll, each within what the bets
    before it left of the day's limit, then settle them in order."""
    day_bets = day_bets.sort_values("game_id")
    sized: list[float] = []
    for p, price in zip(day_bets["p_model"], day_bets["price_decimal"], strict=True):
        wanted = stake(bankroll, p, price, config.kelly_multiplier, config.max_stake_fraction)
        sized.append(within_day_room(wanted, bankroll, config.max_day_exposure, sum(sized)))
    stakes = np.array(sized)
    price = day_bets["price_decimal"].to_numpy()
    profit = np.where(day_bets["won"].to_numpy(), stakes * (price - 1.0), -stakes)
    day_bets["stake"] = stakes
    day_bets["profit"] = profit
    day_bets["clv"] = price * day_bets["p_close_fair"].to_numpy() - 1.0
    day_bets["ev_close"] = day_bets["clv"]
    day_bets["clv_pp"] = day_bets["p_close_fair"] - day_bets["p_open_fair"]
    day_bets["bankroll_after"] = bankroll + np.cumsum(profit)
    return day_bets


def _max_drawdown(start: float, curve: pd.Series) -> float:
    values = np.concatenate([[start], curve.to_numpy(dtype=float)])
    peaks = np.maximum.accumulate(values)
    return float(np.max((peaks - values) / peaks))


def _bet_dtype(column: str) -> str:
    if column == "game_date":
        return "datetime64[ns]"
    return "object" if column in ("game_id", "side") else "float64"
