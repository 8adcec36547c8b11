"""Probable pitchers of live games: MLB Stats API ids linked to Retrosheet ids through the Chadwick
register, their history (a scratch is a new listing), the unmapped ones with a reason, and the
picks whose game's probable pitcher changed after the pick was decided.

The register maps an MLB id to a Retrosheet id or it does not: there is no name matching here,
so nothing is guessed. An id the register lacks (a debut newer than the register) or maps to
two Retrosheet ids is stored with retro_id NULL and the reason, and listed by `unmapped`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import psycopg

from bullpen.db.staging import record_ingested_file
from bullpen.players.linking import REGISTER_FILE, read_register

AWAY, HOME = 0, 1
LEDGER_SOURCE, LEDGER_FILE = "mlb_stats", "probable_pitchers"
NO_PROBABLE = "no probable pitcher announced"


@dataclass(frozen=True, slots=True)
class RegisterIndex:
    """MLB id -> Retrosheet id, and why an id has none."""

    retro: dict[int, str]
    ambiguous: dict[int, tuple[str, ...]]

    @classmethod
    def from_frame(cls, register: pd.DataFrame) -> RegisterIndex:
        found: dict[int, set[str]] = defaultdict(set)
        for mlb, retro in register[["key_mlbam", "key_retro"]].itertuples(index=False, name=None):
            if isinstance(mlb, str) and mlb.strip().isdigit() and isinstance(retro, str) and retro:
                found[int(mlb)].add(retro.strip())
        retro_of = {k: next(iter(v)) for k, v in found.items() if len(v) == 1}
        ambiguous = {k: tuple(sorted(v)) for k, v in found.items() if len(v) > 1}
        return cls(retro_of, ambiguous)

    @classmethod
    def empty(cls) -> RegisterIndex:
        return cls({}, {})

    def lookup(self, mlb_id: int | None) -> tuple[str | None, str | None]:
        """(Retrosheet id, None) or (None, reason)."""
        if mlb_id is None:
            return None, NO_PROBABLE
        if mlb_id in self.retro:
            return self.retro[mlb_id], None
        if mlb_id in self.ambiguous:
            return None, f"MLB id {mlb_id} has several Retrosheet ids: {self.ambiguous[mlb_id]}"
        return None, f"MLB id {mlb_id} is not in the register (no Retrosheet id)"

    def player_id(self, mlb_id: int) -> str:
        """The Retrosheet id, else `mlbam:<id>`: a distinct id, never a guessed Retrosheet one."""
        retro, _ = self.lookup(mlb_id)
        return retro if retro is not None else f"mlbam:{mlb_id}"


def load_register_index(data_dir: Path) -> RegisterIndex:
    """The bundled register's index (empty when the register is not there: nothing maps)."""
    path = data_dir / REGISTER_FILE
    return RegisterIndex.from_frame(read_register(path)) if path.exists() else RegisterIndex.empty()


# The newest stored listing per game and side, beside every side of mlb_games' current listing.
_CURRENT = """
SELECT m.game_pk, s.side,
       CASE s.side WHEN 0 THEN m.away_probable_pitcher_id ELSE m.home_probable_pitcher_id END,
       CASE s.side WHEN 0 THEN m.away_probable_pitcher ELSE m.home_probable_pitcher END,
       m.seen_at, m.payload_id, p.mlb_id, p.seen_at, p.mlb_id IS NULL AND p.seen_at IS NOT NULL
FROM mlb_games m
CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS s(side)
LEFT JOIN LATERAL (
    SELECT mlb_id, seen_at FROM probable_pitchers q
    WHERE q.game_pk = m.game_pk AND q.side = s.side ORDER BY seen_at DESC LIMIT 1
) p ON true
"""


@dataclass(frozen=True, slots=True)
class ProbablesWrite:
    listings: int  # new rows (a first listing or a change)
    mapped: int  # of those, with a Retrosheet id
    unmapped: int  # with an MLB id the register does not map


def record_probables(conn: psycopg.Connection, register: RegisterIndex) -> ProbablesWrite:
    """Add a probable_pitchers row for every game side whose listing in mlb_games differs from
    the last one stored (idempotent: an unchanged or older listing adds nothing)."""
    rows = []
    with conn.transaction(), conn.cursor() as cur:
        for pk, side, mlb_id, name, seen_at, payload_id, last_id, last_seen, _ in cur.execute(
            _CURRENT
        ).fetchall():
            if last_seen is not None and (seen_at <= last_seen or mlb_id == last_id):
                continue
            retro, reason = register.lookup(mlb_id)
            rows.append((pk, side, seen_at, mlb_id, name, retro, reason, payload_id))
        cur.executemany(
            "INSERT INTO probable_pitchers (game_pk, side, seen_at, mlb_id, mlb_name, retro_id,"
            " reason, payload_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            rows,
        )
        if rows:
            # The feature frame's cache keys on the file ledger (features.dataset.database_state):
            # a ledger row that changes with the listings makes a new probable rebuild the frame.
            count, latest = cur.execute(
                "SELECT count(*), coalesce(max(seen_at)::text, '') FROM probable_pitchers"
            ).fetchone() or (0, "")
            digest = hashlib.sha256(f"{count}:{latest}".encode()).hexdigest()
            record_ingested_file(
                cur, source=LEDGER_SOURCE, file=LEDGER_FILE, sha256=digest, games=count,
                quarantined=0,
            )  # fmt: skip
    mapped = sum(1 for r in rows if r[5] is not None)
    unmapped = sum(1 for r in rows if r[5] is None and r[3] is not None)
    return ProbablesWrite(len(rows), mapped, unmapped)


