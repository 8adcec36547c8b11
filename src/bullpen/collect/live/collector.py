"""One live collection, end to end: fetch → archive → parse → write, for games and for odds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import psycopg
from pydantic import SecretStr

from bullpen.collect.http import (
    FetchedPayload,
    Source,
    SourceError,
    error_message,
)
from bullpen.collect.live import archive, finished, mlb_stats, odds_api, store
from bullpen.collect.live.mlb_stats import GamesParse
from bullpen.collect.records import QuarantinedRecord
from bullpen.config import data_dir

log = logging.getLogger(__name__)

MAX_FEEDS_PER_RUN = 50  # a schedule with more broken listings than this is a schema change


@dataclass(frozen=True, slots=True)
class GamesSummary:
    start: date
    end: date
    games: int
    results: int
    quarantined: int
    skipped: int
    feeds_fetched: int
    linked_events: int
    unlinked_events: int  # Odds API events quarantined: no game for them (or a duplicate)
    # after the schedule (collect/live/finished.py): probable pitchers and flagged picks
    probables: int = 0
    probables_unmapped: int = 0
    starter_changes: int = 0


@dataclass(frozen=True, slots=True)
class OddsSummary:
    events: int
    snapshots: int
    new_snapshots: int
    quarantined: int
    linked_events: int
    unlinked_events: int  # Odds API events quarantined: no game for them (or a duplicate)
    requests_remaining: int | None


def _archive_failure(
    conn: psycopg.Connection, source: Source, payload: FetchedPayload | None = None
) -> None:
    # Error bodies are payloads too: keep them, in their own transaction, before failing the run.
    payloads = source.drain_failures() + ([payload] if payload is not None else [])
    if payloads:
        with conn.transaction(), conn.cursor() as cur:
            archive.archive_payloads(cur, payloads)


def _send(
    conn: psycopg.Connection, source: Source, request: Callable[[], FetchedPayload]
) -> FetchedPayload:
    """Send `request`; what failed (error answers, unreachable retries) is archived first."""
    try:
        payload = request()
    except ConnectionError:  # retries spent or breaker open
        _archive_failure(conn, source)
        raise
    if payload.status != 200:
        _archive_failure(conn, source, payload)
    return payload


def collect_games(conn: psycopg.Connection, source: Source, start: date, end: date) -> GamesSummary:
    """Schedule and results for `start`..`end` (MLB dates), plus the game feed of any listing
    without teams, written as one batch; then the probable pitchers and the picks whose
    starter changed since (collect/live/finished.py).

    Raises:
        SourceError: the schedule request was answered with an error (4xx); body archived.
        TransientSourceError, CircuitOpenError: the API stayed unreachable; retry later.
    """
    schedule = _send(conn, source, lambda: mlb_stats.fetch_schedule(source, start, end))
    if schedule.status != 200:
        raise SourceError(
            f"MLB Stats API answered HTTP {schedule.status} for {schedule.request}: "
            f"{error_message(schedule)}"
        )
    parsed = mlb_stats.parse_schedule(schedule.body, file=schedule.label)
    batches: list[tuple[FetchedPayload, GamesParse]] = [(schedule, parsed)]
    unreachable: list[QuarantinedRecord] = []
    for game_pk, listed in parsed.need_feed[:MAX_FEEDS_PER_RUN]:
        try:
            batches.append(_feed(source, game_pk, listed))
        except ConnectionError as exc:  # retries spent or breaker open: this game waits
            reason = f"game feed unreachable: {exc}"
            where = f"{mlb_stats.SOURCE}:{mlb_stats.feed_path(game_pk)}"
            unreachable.append(
                QuarantinedRecord(mlb_stats.SOURCE, where, 0, reason, {"gamePk": game_pk})
            )
    batches.extend((failed, GamesParse()) for failed in source.drain_failures())
    written = store.write_games_batch(conn, batches, extra_quarantine=unreachable)
    after = finished.record_probables(conn, data_dir())
    return GamesSummary(
        start=start,
        end=end,
        games=written.games,
        results=written.results,
        quarantined=written.quarantined,
        skipped=written.skipped,
        feeds_fetched=min(len(parsed.need_feed), MAX_FEEDS_PER_RUN),
        linked_events=written.linked_events,
        unlinked_events=written.unlinked_events,
        probables=after.probables,
        probables_unmapped=after.probables_unmapped,
        starter_changes=after.starter_changes,
    )


def collect_finished_games(
    conn: psycopg.Connection, source: Source, start: date, end: date
) -> finished.PlaysSummary:
    """Play-by-play of `start`..`end`'s final games without any yet, from their game feeds
    (after collect_games has marked them final). Refused feeds are quarantined with the reason.
    """
    return finished.load_finished_games(conn, source, start, end, data_dir())


def _feed(source: Source, game_pk: int, listed_date: date) -> tuple[FetchedPayload, GamesParse]:
    """A game feed parsed, or its failure as a quarantined record (404 and the like)."""
    feed = mlb_stats.fetch_game_feed(source, game_pk)
    if feed.status == 200:
        return feed, mlb_stats.parse_game_feed(
            feed.body, file=feed.label, game_pk=game_pk, listed_date=listed_date
        )
    reason = f"game feed HTTP {feed.status}: {error_message(feed)}"
    failed = QuarantinedRecord(mlb_stats.SOURCE, feed.label, 0, reason, {"gamePk": game_pk})
    return feed, GamesParse(quarantined=[failed])


def collect_odds(
    conn: psycopg.Connection,
    source: Source,
    request: odds_api.OddsRequest,
    api_key: SecretStr,
    *,
    min_remaining: int,
) -> OddsSummary:
    """One snapshot of current MLB odds, written as one batch.

    The last quota the API reported is checked first: no request is sent if it would leave
    fewer than `min_remaining` requests.

    Raises:
        QuotaExhaustedError: quota (nearly) spent; nothing was requested, or the API refused.
        SourceError: the API answered with another error (bad key, bad parameters).
        TransientSourceError, CircuitOpenError: the API stayed unreachable; retry later.
    """
    go, why = odds_api.should_fetch(archive.last_odds_quota(conn), request.cost, min_remaining)
    if not go:
        raise odds_api.QuotaExhaustedError(why)
    payload = _send(conn, source, lambda: odds_api.fetch_odds(source, request, api_key))
    odds_api.check_response(payload)  # raises for anything but 200
    parsed = odds_api.parse_odds(
        payload.body,
        file=payload.label,
        odds_format=request.odds_format,
        fetched_at=payload.fetched_at,
    )
    written = store.write_odds_batch(conn, payload, parsed, retried=source.drain_failures())
    quota = odds_api.quota_from_headers(payload.headers)
    if quota.remaining is not None and quota.remaining - request.cost < min_remaining:
        log.warning(
            "The Odds API quota: %d requests left; the next snapshot will be skipped",
            quota.remaining,
        )
    return OddsSummary(
        events=written.events,
        snapshots=written.snapshots,
        new_snapshots=written.new_snapshots,
        quarantined=written.quarantined,
        linked_events=written.linked_events,
        unlinked_events=written.unlinked_events,
        requests_remaining=quota.remaining,
    )


def replay_payload(conn: psycopg.Connection, payload_id: int, *, odds_format: str = "") -> object:
    """Parse an archived payload again and write it (idempotent): after a parser fix, or to
    check that a stored parse is reproducible. Odds payloads take their format from the request.
    """
    payload = archive.read_payload(conn, payload_id)
    if payload.source == odds_api.SOURCE:
        fmt = odds_format or ("decimal" if "oddsFormat=decimal" in payload.request else "american")
        parsed = odds_api.parse_odds(
            payload.body, file=payload.label, odds_format=fmt, fetched_at=payload.fetched_at
        )
        return store.write_odds_batch(conn, payload, parsed)
    if payload.request.startswith(mlb_stats.SCHEDULE_PATH):
        schedule = mlb_stats.parse_schedule(payload.body, file=payload.label)
        return store.write_games_batch(conn, [(payload, schedule)])
    raise ValueError(f"payload {payload_id} ({payload.request}) has no replayable parser")
