"""The bets ledger in Postgres: record picks (fractional Kelly, per-bet and per-day caps), reprice
them, settle them with P&L and closing-line value. Every change is a `bet_events` row. The rules
themselves (what a pick is, its stake, result, P&L and CLV) are pure, in bullpen.betting.picks.

Idempotency: one pick per (game, market, side, strategy version), the table's natural key. A
rerun with the same price writes nothing; a moved price updates the open pick and appends a
`price_moved` event with before/after; a settled pick is never touched again (a trigger in
migration 0008 refuses it), so settling twice cannot double P&L. Writers take one advisory lock
per transaction, because a stake depends on the bankroll and the day's exposure read just
before it is written.

Bankroll and exposure are per strategy version: starting bankroll + settled profit of that
strategy; the day's exposure is the stake of its non-void picks on games of the same date.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import psycopg

from bullpen.betting.picks import (
    MOVED,
    ClosingLine,
    GameOutcome,
    Pick,
    PickWrite,
    SettleSummary,
    StakePolicy,
    closing_value,
    decide_result,
    profit_of,
    size_stake,
)
from bullpen.prices import american_to_decimal_exact

log = logging.getLogger(__name__)

_LEDGER_LOCK = 0x6270626C


# --- writes ------------------------------------------------------------------------------------

_BET_COLUMNS = (
    "bet_id, game_id, market, side, strategy_version, model_version, book, price_american,"
    " price_decimal, quoted_at, stake, bankroll, p_home, p_away, consensus_home,"
    " consensus_method, reason, state, opened_at, updated_at, settled_at, profit, close_home,"
    " close_method, clv_pp, ev_close, settle_reason"
)


def record_pick(
    conn: psycopg.Connection, pick: Pick, policy: StakePolicy, *, at: datetime
) -> PickWrite:
    """Open the pick, or reprice the open one, in one transaction (see module docstring).

    A new pick whose stake rounds to zero (no Kelly edge at this price, or the day's exposure
    is used up) is not recorded. Only a new book or price reprices an open pick (the same price
    with other probabilities is "unchanged"): it keeps its row, takes the pick's new values, and
    its stake is sized again on the new price with its own old stake left out of the day's
    exposure (it may fall to zero; the event shows it).
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LEDGER_LOCK,))
        existing = cur.execute(
            "SELECT bet_id, state, book, price_american, stake FROM bets"
            " WHERE (game_id, market, side, strategy_version) = (%s, 'h2h', %s, %s)"
            " FOR UPDATE",
            (pick.game_id, pick.side, pick.strategy_version),
        ).fetchone()
        if existing is not None:
            bet_id, state, book, price, old_stake = existing
            old_stake = float(old_stake)
            if state != "open":
                return PickWrite("settled", int(bet_id), old_stake, f"pick is {state}")
            if (book, int(price)) == (pick.book, pick.price_american):
                return PickWrite("unchanged", int(bet_id), old_stake)
        bankroll = _bankroll(cur, pick.strategy_version, policy)
        day_staked = _day_staked(cur, pick, exclude=existing[0] if existing else None)
        stake = size_stake(pick.p_side, pick.price_american, bankroll, day_staked, policy)
        if existing is None:
            if stake <= 0:
                why = "day exposure used up" if day_staked > 0 else "no Kelly edge at this price"
                return PickWrite("no_stake", None, 0.0, why)
            bet_id = _insert_bet(cur, pick, stake, bankroll, at)
            _insert_event(
                cur,
                bet_id,
                "opened",
                None,
                "open",
                pick,
                stake,
                None,
                {"bankroll": bankroll, "day_staked_before": day_staked, "reason": pick.reason},
                at,
            )
            log.info(
                "opened bet %s: game %s %s at %s %+d, stake %.2f",
                bet_id,
                pick.game_id,
                pick.side,
                pick.book,
                pick.price_american,
                stake,
            )
            return PickWrite("opened", bet_id, stake)
        bet_id = int(existing[0])
        _update_price(cur, bet_id, pick, stake, bankroll, at)
        details = {
            "book": [existing[2], pick.book],
            "price_american": [int(existing[3]), pick.price_american],
            "stake": [old_stake, stake],
            "bankroll": bankroll,
            "p_home": pick.p_home,
            "consensus_home": pick.consensus_home,
            "model_version": pick.model_version,
            "reason": pick.reason,
        }
        _insert_event(cur, bet_id, "price_moved", "open", "open", pick, stake, None, details, at)
        return PickWrite("price_moved", bet_id, stake)


