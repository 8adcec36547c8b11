"""The feature frame kept on disk between processes, keyed by what it is built from.

Building every season's team and player features takes ~20 s over the bundled history; a
recommend-bets deployment runs in a fresh process after every odds collection (every 15
minutes), while the inputs of the frame (games, results, SBR lines, loaded play-by-play) change
only when games are collected. The key is the database fingerprint the in-process cache uses
(bullpen.features.dataset.database_state), the devig method and a hash of the code and register
file the frame is built by, so a changed database, method, code or register is a miss: a hit is
the frame `load_feature_frame` would build now.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
from pathlib import Path
from types import ModuleType

import pandas as pd

from bullpen.db import engine
from bullpen.features import dataset

log = logging.getLogger(__name__)

PREFIX = "features-"


def _frame_modules() -> list[ModuleType]:
    """The modules whose code decides the frame's values, found through what dataset calls (so
    a module that moves is still found)."""
    from bullpen.features import build, odds, player_ratings, players

    called = (
        dataset.load_game_frame,
        dataset.normalise_game_frame,
        dataset.event_tables,
        dataset.build_player_features,
        dataset.link_listed_starters,
        dataset.read_register,
    )
    found = {dataset, build, odds, player_ratings, players}
    for obj in called:
        module = obj if isinstance(obj, ModuleType) else inspect.getmodule(obj)
        if module is not None:
            found.add(module)
    return sorted(found, key=lambda m: m.__name__)


def code_fingerprint() -> str:
    """Hash of the frame-building code and of the player register it links starters with."""
    from bullpen.config import data_dir
    from bullpen.players.linking import REGISTER_FILE

    digest = hashlib.sha256()
    for module in _frame_modules():
        digest.update(module.__name__.encode())
        digest.update(Path(inspect.getfile(module)).read_bytes())
    register = data_dir() / REGISTER_FILE
    if register.exists():
        stat = register.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def cache_key(database_url: str, devig_method: str) -> str:
    with engine.connect(database_url) as conn:
        state = dataset.database_state(conn)
    text = f"{devig_method}|{state}|{code_fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_feature_frame_cached(
    database_url: str, devig_method: str, cache_dir: Path
) -> tuple[pd.DataFrame, bool]:
    """(frame, served from disk). Builds with `load_feature_frame` on a miss and stores the
    frame only when the database did not change while it was built (same key before and after),
    then removes older frames."""
    key = cache_key(database_url, devig_method)
    path = cache_dir / f"{PREFIX}{key}.pkl"
    if path.exists():
        try:
            return pd.read_pickle(path), True
        except Exception:  # a truncated or unreadable file is rebuilt, never trusted
            log.warning("feature cache %s unreadable: rebuilding", path, exc_info=True)
            path.unlink(missing_ok=True)
    frame = dataset.load_feature_frame(database_url, devig_method)
    if cache_key(database_url, devig_method) != key:
        log.info("database changed while the feature frame was built: not cached")
        return frame, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    frame.to_pickle(tmp)
    os.replace(tmp, path)  # readers see the whole file or none
    for old in cache_dir.glob(f"{PREFIX}*.pkl"):
        if old != path:
            old.unlink(missing_ok=True)
    return frame, False
