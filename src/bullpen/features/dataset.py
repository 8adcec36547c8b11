"""Feature frames from the database, optionally extended with games from a season file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from bullpen.collect.history.events import load as event_tables
from bullpen.collect.records import GameRecord
from bullpen.db import engine
from bullpen.db.games import load_game_frame, normalise_game_frame
from bullpen.features.build import build_feature_frame
from bullpen.features.players import PLAYER_FEATURES, build_player_features
from bullpen.players.linking import (
    REGISTER_FILE,
    attach_listed_starters,
    link_listed_starters,
    read_register,
)
from bullpen.players.probables import apply_probables, load_listed_probables


@dataclass
class PlayerInputs:
    """The play-by-play tables that player features are computed from."""

    pitcher_games: pd.DataFrame
    plate_appearances: pd.DataFrame
    lineups: pd.DataFrame
    rosters: pd.DataFrame
    seasons: list[int]
    register: pd.DataFrame | None = None  # the Chadwick register's spellings, when bundled
    probables: pd.DataFrame | None = None  # live games' probable pitchers (players.probables)


def load_player_inputs(conn: psycopg.Connection, *, before: date | None = None) -> PlayerInputs:
    from bullpen.config import data_dir

    # The same register collect-history links with, so stored links and features agree.
    register_path = data_dir() / REGISTER_FILE
    return PlayerInputs(
        event_tables.load_pitcher_games(conn, before=before),
        event_tables.load_plate_appearances(conn, before=before),
        event_tables.load_lineups(conn, before=before),
        event_tables.load_rosters(conn),
        event_tables.events_seasons(conn),
        read_register(register_path) if register_path.exists() else None,
        load_listed_probables(conn),
    )


def add_player_features(frame: pd.DataFrame, players: PlayerInputs) -> pd.DataFrame:
    """Link each game's listed starters, then join the leak-free player features.

    Without any play-by-play the columns are there and NaN, so every model scores the same
    columns; LightGBM treats NaN as missing.
    """
    if players.pitcher_games.empty or players.rosters.empty:
        out = frame.copy()
        for side in ("away", "home"):
            out[f"{side}_listed_starter"] = None
        return out.assign(**{name: np.nan for name in PLAYER_FEATURES})
    links = link_listed_starters(frame, players.rosters, players.register)
    if players.probables is not None:  # live games: the schedule's probable, by MLB id
        links = apply_probables(links, players.probables)
    linked = attach_listed_starters(frame, links)
    features = build_player_features(
        linked,
        players.pitcher_games,
        players.plate_appearances,
        players.lineups,
        players.rosters,
    )
    return linked.join(features)


# A fingerprint of everything the feature frame reads: the rows of games, results and lines
# (live collection changes them in place) and the ledger of loaded files (every play-by-play
# write goes with a ledger row). Equal fingerprints mean an equal frame.
_STATE_QUERY = """
SELECT (SELECT coalesce(sum(hashtext(g::text)::bigint), 0) || '/' || count(*) FROM games g)
    || ':' || (SELECT coalesce(sum(hashtext(r::text)::bigint), 0) || '/' || count(*) FROM results r)
    || ':' || (SELECT coalesce(sum(hashtext(o::text)::bigint), 0) || '/' || count(*) FROM odds o)
    || ':' || (SELECT coalesce(sum(hashtext(f::text)::bigint), 0) || '/' || count(*)
               FROM ingested_files f)
"""
_cache: dict[tuple[str, str, str], pd.DataFrame] = {}


def database_state(conn: psycopg.Connection) -> str:
    row = conn.execute(_STATE_QUERY).fetchone()
    return str(row[0]) if row else ""


def load_feature_frame(database_url: str, devig_method: str) -> pd.DataFrame:
    """The whole feature frame; within one process a second call on an unchanged database is
    served from memory (train-models and backtest in one `bullpen demo` build it once)."""
    with engine.connect(database_url) as conn:
        key = (database_url, devig_method, database_state(conn))
        if key in _cache:
            return _cache[key].copy()
        games = load_game_frame(conn)
        players = load_player_inputs(conn)
    frame = add_player_features(build_feature_frame(games, devig_method), players)
    _cache.clear()
    _cache[key] = frame
    return frame.copy()


def game_frame_from_records(records: Sequence[GameRecord]) -> pd.DataFrame:
    """Records not (necessarily) in the database, shaped like load_game_frame's rows."""
    frame = pd.DataFrame([asdict(r) for r in records])
    frame.insert(0, "game_id", range(-1, -len(frame) - 1, -1))  # negative: not database ids
    return normalise_game_frame(frame)


def feature_frame_with_file(
    database_url: str, records: Sequence[GameRecord], devig_method: str
) -> tuple[pd.DataFrame, list[int]]:
    """Features for a season file's games, from database history before the file plus the file.

    History is cut at the file's first date, so a file whose season is already loaded is not
    counted twice; within the file only earlier games feed each game's features. Player features
    use the play-by-play the database holds before each game. Returns the file's rows and the
    seasons with play-by-play in the database.
    """
    file_games = game_frame_from_records(records)
    first = min(r.game_date for r in records)
    with engine.connect(database_url) as conn:
        history = load_game_frame(conn, before=first)
        players = load_player_inputs(conn)
    columns = list(history.columns)
    combined = pd.concat([history, file_games[columns]], ignore_index=True)
    frame = add_player_features(build_feature_frame(combined, devig_method), players)
    return frame[frame["game_id"] < 0], players.seasons