def record_picks(
    conn: psycopg.Connection, picks: Sequence[Pick], policy: StakePolicy, *, at: datetime
) -> list[PickWrite]:
    """`record_pick` for each pick in order, each its own transaction: a crash keeps the picks
    already written, and the rerun finds them (unchanged) and writes only the rest."""
    return [record_pick(conn, pick, policy, at=at) for pick in picks]


def settle_bets(
    conn: psycopg.Connection,
    outcomes: Iterable[GameOutcome],
    closing: Mapping[int, ClosingLine],
    *,
    at: datetime,
) -> SettleSummary:
    """Settle the open picks of these games: state, P&L, CLV and EV at the closing consensus.

    A pick whose game is not decided stays open. A void pick gets no CLV (it never ran); a pick
    whose game has no closing line gets NULL CLV. Picks already settled are not read at all.
    """
    by_game = {o.game_id: o for o in outcomes}
    by_state: dict[str, int] = {}
    profit_total = 0.0
    still_open = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LEDGER_LOCK,))
        rows = cur.execute(
            "SELECT bet_id, game_id, side, book, price_american, price_decimal, stake,"
            " consensus_home FROM bets WHERE state = 'open' AND game_id = ANY(%s)"
            " ORDER BY bet_id FOR UPDATE",
            (list(by_game),),
        ).fetchall()
        for bet_id, game_id, side, book, price, price_dec, stake_, consensus in rows:
            outcome = by_game[game_id]
            decided = decide_result(side, outcome.status, outcome.home_score, outcome.away_score)
            if decided is None:
                still_open += 1
                continue
            state, why = decided
            stake = float(stake_)
            profit = profit_of(state, stake, int(price))
            close = closing.get(game_id)
            clv_pp = ev_close = None
            if close is not None and state != "void":
                clv_pp, ev_close = closing_value(side, int(price), consensus, close.fair_home)
            cur.execute(
                "UPDATE bets SET state = %s, settled_at = %s, updated_at = %s, profit = %s,"
                " close_home = %s, close_method = %s, clv_pp = %s, ev_close = %s,"
                " settle_reason = %s WHERE bet_id = %s AND state = 'open'",
                (
                    state,
                    at,
                    at,
                    profit,
                    close.fair_home if close else None,
                    close.method if close else None,
                    clv_pp,
                    ev_close,
                    why,
                    bet_id,
                ),
            )
            details: dict[str, Any] = {
                "reason": why,
                "status": outcome.status,
                "score": [outcome.away_score, outcome.home_score],
                "close_home": close.fair_home if close else None,
                "close_method": close.method if close else None,
                "clv_pp": clv_pp,
                "ev_close": ev_close,
            }
            cur.execute(
                "INSERT INTO bet_events (bet_id, kind, state_before, state_after, book,"
                " price_american, price_decimal, stake, profit, details, at)"
                " VALUES (%s, 'settled', 'open', %s, %s, %s, %s, %s, %s, %s, %s)",
                (bet_id, state, book, price, price_dec, stake, profit, json.dumps(details), at),
            )
            by_state[state] = by_state.get(state, 0) + 1
            profit_total += profit
    summary = SettleSummary(sum(by_state.values()), by_state, round(profit_total, 4), still_open)
    log.info("settled %s", summary)
    return summary


# --- reads -------------------------------------------------------------------------------------


def load_outcomes(conn: psycopg.Connection, game_ids: Iterable[int]) -> list[GameOutcome]:
    """Each game's state for settlement, from its MLB listing and result.

    The MLB listing decides (final, postponed, ...); a game with a result but no listing
    (a replayed season) is final; a game the live collector created that lost its listing was
    moved to another date (`MOVED`); anything else is "unknown" and stays open.
    """
    rows = conn.execute(
        "SELECT g.game_id, m.status, coalesce(r.home_score, m.home_score),"
        " coalesce(r.away_score, m.away_score), g.source_file FROM games g"
        " LEFT JOIN LATERAL (SELECT status, home_score, away_score FROM mlb_games x"
        "   WHERE x.game_id = g.game_id ORDER BY listed_date DESC, seen_at DESC LIMIT 1) m"
        "   ON true"
        " LEFT JOIN results r ON r.game_id = g.game_id"
        " WHERE g.game_id = ANY(%s) ORDER BY g.game_id",
        (list(game_ids),),
    ).fetchall()
    outcomes = []
    for game_id, status, home, away, source_file in rows:
        if status is None:
            if home is not None:
                status = "final"
            elif source_file == "mlb_stats":  # bullpen.collect.live.store.GAMES_SOURCE_FILE
                status = MOVED
            else:
                status = "unknown"
        outcomes.append(GameOutcome(int(game_id), status, home, away))
    return outcomes


