"""Forward picks written and settled as recommend-bets and settle-bets store them, for the tests
that judge a champion on its stored predictions."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from bullpen.betting import ledger
from bullpen.betting.picks import ClosingLine, Pick, SettleSummary, StakePolicy


def record_and_settle(
    db: psycopg.Connection, games: pd.DataFrame, p_home: np.ndarray, sides: np.ndarray, *,
    strategy: str, model_version: str, decided: datetime, settled: datetime,
) -> SettleSummary:  # fmt: skip
    """One pick per game of `games` (columns game_id, p_open_home, p_close_home) with the stored
    prediction `p_home` on `sides`, opened at `decided`, settled at `settled` against the
    game's result and its vig-free close."""
    policy = StakePolicy(max_stake_fraction=0.001, max_day_exposure=1.0)
    for game, p, side in zip(games.itertuples(), p_home, sides, strict=True):
        pick = Pick(
            game_id=int(game.game_id), side=str(side), book="pinnacle", price_american=100,
            quoted_at=decided, p_home=float(p), p_away=float(1 - p),
            consensus_home=float(game.p_open_home), consensus_method="sbr/shin",
            model_version=model_version, strategy_version=strategy,
            reason="test: a forward pick",
        )  # fmt: skip
        assert ledger.record_pick(db, pick, policy, at=decided).action == "opened"
    ids = games["game_id"].astype(int).tolist()
    closing = {
        int(g.game_id): ClosingLine(float(g.p_close_home), "sbr/shin") for g in games.itertuples()
    }
    return ledger.settle_bets(db, ledger.load_outcomes(db, ids), closing, at=settled)
