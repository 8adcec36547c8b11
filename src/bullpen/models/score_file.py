"""Score the champions on an SBR-format season file that the database may never have seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bullpen.betting import opener
from bullpen.collect.history.seasons import read_season_files
from bullpen.db import engine
from bullpen.db.games import load_game_frame, seasons_with_results
from bullpen.features.build import add_labels
from bullpen.features.dataset import feature_frame_with_file
from bullpen.models import assess, closing_line, mlflow_store
from bullpen.models.predict import predict_with_alias
from bullpen.models.train import SPECS


@dataclass
class FileEvaluation:
    season: int
    games_in_file: int
    quarantined: int
    evaluations: dict[str, assess.SeasonEvaluation] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    strategy: opener.SeasonBets | None = None  # the champion strategy: closing-line + settings
    notes: list[str] = field(default_factory=list)
    partial_features: bool = False

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
            notes=self.notes,
            partial_features=self.partial_features,
        )
        if self.strategy is not None:
            summary = self.strategy.summary.as_dict()
            keys = ("n", "mean_clv", "clv_se", "ev_at_close", "ev_ci", "roi", "roi_ci")
            out["bets"] = {
                **{k: summary[k] for k in keys},
                "max_drawdown": summary["max_drawdown"],
                "threshold": self.strategy.params.threshold,
                "kelly_multiplier": self.strategy.params.kelly_multiplier,
            }
            out["closing_line"] = {
                "r2_move": self.strategy.r2_move,
                "n": self.strategy.n_games,
                "version": self.versions.get(closing_line.NAME),
            }
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
    frame, event_seasons = feature_frame_with_file(database_url, parsed.games, devig_method)
    with engine.connect(database_url) as conn:
        history = add_labels(load_game_frame(conn, before=min(g.game_date for g in parsed.games)))
        loaded_seasons = seasons_with_results(conn)
    result = FileEvaluation(season, len(parsed.games), len(parsed.quarantined))
    if season in loaded_seasons:
        result.notes.append(
            f"season {season} is also in the database: a champion trained on it has seen these "
            "games, so its scores here are not out of sample"
        )
    if season not in event_seasons:
        # Players' history then stops where the loaded play-by-play stops.
        last = max(event_seasons) if event_seasons else None
        result.notes.append(
            f"no play-by-play of {season} in the database (latest: {last or 'none'}): player "
            "features use earlier seasons only and are stale; scores are marked partial"
        )
        result.partial_features = True
    for name, spec in SPECS.items():
        games = assess.comparable_games(frame, spec)
        p_model, version = predict_with_alias(tracking_uri, spec, games)
        result.evaluations[name] = assess.evaluate_season(
            games, spec, p_model, assess.base_rate(history, spec), season
        )
        result.versions[name] = version
    result.strategy, result.versions[closing_line.NAME] = score_strategy(
        frame, season, tracking_uri, devig_method
    )
    return result


def score_strategy(
    frame: pd.DataFrame, season: int, tracking_uri: str, devig_method: str
) -> tuple[opener.SeasonBets, str]:
    """Bet the file's games with the closing-line champion and the settings recorded on it."""
    games = closing_line.usable_games(frame).copy()
    if games.empty:
        raise ValueError("no game in the file has both an opening and a closing moneyline")
    spec = closing_line.CLOSING_LINE
    p, version = predict_with_alias(tracking_uri, spec, games)
    games["p_close_pred"] = p
    champion = mlflow_store.get_alias_version(tracking_uri, spec.registered_name, "champion")
    params, why = opener.OpenerParams.from_tags(
        dict(champion.tags or {}) if champion else {}, devig_method=devig_method
    )
    r2 = closing_line.r2_of_forecast(games)
    return opener.season_bets(season, games, r2, params, why), version
