"""Feature frames from the database, optionally extended with games from a season file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

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
    AWAY,
    HOME,
    REGISTER_FILE,
    attach_listed_starters,
    link_listed_starters,
    read_register,
)
from bullpen.players.probables import LEDGER_FILE as PROBABLES_FILE
from bullpen.players.probables import LEDGER_SOURCE as PROBABLES_SOURCE
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
    # Rows already computed from these tables: {row_key: (away listed, home listed, features)}.
    # Shared by every PlayerInputs read from the same tables (see load_player_inputs).
    computed: dict[tuple, tuple] = field(default_factory=dict, repr=False)


# The play-by-play tables and the register change only with a loaded file (every play-by-play
# write, history or live feed, goes with an ingested_files row), while games, results and lines
# change with every collection: reading ~1M plate appearances again after each collect-games
# was most of a recommend-bets run. The probables' ledger row changes with every listing, and
# the probables are read afresh each time, so it is left out. One entry: the database read last.
_EVENTS_STATE_QUERY = """
SELECT coalesce(sum(hashtext(f::text)::bigint), 0) || '/' || count(*) FROM ingested_files f
WHERE (f.source, f.file) <> (%s, %s)
"""
_events_cache: dict[tuple[str, str, str], PlayerInputs] = {}


def _register_state(path: Path) -> str:
    if not path.exists():
        return "none"
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def load_player_inputs(conn: psycopg.Connection, *, before: date | None = None) -> PlayerInputs:
    from bullpen.config import data_dir

    # The same register collect-history links with, so stored links and features agree.
    register_path = data_dir() / REGISTER_FILE
    probables = load_listed_probables(conn)  # changes with every collect-games: never kept
    row = conn.execute(_EVENTS_STATE_QUERY, (PROBABLES_SOURCE, PROBABLES_FILE)).fetchone()
    key = (conn.info.dsn, str(row[0]) if row else "", _register_state(register_path))
    if before is None and key in _events_cache:
        return replace(_events_cache[key], probables=probables)
    inputs = PlayerInputs(
        event_tables.load_pitcher_games(conn, before=before),
        event_tables.load_plate_appearances(conn, before=before),
        event_tables.load_lineups(conn, before=before),
        event_tables.load_rosters(conn),
        event_tables.events_seasons(conn),
        read_register(register_path) if register_path.exists() else None,
        probables,
    )
    if before is None:
        _events_cache.clear()
        _events_cache[key] = inputs
    return inputs


_MISSING = "<nan>"  # a NaN in a row key: NaN != NaN would never find its row again


def _key_value(value: object) -> object:
    return _MISSING if isinstance(value, float) and value != value else value


# The columns a game's player features are computed from (linking and build_player_features
# read nothing else of the game), plus its probable pitchers.
_ROW_COLUMNS = [
    "game_date", "season", "away_team", "home_team", "game_number", "away_pitcher",
    "home_pitcher", "away_starter_id", "home_starter_id",
]  # fmt: skip


def _row_keys(frame: pd.DataFrame, probables: pd.DataFrame | None) -> list[tuple]:
    by_side: dict[tuple[object, int], object] = {}
    if probables is not None:
        mapped = probables[probables["retro_id"].notna()]
        by_side = {
            (g, int(s)): r
            for g, s, r in mapped[["game_id", "side", "retro_id"]].itertuples(index=False)
        }
    ids = frame["game_id"] if "game_id" in frame.columns else pd.Series(frame.index, frame.index)
    return [
        (
            *(_key_value(v) for v in values),
            by_side.get((game, AWAY)),
            by_side.get((game, HOME)),
        )
        for game, values in zip(
            ids.tolist(), frame[_ROW_COLUMNS].itertuples(index=False, name=None), strict=True
        )
    ]


def add_player_features(frame: pd.DataFrame, players: PlayerInputs) -> pd.DataFrame:
    """Link each game's listed starters, then join the leak-free player features.

    Without any play-by-play the columns are there and NaN, so every model scores the same
    columns; LightGBM treats NaN as missing.

    A game's starters and features depend only on its own row (`_ROW_COLUMNS`, its probables)
    and on the play-by-play of dates up to its own, so rows computed before from the same
    tables are reused (`players.computed`) and only new or changed rows are computed, with the
    play-by-play after their last date left out (it cannot change them). After a collect-games
    that is the few games it touched instead of every season's.
    """
    if players.pitcher_games.empty or players.rosters.empty:
        out = frame.copy()
        for side in ("away", "home"):
            out[f"{side}_listed_starter"] = None
        return out.assign(**{name: np.nan for name in PLAYER_FEATURES})
    keys = _row_keys(frame, players.probables)
    todo = sorted({i for i, key in enumerate(keys) if key not in players.computed})
    if todo:
        games = frame.iloc[todo]
        links = link_listed_starters(games, players.rosters, players.register)
        if players.probables is not None:  # live games: the schedule's probable, by MLB id
            links = apply_probables(links, players.probables)
        linked = attach_listed_starters(games, links)
        last = pd.Timestamp(max(games["game_date"]))
        tables = [players.pitcher_games, players.plate_appearances, players.lineups]
        if pd.to_datetime(tables[0]["game_date"]).max() > last:
            # Lineups are looked up by game only; the database's carry the date, a file's not.
            tables = [
                t[pd.to_datetime(t["game_date"]) <= last] if "game_date" in t.columns else t
                for t in tables
            ]
        features = build_player_features(linked, *tables, players.rosters)
        for i, away, home, values in zip(
            todo,
            linked["away_listed_starter"].tolist(),
            linked["home_listed_starter"].tolist(),
            features[list(PLAYER_FEATURES)].to_numpy(float),
            strict=True,
        ):
            players.computed[keys[i]] = (away, home, values)
    rows = [players.computed[key] for key in keys]
    out = frame.copy()
    out["away_listed_starter"] = np.array([r[0] for r in rows], dtype=object)
    out["home_listed_starter"] = np.array([r[1] for r in rows], dtype=object)
    values = np.vstack([r[2] for r in rows]) if rows else np.empty((0, len(PLAYER_FEATURES)))
    return out.join(pd.DataFrame(values, columns=list(PLAYER_FEATURES), index=frame.index))


# A fingerprint of everything the feature frame reads: the rows of games, results and lines
# (live collection changes them in place) and the ledger of loaded files (every play-by-play
# write goes with a ledger row). Equal fingerprints mean an equal frame. The two parts are kept
# apart: a new probable pitcher (a ledger row) changes the starters, not the team features.
_STATE_QUERY = """
SELECT (SELECT coalesce(sum(hashtext(g::text)::bigint), 0) || '/' || count(*) FROM games g)
    || ':' || (SELECT coalesce(sum(hashtext(r::text)::bigint), 0) || '/' || count(*) FROM results r)
    || ':' || (SELECT coalesce(sum(hashtext(o::text)::bigint), 0) || '/' || count(*) FROM odds o),
    (SELECT coalesce(sum(hashtext(f::text)::bigint), 0) || '/' || count(*) FROM ingested_files f)