_LISTED = """
SELECT DISTINCT ON (m.game_id, p.side) m.game_id, p.side, p.retro_id, p.mlb_id, p.reason
FROM probable_pitchers p JOIN mlb_games m USING (game_pk)
ORDER BY m.game_id, p.side, p.seen_at DESC
"""


def load_listed_probables(conn: psycopg.Connection) -> pd.DataFrame:
    """game_id, side, retro_id, mlb_id, reason: each live game side's latest probable pitcher."""
    with conn.cursor() as cur:
        rows = cur.execute(_LISTED).fetchall()
    return pd.DataFrame(rows, columns=["game_id", "side", "retro_id", "mlb_id", "reason"])


def apply_probables(links: pd.DataFrame, probables: pd.DataFrame) -> pd.DataFrame:
    """Links (players.linking.link_listed_starters) where a live game's probable pitcher, linked
    by the register, fills a side SBR listed nobody for: method "probable_register". A side with
    an SBR listing keeps its link (the replayed seasons stay as they were)."""
    mapped = probables[probables["retro_id"].notna()]
    if mapped.empty or links.empty:
        return links
    by_key = {
        (g, int(s)): r
        for g, s, r in mapped[["game_id", "side", "retro_id"]].itertuples(index=False, name=None)
    }
    out = links.copy()
    for i, game, side, sbr in out[["game_id", "side", "sbr_name"]].itertuples(name=None):
        retro = by_key.get((game, int(side)))
        if retro is not None and (sbr is None or sbr != sbr):  # None or NaN: SBR listed nobody
            out.at[i, "listed_starter"] = retro
            out.at[i, "method"] = "probable_register"
            out.at[i, "reason"] = None
    return out


@dataclass(frozen=True, slots=True)
class Unmapped:
    game_date: object
    away_team: str
    home_team: str
    side: int
    mlb_id: int
    mlb_name: str | None
    reason: str


def unmapped(conn: psycopg.Connection) -> list[Unmapped]:
    """Current probable pitchers without a Retrosheet id (each game side's latest listing)."""
    rows = conn.execute(
        """
        SELECT g.game_date, g.away_team, g.home_team, p.side, p.mlb_id, p.mlb_name, p.reason
        FROM (SELECT DISTINCT ON (game_pk, side) * FROM probable_pitchers
              ORDER BY game_pk, side, seen_at DESC) p
        JOIN mlb_games m USING (game_pk) JOIN games g ON g.game_id = m.game_id
        WHERE p.retro_id IS NULL AND p.mlb_id IS NOT NULL
        ORDER BY g.game_date, g.home_team, p.side
        """
    ).fetchall()
    return [Unmapped(*row) for row in rows]


# A pick's probable pitchers when it was last decided (opened or price moved) and every later
# listing that differs from them. Only sides with a listing stored before the decision count: a
# first listing seen after the pick says nothing about a change.
_FLAG = """
WITH decided AS (
    SELECT e.bet_id, max(e.at) AS decided_at FROM bet_events e
    WHERE e.kind IN ('opened', 'price_moved') GROUP BY e.bet_id
), at_pick AS (
    SELECT d.bet_id, d.decided_at, m.game_pk, s.side, p.mlb_id, p.mlb_name
    FROM decided d JOIN bets b USING (bet_id) JOIN mlb_games m ON m.game_id = b.game_id
    CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS s(side)
    JOIN LATERAL (
        SELECT q.mlb_id, q.mlb_name FROM probable_pitchers q
        WHERE q.game_pk = m.game_pk AND q.side = s.side AND q.seen_at <= d.decided_at
        ORDER BY q.seen_at DESC LIMIT 1
    ) p ON true
)
INSERT INTO bet_starter_changes (bet_id, side, decided_at, mlb_id_before, name_before,
                                 mlb_id_after, name_after, changed_at)
SELECT a.bet_id, a.side, a.decided_at, a.mlb_id, a.mlb_name, q.mlb_id, q.mlb_name, q.seen_at
FROM at_pick a JOIN probable_pitchers q
  ON q.game_pk = a.game_pk AND q.side = a.side AND q.seen_at > a.decided_at
WHERE q.mlb_id IS DISTINCT FROM a.mlb_id
ON CONFLICT DO NOTHING
"""


def flag_starter_changes(conn: psycopg.Connection) -> int:
    """Flag every pick whose game's probable pitcher changed after it was decided; returns the
    new flags (idempotent). Reads bets and bet_events, writes only bet_starter_changes."""
    with conn.transaction():
        cur = conn.execute(_FLAG)
        return cur.rowcount


@dataclass(frozen=True, slots=True)
class StarterChange:
    bet_id: int
    side: int
    decided_at: datetime
    mlb_id_before: int | None
    name_before: str | None
    mlb_id_after: int | None
    name_after: str | None
    changed_at: datetime


def starter_changes(conn: psycopg.Connection, bet_id: int | None = None) -> list[StarterChange]:
    """The flags, oldest first (one pick's when `bet_id` is given)."""
    rows = conn.execute(
        "SELECT bet_id, side, decided_at, mlb_id_before, name_before, mlb_id_after, name_after,"
        " changed_at FROM bet_starter_changes WHERE %(bet)s::bigint IS NULL OR bet_id = %(bet)s"
        " ORDER BY changed_at, bet_id, side",
        {"bet": bet_id},
    ).fetchall()
    return [StarterChange(*row) for row in rows]
