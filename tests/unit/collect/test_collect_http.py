"""Retry arithmetic, the circuit breaker's states and secret redaction (pure, no network)."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

import pytest

from bullpen.collect.http import (
    CircuitBreaker,
    CircuitOpenError,
    FetchedPayload,
    RedactSecretsFilter,
    RetryPolicy,
    TransientSourceError,
    backoff_seconds,
    error_message,
    redact,
    retry_after_seconds,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_repeated_failures_and_half_opens_later() -> None:
    clock = Clock()
    breaker = CircuitBreaker("api", failure_threshold=3, reset_after=60, clock=clock)
    for _ in range(2):
        breaker.before_request()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.before_request()
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError, match="api: circuit open after 3 failures"):
        breaker.before_request()
    clock.now += 59.9
    with pytest.raises(CircuitOpenError):
        breaker.before_request()
    clock.now += 0.2
    assert breaker.state == "half-open"
    breaker.before_request()  # the one trial request
    with pytest.raises(CircuitOpenError):
        breaker.before_request()  # nobody else while the trial runs
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_request()


def test_breaker_reopens_when_the_trial_fails() -> None:
    clock = Clock()
    breaker = CircuitBreaker("api", failure_threshold=1, reset_after=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    breaker.before_request()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 9
    with pytest.raises(CircuitOpenError):
        breaker.before_request()


def test_breaker_counts_only_failures_in_a_row() -> None:
    breaker = CircuitBreaker("api", failure_threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_circuit_open_and_exhausted_retries_are_transient_for_prefect() -> None:
    from bullpen.ops.prefect_process import is_transient

    assert is_transient(CircuitOpenError("x")) and is_transient(TransientSourceError("x"))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Sat, 20 Jul 2030 12:00:30 GMT", 30.0),
        ("Sat, 20 Jul 2030 11:00:00 GMT", 0.0),  # in the past: go now
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    now = datetime(2030, 7, 20, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now) == seconds


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(7)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [backoff_seconds(attempt, policy, rng) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= cap
        assert max(waits) > cap * 0.8  # jitter spans the whole range, not a constant


def test_redact_hides_keys_in_urls_and_log_records() -> None:
    url = "https://api.the-odds-api.com/v4/sports/baseball_mlb/odds?apiKey=s3cr3t&regions=us"
    assert redact(url) == url.replace("s3cr3t", "***")
    record = logging.LogRecord(
        "httpx", logging.INFO, "", 0, 'HTTP Request: GET %s "%s"', (url, "200"), None
    )
    assert RedactSecretsFilter().filter(record) is True
    assert "s3cr3t" not in record.getMessage() and "apiKey=***" in record.getMessage()


def test_error_message_reads_the_recorded_error_bodies() -> None:
    from tests.conftest import REPO

    folder = REPO / "tests" / "fixtures" / "mlb_statsapi"
    now = datetime(2030, 7, 20, tzinfo=UTC)
    for name, message in [
        ("error_404_not_found.json", "Object not found"),
        ("error_500.json", "Internal error occurred"),
    ]:
        payload = FetchedPayload("mlb_stats", "/x", now, 500, {}, (folder / name).read_bytes())
        assert error_message(payload) == message
    html = FetchedPayload("mlb_stats", "/x", now, 502, {}, b"<html>\n Bad   Gateway</html>")
    assert error_message(html) == "<html> Bad Gateway</html>"
