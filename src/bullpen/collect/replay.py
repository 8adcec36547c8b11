"""Replay bundled seasons (SBR odds + Retrosheet logs) into Postgres, one file per batch."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from bullpen.collect.history import read_season_files
from bullpen.db import engine
from bullpen.db.store import WriteSummary, write_history_file

_ODDS_FILE = re.compile(r"mlb_odds_(\d{4})\.csv(\.gz)?$")


@dataclass(frozen=True)
class SeasonFiles:
    season: int
    odds: Path
    retrosheet: Path | None


def find_season_files(data_dir: Path) -> list[SeasonFiles]:
    """Every SBR season file under data_dir/odds, with its Retrosheet log when one exists."""
    seasons = []
    for path in sorted((data_dir / "odds").iterdir()):
        match = _ODDS_FILE.match(path.name)
        if not match:
            continue
        season = int(match.group(1))
        retro = [p for p in (data_dir / "retrosheet").glob(f"GL{season}.TXT*")]
        seasons.append(SeasonFiles(season, path, retro[0] if retro else None))
    return seasons


def file_sha256(*paths: Path | None) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def replay_season(database_url: str, files: SeasonFiles) -> WriteSummary:
    """Parse one season and write it with one connection in one transaction (idempotent)."""
    parsed = read_season_files(files.odds, files.retrosheet)
    with engine.connect(database_url) as conn:
        return write_history_file(
            conn,
            file=files.odds.name,
            sha256=file_sha256(files.odds, files.retrosheet),
            games=parsed.games,
            quarantined=parsed.quarantined,
        )
