"""Feature frames from the database, optionally extended with games from a season file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd

from bullpen.collect.records import GameRecord
from bullpen.db import engine
from bullpen.db.games import load_game_frame, normalise_game_frame
from bullpen.features.build import build_feature_frame


def load_feature_frame(database_url: str, devig_method: str) -> pd.DataFrame:
    with engine.connect(database_url) as conn:
        games = load_game_frame(conn)
    return build_feature_frame(games, devig_method)


def game_frame_from_records(records: Sequence[GameRecord]) -> pd.DataFrame:
    """Records not (necessarily) in the database, shaped like load_game_frame's rows."""
    frame = pd.DataFrame([asdict(r) for r in records])
    frame.insert(0, "game_id", range(-1, -len(frame) - 1, -1))  # negative: not database ids
    return normalise_game_frame(frame)


def feature_frame_with_file(
    database_url: str, records: Sequence[GameRecord], devig_method: str
) -> pd.DataFrame:
    """Features for a season file's games, from database history before the file plus the file.

    History is cut at the file's first date, so a file whose season is already loaded is not
    counted twice; within the file only earlier games feed each game's features.
    """
    file_games = game_frame_from_records(records)
    with engine.connect(database_url) as conn:
        history = load_game_frame(conn, before=min(r.game_date for r in records))
    columns = list(history.columns)
    combined = pd.concat([history, file_games[columns]], ignore_index=True)
    frame = build_feature_frame(combined, devig_method)
    return frame[frame["game_id"] < 0]