def current_bankroll(conn: psycopg.Connection, strategy_version: str, policy: StakePolicy) -> float:
    """Starting bankroll plus the settled profit of this strategy version."""
    with conn.cursor() as cur:
        return _bankroll(cur, strategy_version, policy)


def load_bets(conn: psycopg.Connection, strategy_version: str | None = None) -> pd.DataFrame:
    """Every pick (one row each, current state), oldest first; money as floats."""
    where = "" if strategy_version is None else " WHERE strategy_version = %s"
    cur = conn.execute(
        f"SELECT {_BET_COLUMNS} FROM bets{where} ORDER BY bet_id",
        () if strategy_version is None else (strategy_version,),
    )
    frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description or ()])
    for col in ("price_decimal", "stake", "bankroll", "profit"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def load_bet_events(conn: psycopg.Connection, bet_id: int | None = None) -> pd.DataFrame:
    """The audit trail, in the order it was written."""
    where = "" if bet_id is None else " WHERE bet_id = %s"
    cur = conn.execute(
        "SELECT bet_event_id, bet_id, kind, state_before, state_after, book, price_american,"
        f" price_decimal, stake, profit, details, at FROM bet_events{where}"
        " ORDER BY bet_event_id",
        () if bet_id is None else (bet_id,),
    )
    frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description or ()])
    for col in ("price_decimal", "stake", "profit"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


# --- internals ---------------------------------------------------------------------------------


def _bankroll(cur: psycopg.Cursor, strategy_version: str, policy: StakePolicy) -> float:
    row = cur.execute(
        "SELECT coalesce(sum(profit), 0) FROM bets WHERE strategy_version = %s AND state <> 'open'",
        (strategy_version,),
    ).fetchone()
    assert row is not None
    return max(policy.starting_bankroll + float(row[0]), 0.0)


def _day_staked(cur: psycopg.Cursor, pick: Pick, exclude: int | None) -> float:
    row = cur.execute(
        "SELECT coalesce(sum(b.stake), 0) FROM bets b JOIN games g USING (game_id)"
        " WHERE b.strategy_version = %s AND b.state <> 'void'"
        " AND g.game_date = (SELECT game_date FROM games WHERE game_id = %s)"
        " AND b.bet_id IS DISTINCT FROM %s",
        (pick.strategy_version, pick.game_id, exclude),
    ).fetchone()
    assert row is not None
    return float(row[0])


def _insert_bet(
    cur: psycopg.Cursor, pick: Pick, stake: float, bankroll: float, at: datetime
) -> int:
    row = cur.execute(
        "INSERT INTO bets (game_id, side, strategy_version, model_version, book, price_american,"
        " price_decimal, quoted_at, stake, bankroll, p_home, p_away, consensus_home,"
        " consensus_method, reason, opened_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s) RETURNING bet_id",
        (
            pick.game_id,
            pick.side,
            pick.strategy_version,
            pick.model_version,
            *_priced(pick, stake, bankroll),
            pick.reason,
            at,
            at,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _priced(pick: Pick, stake: float, bankroll: float) -> tuple[object, ...]:
    """The columns a new price sets, in the order both the insert and the update name them:
    book, price_american, price_decimal, quoted_at, stake, bankroll, p_home, p_away,
    consensus_home, consensus_method."""
    return (
        pick.book,
        pick.price_american,
        american_to_decimal_exact(pick.price_american),
        pick.quoted_at,
        stake,
        bankroll,
        pick.p_home,
        pick.p_away,
        pick.consensus_home,
        pick.consensus_method,
    )


def _update_price(
    cur: psycopg.Cursor, bet_id: int, pick: Pick, stake: float, bankroll: float, at: datetime
) -> None:
    cur.execute(
        "UPDATE bets SET book = %s, price_american = %s, price_decimal = %s,"
        " quoted_at = %s, stake = %s, bankroll = %s, p_home = %s, p_away = %s,"
        " consensus_home = %s, consensus_method = %s, model_version = %s, reason = %s,"
        " updated_at = %s WHERE bet_id = %s AND state = 'open'",
        (*_priced(pick, stake, bankroll), pick.model_version, pick.reason, at, bet_id),
    )


def _insert_event(
    cur: psycopg.Cursor,
    bet_id: int,
    kind: str,
    before: str | None,
    after: str,
    pick: Pick,
    stake: float,
    profit: float | None,
    details: dict[str, Any],
    at: datetime,
) -> None:
    cur.execute(
        "INSERT INTO bet_events (bet_id, kind, state_before, state_after, book, price_american,"
        " price_decimal, stake, profit, details, at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            bet_id,
            kind,
            before,
            after,
            pick.book,
            pick.price_american,
            american_to_decimal_exact(pick.price_american),
            stake,
            profit,
            json.dumps(details),
            at,
        ),
    )
