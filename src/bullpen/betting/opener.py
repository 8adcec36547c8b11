"""Bet the opener: take the opening price where the closing-line model expects the market to move.

For each game the closing-line model predicts the vig-free closing home probability. The side
the market is expected to move towards is the side whose predicted closing probability exceeds
its vig-free opening probability. It is bet when that predicted move clears a threshold (in
probability points) and the opening price pays more than the predicted close says the side is
worth (decimal price * predicted closing probability > 1); the stake is fractional Kelly with the
predicted closing probability, capped per bet and per day. Settlement, CLV and EV at close are
the backtest's (bullpen.betting.backtest), so the strategy and the model backtest share one path.

The threshold and the Kelly multiplier are chosen walk-forward: on out-of-sample predictions of
earlier seasons only (`choose_params`), never on the season being scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bullpen.betting.backtest import BacktestConfig, BacktestResult, run_backtest
from bullpen.betting.metrics import BetSummary, summarise_bets
from bullpen.features.odds import american_to_decimal_array

THRESHOLDS: tuple[float, ...] = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04)
KELLY_MULTIPLIERS: tuple[float, ...] = (0.1, 0.25, 0.5)
# A threshold no predicted move reaches: the strategy sits the season out.
ABSTAIN = 1.0
# Fewer bets than this on the selection seasons says nothing about a threshold.
MIN_SELECTION_BETS = 50
# Model-version tags that carry the settings chosen for a closing-line champion.
THRESHOLD_TAG = "bullpen.opener.threshold"
KELLY_TAG = "bullpen.opener.kelly_multiplier"
WHY_TAG = "bullpen.opener.why"


@dataclass(frozen=True)
class OpenerParams:
    threshold: float = 0.02  # predicted move (probability points) needed to bet
    kelly_multiplier: float = 0.25
    max_stake_fraction: float = 0.02
    max_day_exposure: float = 0.2
    starting_bankroll: float = 100.0
    devig_method: str = "shin"

    def as_tags(self, why: str) -> dict[str, str]:
        return {
            THRESHOLD_TAG: repr(self.threshold),
            KELLY_TAG: repr(self.kelly_multiplier),
            WHY_TAG: why[:500],
        }

    @classmethod
    def from_tags(cls, tags: dict[str, str], **overrides: object) -> tuple[OpenerParams, str]:
        """The settings recorded on a model version, or the defaults (and a sentence saying so)."""
        base = cls(**overrides)  # type: ignore[arg-type]
        if THRESHOLD_TAG not in tags or KELLY_TAG not in tags:
            return base, "no settings recorded on the model version: defaults"
        chosen = replace(
            base,
            threshold=float(tags[THRESHOLD_TAG]),
            kelly_multiplier=float(tags[KELLY_TAG]),
        )
        return chosen, tags.get(WHY_TAG, "recorded on the model version")

    def backtest_config(self) -> BacktestConfig:
        return BacktestConfig(
            edge_threshold=self.threshold,
            kelly_multiplier=self.kelly_multiplier,
            max_stake_fraction=self.max_stake_fraction,
            max_day_exposure=self.max_day_exposure,
            starting_bankroll=self.starting_bankroll,
            devig_method=self.devig_method,
        )


def strategy_frame(games: pd.DataFrame) -> pd.DataFrame:
    """The backtest's input: the predicted closing probability plays the model's role."""
    out = games[
        ["game_date", "game_id", "home_open_ml", "away_open_ml", "home_close_ml", "away_close_ml",
         "home_win"]
    ].copy()  # fmt: skip
    out["p_model"] = games["p_close_pred"].to_numpy(float)
    return out


def bet_opener(games: pd.DataFrame, params: OpenerParams) -> BacktestResult:
    """Bets and bankroll over `games` (columns of the feature frame plus p_close_pred)."""
    return run_backtest(strategy_frame(games), params.backtest_config())


def expected_log_growth(
    games: pd.DataFrame, threshold: float, kelly_multiplier: float, cap: float
) -> tuple[float, int]:
    """Mean expected log growth per game if the closing line is the truth, and the bet count.

    Uses each game's own real opening price and vig-free closing probability (a past season's),
    a fixed unit bankroll per bet, so it ranks settings without path dependence.
    """
    from bullpen.betting.kelly import kelly_fraction

    frame = strategy_frame(games)
    p_pred = frame["p_model"].to_numpy(float)
    p_open = games["p_open_home"].to_numpy(float)
    p_close = games["p_close_home"].to_numpy(float)
    dec_home = american_to_decimal_array(frame["home_open_ml"], invalid="nan")
    dec_away = american_to_decimal_array(frame["away_open_ml"], invalid="nan")
    total, bets = 0.0, 0
    for pp, po, pc, dh, da in zip(p_pred, p_open, p_close, dec_home, dec_away, strict=True):
        if not all(math.isfinite(v) for v in (pp, po, pc, dh, da)):
            continue
        move = pp - po
        if abs(move) <= threshold:
            continue
        p_side, p_true, price = (pp, pc, dh) if move > 0 else (1 - pp, 1 - pc, da)
        f = min(kelly_multiplier * kelly_fraction(p_side, price), cap)
        if f <= 0.0:
            continue
        bets += 1
        total += p_true * math.log1p(f * (price - 1.0)) + (1 - p_true) * math.log1p(-f)
    return total, bets


def choose_params(
    selection_games: pd.DataFrame,
    base: OpenerParams,
    thresholds: Sequence[float] = THRESHOLDS,
    multipliers: Sequence[float] = KELLY_MULTIPLIERS,
) -> tuple[OpenerParams, str]:
    """Pick threshold and Kelly multiplier by expected log growth at the close on
    `selection_games` (out-of-sample predictions of seasons before the one to be scored).

    Settings with fewer than MIN_SELECTION_BETS bets are not eligible; with none eligible the
    base parameters stand. When the best setting's growth is not positive the strategy abstains
    (threshold ABSTAIN). Returns the parameters and a sentence saying why.
    """
    best: tuple[float, float, float, int] | None = None
    for threshold in thresholds:
        for multiplier in multipliers:
            growth, n = expected_log_growth(
                selection_games, threshold, multiplier, base.max_stake_fraction
            )
            if n < MIN_SELECTION_BETS:
                continue
            if best is None or growth > best[0]:
                best = (growth, threshold, multiplier, n)
    if best is None:
        return base, f"fewer than {MIN_SELECTION_BETS} selection bets at every setting: defaults"
    growth, threshold, multiplier, n = best
    if growth <= 0.0:
        # Even the best setting lost at the close on the selection seasons: expect no edge.
        return replace(base, threshold=ABSTAIN), (
            f"no setting grew the bankroll at the close on the selection seasons (best "
            f"{growth:+.4f} over {n} bets): no bets"
        )
    why = (
        f"threshold {threshold:.3f}, Kelly x{multiplier} maximised expected log growth at the "
        f"close ({growth:+.4f} over {n} selection bets)"
    )
    return replace(base, threshold=threshold, kelly_multiplier=multiplier), why


@dataclass
class SeasonBets:
    season: int
    params: OpenerParams
    why: str
    r2_move: float
    n_games: int
    result: BacktestResult
    summary: BetSummary


def season_bets(
    season: int,
    games: pd.DataFrame,
    r2_move: float,
    params: OpenerParams,
    why: str = "given",
) -> SeasonBets:
    result = bet_opener(games, params)
    summary = summarise_bets(result.bets, params.starting_bankroll)
    return SeasonBets(season, params, why, r2_move, len(games), result, summary)


def pooled_summary(seasons: Sequence[SeasonBets]) -> BetSummary:
    """Every season's bets together (each season starts its own bankroll; drawdown is the worst
    season's)."""
    frames = [s.result.bets for s in seasons if len(s.result.bets)]
    if not frames:
        return summarise_bets(seasons[0].result.bets, seasons[0].params.starting_bankroll)
    bets = pd.concat(frames, ignore_index=True)
    summary = summarise_bets(bets, seasons[0].params.starting_bankroll)
    worst = max(s.summary.max_drawdown for s in seasons)
    return replace(summary, max_drawdown=float(np.nan_to_num(worst)))
