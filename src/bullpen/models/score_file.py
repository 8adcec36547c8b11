"""Score the champions on an SBR-format season file that the database may never have seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bullpen.collect.history import read_season_files
from bullpen.db import engine
from bullpen.db.games import load_game_frame
from bullpen.features.build import add_labels
from bullpen.features.dataset import feature_frame_with_file
from bullpen.models import assess
from bullpen.models.predict import predict_with_alias
from bullpen.models.train import SPECS


@dataclass
class FileEvaluation:
    season: int
    games_in_file: int
    quarantined: int
    evaluations: dict[str, assess.SeasonEvaluation] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """Moneyline comparison at the top level (model, market_open, market_close, home_rate);
        every model's comparison under `models`."""
        out: dict[str, object] = dict(self.evaluations["moneyline"].as_dict())
        out.update(
            season=self.season,
            games_in_file=self.games_in_file,
            quarantined=self.quarantined,
            models={
                name: {"version": self.versions[name], **evaluation.as_dict()}
                for name, evaluation in self.evaluations.items()
            },
        )
        return out


def evaluate_odds_file(
    odds_file: Path, *, database_url: str, tracking_uri: str, devig_method: str
) -> FileEvaluation:
    """Features use the database's history before the file's first date plus the file's earlier
    games; base rates come from that history. Raises LookupError if a champion is missing and
    ValueError if the file holds no usable game."""
    parsed = read_season_files(odds_file, None)
    if not parsed.games:
        raise ValueError(
            f"{odds_file} holds no parseable game ({len(parsed.quarantined)} quarantined)"
        )
    season = parsed.games[0].season
    frame = feature_frame_with_file(database_url, parsed.games, devig_method)
    with engine.connect(database_url) as conn:
        history = add_labels(load_game_frame(conn, before=min(g.game_date for g in parsed.games)))
    result = FileEvaluation(season, len(parsed.games), len(parsed.quarantined))
    for name, spec in SPECS.items():
        games = assess.comparable_games(frame, spec)
        p_model, version = predict_with_alias(tracking_uri, spec, games)
        result.evaluations[name] = assess.evaluate_season(
            games, spec, p_model, assess.base_rate(history, spec), season
        )
        result.versions[name] = version
    return result