"""
_cache: dict[tuple[str, str, str], pd.DataFrame] = {}
# The games with market probabilities, team features and labels (build_feature_frame), by the
# games part of the fingerprint.
_team_cache: dict[tuple[str, str, str], pd.DataFrame] = {}


def _states(conn: psycopg.Connection) -> tuple[str, str]:
    row = conn.execute(_STATE_QUERY).fetchone()
    return (str(row[0]), str(row[1])) if row else ("", "")


def database_state(conn: psycopg.Connection) -> str:
    return ":".join(_states(conn))


def load_feature_frame(database_url: str, devig_method: str) -> pd.DataFrame:
    """The whole feature frame; within one process a second call on an unchanged database is
    served from memory (train-models and backtest in one `bullpen demo` build it once), and
    after a change only the parts it touched are built again (team features when games,
    results or lines changed; player features of the games whose rows or probables changed)."""
    with engine.connect(database_url) as conn:
        games_state, files_state = _states(conn)
        key = (database_url, devig_method, f"{games_state}:{files_state}")
        if key in _cache:
            return _cache[key].copy()
        team_key = (database_url, devig_method, games_state)
        team = _team_cache.get(team_key)
        if team is None:
            team = build_feature_frame(load_game_frame(conn), devig_method)
        players = load_player_inputs(conn)
    frame = add_player_features(team, players)
    _team_cache.clear()
    _team_cache[team_key] = team
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


def clear_caches() -> None:
    """Forget the frame and the play-by-play kept in this process: the next build is cold
    (a comparison of the live path with the backtest then checks the reuse too)."""
    _cache.clear()
    _team_cache.clear()
    _events_cache.clear()
