"""settle-bets: settle open picks from results (win, loss, push, void) with P&L, CLV and EV at the
game's closing consensus. Idempotent: settled picks are frozen by the ledger, so a rerun writes
nothing. Runs after every collect-games and on demand."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from prefect import flow

from bullpen import runtime
from bullpen.betting import ledger, picks
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.market.lines import LineSettings, build_lines
from bullpen.market.store import load_h2h_snapshots


@flow(name="settle-bets", log_prints=True)
def settle_bets(now: datetime | None = None) -> dict:
    """Settle every open pick whose game is decided at `now` (default: the current time)."""
    settings = get_settings()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.connect(runtime.database_url(settings)) as conn:
        bets = ledger.load_bets(conn)
        games = sorted({int(g) for g in bets.loc[bets["state"] == "open", "game_id"]})
        if not games:
            print("settle-bets: no open picks")
            return {"games": 0, "settled": 0, "by_state": {}, "profit": 0.0, "still_open": 0}
        outcomes = ledger.load_outcomes(conn, games)
        # The closing consensus by the same devig method the decisions used (market.lines).
        snapshots = load_h2h_snapshots(conn, until=now, game_ids=games)
        lines = build_lines(snapshots, now, LineSettings(devig_method=settings.devig_method))
        closing = picks.closing_lines(lines.consensus)
        summary = ledger.settle_bets(conn, outcomes, closing, at=now)
    result = {"games": len(games), "closing_lines": len(closing), **asdict(summary)}
    print(f"settle-bets: {result}")
    return result


if __name__ == "__main__":
    settle_bets()
