"""Read moneyline snapshots from `odds_snapshots` in the shape bullpen.market.lines expects."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
import psycopg

from bullpen.market.lines import SNAPSHOT_COLUMNS

# h2h is market 1 (odds_markets); home_over is the home price, away_under the away price.
_H2H = 1
_QUERY = """
SELECT e.event_id, e.commence_time, b.book, s.last_update,
       s.home_over_american AS home_american, s.away_under_american AS away_american,
       m.game_id
FROM odds_snapshots s
JOIN odds_events e USING (event_key)
JOIN bookmakers b USING (book_id)
LEFT JOIN mlb_games m ON m.game_pk = e.game_pk
WHERE s.market = %(market)s AND s.last_update <= %(until)s
  AND (%(games)s::bigint[] IS NULL OR m.game_id = ANY(%(games)s))
ORDER BY e.event_id, b.book, s.last_update
"""


def load_h2h_snapshots(
    conn: psycopg.Connection, *, until: datetime, game_ids: Iterable[int] | None = None
) -> pd.DataFrame:
    """Moneyline snapshots updated at or before `until` (of these games' linked events, or all).

    game_id is <NA> for an event not linked to an MLB game yet.
    """
    games = None if game_ids is None else [int(g) for g in game_ids]
    cur = conn.execute(_QUERY, {"market": _H2H, "until": until, "games": games})
    frame = pd.DataFrame(cur.fetchall(), columns=[*SNAPSHOT_COLUMNS, "game_id"])
    frame["game_id"] = frame["game_id"].astype("Int64")
    for col in ("home_american", "away_american"):
        frame[col] = frame[col].astype("float64")
    return frame
