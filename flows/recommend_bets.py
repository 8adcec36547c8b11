"""recommend-bets: score every game not started yet with the closing-line champion and its chosen
opener settings, compare with the best price across books, record picks in the bets ledger.

Thin: the decisions are bullpen.betting.live (the backtest's rule), the lines bullpen.market,
the stakes and idempotency bullpen.betting.ledger. Runs after every collect-odds and on demand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from bullpen import runtime
from bullpen.betting import live
from bullpen.betting.ledger import record_picks
from bullpen.betting.opener import OpenerParams
from bullpen.betting.picks import StakePolicy
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.features.frame_cache import load_feature_frame_cached
from bullpen.market.lines import GameLines, LineSettings, build_lines
from bullpen.market.store import load_h2h_snapshots
from bullpen.models import closing_line, mlflow_store
from bullpen.models.predict import predict_with_alias


@task(cache_policy=NONE)
def champion_strategy(devig_method: str) -> tuple[str, OpenerParams, str]:
    """(version, settings, why) of the closing-line champion; the backtest recorded the settings
    on the version (bullpen.opener.* tags)."""
    name = closing_line.CLOSING_LINE.registered_name
    version = mlflow_store.get_alias_version(
        runtime.mlflow_tracking_uri(), name, mlflow_store.CHAMPION
    )
    if version is None:
        raise LookupError(f"{name} has no champion: run train-models and backtest first")
    params, why = OpenerParams.from_tags(dict(version.tags or {}), devig_method=devig_method)
    return str(version.version), params, why


@task(cache_policy=NONE)
def read_lines(
    database_url: str, now: datetime, settings: LineSettings
) -> tuple[GameLines, pd.DataFrame]:
    """Moneyline lines as of `now` and the opening totals of the same games."""
    with engine.connect(database_url) as conn:
        first, last = live.game_window(now)
        games = live.games_in_window(conn, first, last)
        snapshots = load_h2h_snapshots(conn, until=now, game_ids=games)
        totals = live.load_totals_snapshots(conn, until=now, game_ids=games)
    lines = build_lines(snapshots, now, settings)
    return lines, live.open_totals(totals, settings.devig_method, settings.sharp_books)


@task(cache_policy=NONE)
def build_features(database_url: str, devig_method: str) -> pd.DataFrame:
    """The backtest's feature frame (load_feature_frame), kept on disk under bullpen's home
    while the games, results and play-by-play it is built from are unchanged."""
    frame, hit = load_feature_frame_cached(
        database_url, devig_method, get_settings().home / "cache"
    )
    print(f"feature frame: {len(frame)} games, {'from the disk cache' if hit else 'built'}")
    return frame


@task(cache_policy=NONE)
def score(inputs, expected_version: str) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """Predicted closing home probability per game that has an opening line (the base margin);
    the same scoring call the backtest makes for the champion's season."""
    scorable = inputs[inputs[live.OPEN_PROB].notna()]
    if scorable.empty:
        return {}
    p, version = predict_with_alias(
        runtime.mlflow_tracking_uri(), closing_line.CLOSING_LINE, scorable
    )
    if version != expected_version:
        raise RuntimeError(f"the champion moved from v{expected_version} to v{version} mid-run")
    return {int(g): float(v) for g, v in zip(scorable["game_id"], p, strict=True)}


@flow(name="recommend-bets", log_prints=True)
def recommend_bets(
    now: datetime | None = None,
    bankroll: float = 1000.0,
    kelly_multiplier: float | None = None,
    threshold: float | None = None,
    max_stake_fraction: float = 0.02,
    max_day_exposure: float = 0.2,
    max_odds_age_minutes: float = 30.0,
) -> dict:
    """Picks for every game not started at `now` (default: the current time).

    kelly_multiplier and threshold default to the settings chosen for the champion; the caps
    are fractions of the strategy's current bankroll (starting `bankroll` plus settled profit).
    """
    settings = get_settings()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    database_url = runtime.database_url(settings)
    version, params, why = champion_strategy(settings.devig_method)
    overrides = {
        k: v
        for k, v in (("kelly_multiplier", kelly_multiplier), ("threshold", threshold))
        if v is not None
    }
    if overrides:
        params = replace(params, **overrides)  # type: ignore[arg-type]
        why += f"; overridden by the run: {overrides}"
    policy = StakePolicy(
        starting_bankroll=bankroll,
        kelly_multiplier=params.kelly_multiplier,
        max_stake_fraction=max_stake_fraction,
        max_day_exposure=max_day_exposure,
    )
    line_settings = LineSettings(
        max_age=timedelta(minutes=max_odds_age_minutes), devig_method=settings.devig_method
    )
    lines, totals = read_lines(database_url, now, line_settings)
    upcoming = live.upcoming_games(lines)
    features = build_features(database_url, settings.devig_method)
    inputs = live.model_inputs(features, lines, upcoming["game_id"].tolist(), totals)
    scores = score(inputs, version)
    names = closing_line.CLOSING_LINE.features
    learned = live.features_with_history(features, names)
    missing = live.missing_by_game(inputs, learned)
    strategy = live.strategy_version(version, params)
    decisions, picks = live.decide(
        live.with_games(upcoming, inputs),
        lines,
        scores,
        missing,
        params,
        model_version=version,
        strategy=strategy,
    )
    with engine.connect(database_url) as conn:
        writes = record_picks(conn, picks, policy, at=now)
    result = live.RecommendResult(
        now=now,
        model_version=version,
        strategy_version=strategy,
        params=params,
        params_why=why,
        decisions=decisions,
        picks=picks,
        writes=writes,
        missing_features=live.missing_counts(missing, list(scores)),
        without_history=[n for n in names if n not in learned],
        excluded_quotes=len(lines.excluded),
    )
    rows = result.pick_rows()
    create_table_artifact(
        rows or [{"game": "no picks", "reason": str(result.counts())}],
        key="todays-picks",
        description=f"{strategy} at {now:%Y-%m-%d %H:%M} UTC",
    )
    print(
        f"recommend-bets {now:%Y-%m-%d %H:%M} UTC, champion v{version} ({why}): "
        f"games {result.counts()}, ledger {result.written()}"
        + (f"; missing live features {result.missing_features}" if result.missing_features else "")
    )
    return result.as_dict()


if __name__ == "__main__":
    recommend_bets()
