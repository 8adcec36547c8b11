"""Collect live MLB games (MLB Stats API) and odds snapshots (The Odds API) into Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from datetime import UTC, date, datetime

import psycopg
from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from pydantic import SecretStr
from shared_tasks import transient_retries

from bullpen import runtime
from bullpen.collect import http
from bullpen.collect.live import collector, mlb_stats, odds_api
from bullpen.config import Settings, get_settings
from bullpen.db import engine

# Prefect global rate limits per API: (slots, slots freed per second); created when missing.
RATE_LIMITS = {"mlb-stats-api": (10, 5.0), "odds-api": (1, 1.0)}
_LIMIT_OF = {mlb_stats.SOURCE: "mlb-stats-api", odds_api.SOURCE: "odds-api"}
# One breaker per API per worker process, so task retries see the failures before them.
BREAKERS = {
    name: http.CircuitBreaker(name, failure_threshold=http.BREAKER_FAILURE_THRESHOLD)
    for name in _LIMIT_OF
}


@contextmanager
def api_source(name: str, base_url: str, settings: Settings) -> Iterator[http.Source]:
    with http.make_client(base_url, settings.http_timeout_seconds) as client:
        yield http.Source(
            name,
            client,
            http.RetryPolicy(max_attempts=settings.http_max_attempts),
            BREAKERS[name],
            acquire=lambda: rate_limit(_LIMIT_OF[name]),
        )


@task(cache_policy=NONE)
def prepare(database_url: str) -> None:
    runtime.prepare_database(database_url)
    with get_client(sync_client=True) as client:
        for name, (slots, decay) in RATE_LIMITS.items():
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                limit = GlobalConcurrencyLimitCreate(
                    name=name, limit=slots, slot_decay_per_second=decay
                )
                # A collect run that started at the same moment may have created it first.
                with suppress(ObjectAlreadyExists):
                    client.create_global_concurrency_limit(limit)


@contextmanager
def api_session(
    name: str, base_url: str, settings: Settings, database_url: str
) -> Iterator[tuple[http.Source, psycopg.Connection]]:
    """The API's source and a database connection, for one task run."""
    with api_source(name, base_url, settings) as source, engine.connect(database_url) as conn:
        yield source, conn


@transient_retries([30, 120], "collect-games-{start}-{end}")
def collect_schedule(
    database_url: str, settings: Settings, start: date, end: date
) -> dict[str, object]:
    base_url = settings.mlb_stats_base_url
    with api_session(mlb_stats.SOURCE, base_url, settings, database_url) as (source, conn):
        return asdict(collector.collect_games(conn, source, start, end))


@transient_retries([30, 120], "collect-plays-{start}-{end}")
def collect_plays(
    database_url: str, settings: Settings, start: date, end: date
) -> dict[str, object]:
    base_url = settings.mlb_stats_base_url
    with api_session(mlb_stats.SOURCE, base_url, settings, database_url) as (source, conn):
        return asdict(collector.collect_finished_games(conn, source, start, end))


@transient_retries([20, 60], "collect-odds-snapshot")
def collect_odds_snapshot(
    database_url: str, settings: Settings, request: odds_api.OddsRequest, api_key: SecretStr
) -> dict[str, object]:
    base_url = settings.odds_api_base_url
    reserve = settings.odds_api_min_remaining
    with api_session(odds_api.SOURCE, base_url, settings, database_url) as (source, conn):
        return asdict(collector.collect_odds(conn, source, request, api_key, min_remaining=reserve))


# Each flow resolves its resources (settings, database URL, API key) once and hands them to its
# tasks; a task retry reuses them.


@flow(name="collect-games")
def collect_games(start_date: date | None = None, end_date: date | None = None) -> dict:
    """Schedule, status, results and probable pitchers for start..end (default: yesterday and
    today, US Eastern), then the play-by-play of the range's newly final games."""
    yesterday, today = mlb_stats.default_dates(datetime.now(UTC))
    start = start_date or yesterday
    end = end_date or (start_date or today)
    settings = get_settings()
    database_url = runtime.database_url(settings)
    prepare(database_url)
    summary = collect_schedule(database_url, settings, start, end)
    # Then the play-by-play of the range's newly final games (player features read it).
    summary["plays"] = collect_plays(database_url, settings, start, end)
    return summary


@flow(name="collect-odds")
def collect_odds(
    regions: str = "us", markets: str = "h2h,totals,spreads", odds_format: str = "american"
) -> dict:
    """One timestamped snapshot of every bookmaker's current MLB prices."""
    settings = get_settings()
    database_url = runtime.database_url(settings)
    prepare(database_url)
    request = odds_api.OddsRequest(regions=regions, markets=markets, odds_format=odds_format)
    return collect_odds_snapshot(database_url, settings, request, runtime.odds_api_key(settings))


if __name__ == "__main__":
    collect_games()
