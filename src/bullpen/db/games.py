"""Read games with results and opening/closing lines as one wide frame (one row per game)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg

GAME_FRAME_QUERY = """
SELECT g.game_id, g.season, g.game_date, g.away_team, g.home_team, g.game_number,
       g.neutral_site, g.away_pitcher, g.home_pitcher, g.away_pitcher_hand, g.home_pitcher_hand,
       g.away_starter_id, g.home_starter_id,
       r.away_score, r.home_score,
       o.away_ml AS away_open_ml, o.home_ml AS home_open_ml, o.total AS open_total,
       o.over_price AS open_over_price, o.under_price AS open_under_price,
       c.away_ml AS away_close_ml, c.home_ml AS home_close_ml, c.total AS close_total,
       c.over_price AS close_over_price, c.under_price AS close_under_price
FROM games g
LEFT JOIN results r USING (game_id)
LEFT JOIN odds o ON o.game_id = g.game_id AND o.source = %(source)s AND o.phase = 'open'
LEFT JOIN odds c ON c.game_id = g.game_id AND c.source = %(source)s AND c.phase = 'close'
WHERE %(before)s::date IS NULL OR g.game_date < %(before)s::date
ORDER BY g.game_date, g.game_id
"""


def load_game_frame(
    conn: psycopg.Connection, *, before: date | None = None, source: str = "sbr"
) -> pd.DataFrame:
    """All games (optionally only those before `before`) with scores and `source`'s lines."""
    with conn.cursor() as cur:
        cur.execute(GAME_FRAME_QUERY, {"source": source, "before": before})
        columns = [d.name for d in cur.description or ()]
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    return normalise_game_frame(frame)


def seasons_with_results(conn: psycopg.Connection) -> list[int]:
    """Seasons that have at least one game with a final score."""
    rows = conn.execute(
        "SELECT DISTINCT g.season FROM games g JOIN results r USING (game_id) ORDER BY 1"
    ).fetchall()
    return [int(season) for (season,) in rows]


def normalise_game_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a game frame stable dtypes (floats with NaN for missing numbers)."""
    numeric = [
        "away_score", "home_score", "away_open_ml", "home_open_ml", "open_total",
        "open_over_price", "open_under_price", "away_close_ml", "home_close_ml", "close_total",
        "close_over_price", "close_under_price",
    ]  # fmt: skip
    out = frame.copy()
    for column in numeric:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out["game_date"] = pd.to_datetime(out["game_date"]).dt.date
    out["neutral_site"] = out["neutral_site"].astype(bool)
    return out
