"""HTTP for collectors: one GET with retries on transient errors only, backoff, and a breaker."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import httpx

log = logging.getLogger(__name__)

# Response headers kept with an archived payload; everything else is noise (cookies, CDN ids).
KEPT_HEADERS = (
    "content-type",
    "retry-after",
    "x-requests-remaining",
    "x-requests-used",
    "x-requests-last",
)


class SourceError(RuntimeError):
    """A source answered, but not with something a retry can fix (4xx, bad key, quota)."""


class TransientSourceError(ConnectionError):
    """The source stayed unreachable or failing (timeouts, 5xx, 429) after every attempt.

    A ConnectionError, so `prefect_process.is_transient` lets the Prefect task retry later.
    """

    def __init__(self, message: str, payload: FetchedPayload | None = None) -> None:
        super().__init__(message)
        self.payload = payload


class CircuitOpenError(ConnectionError):
    """The source's breaker is open: recent requests failed, so none is sent for a while."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FetchedPayload:
    """One HTTP response as received, with when and from where (secrets removed)."""

    source: str  # "mlb_stats" | "odds_api"
    request: str  # path?query, secrets removed
    fetched_at: datetime
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def label(self) -> str:
        """Where a quarantined record came from (quarantine.file): source, request, fetch time."""
        return f"{self.source}:{self.request}@{self.fetched_at.astimezone(UTC).isoformat()}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5  # seconds; attempt n waits up to base * 2**(n-1) (full jitter)
    backoff_max: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After fails fast instead of blocking a worker


# Breaker defaults, defined once: the live collectors' breakers (flows/collect_live.py) use them,
# and the ops readers judge a breaker's state from its persisted failures with the same numbers.
BREAKER_FAILURE_THRESHOLD = 5
BREAKER_RESET_SECONDS = 60.0


class CircuitBreaker:
    """Closed → open after `failure_threshold` failures in a row → half-open after `reset_after`
    seconds (one trial request) → closed on success, open again on failure. Thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = BREAKER_FAILURE_THRESHOLD,
        reset_after: float = BREAKER_RESET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after:
            return "half-open"
        return "open"

    def before_request(self) -> None:
        """Raise CircuitOpenError unless a request may go out now."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and not self._trial_running:
                self._trial_running = True
                return
            assert self._opened_at is not None
            wait = max(0.0, self.reset_after - (self._clock() - self._opened_at))
            raise CircuitOpenError(
                f"{self.name}: circuit open after {self._failures} failures in a row; "
                f"next trial in {wait:.0f} s"
            )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_running or self._failures >= self.failure_threshold:
                log.warning("%s: circuit open after %d failures", self.name, self._failures)
                self._opened_at = self._clock()
            self._trial_running = False


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date; None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_seconds(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**(attempt-1))]."""
    return rng.uniform(0.0, min(policy.backoff_max, policy.backoff_base * 2 ** (attempt - 1)))


_SECRET_QUERY = re.compile(r"(?i)(apikey|api_key|key|token)=[^&\s\"']+")


def redact(text: str) -> str:
    """Remove credential values from a URL or message (`apiKey=...` → `apiKey=***`)."""
    return _SECRET_QUERY.sub(r"\1=***", text)


class RedactSecretsFilter(logging.Filter):
    """Logging filter: httpx logs every request URL at INFO, and The Odds API key is in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction(logger_names: tuple[str, ...] = ("httpx", "httpcore")) -> None:
    """Attach RedactSecretsFilter to the HTTP libraries' loggers (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())


def fetch(
    client: httpx.Client,
    source: str,
    path: str,
    params: Mapping[str, str],
    *,
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    secret_params: Mapping[str, str] | None = None,
    acquire: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    failures: list[FetchedPayload] | None = None,
) -> FetchedPayload:
    """GET `path` and return the response as received, whatever its status below 500 (not 429).

    Timeouts, transport errors, 5xx and 429 are retried up to `policy.max_attempts` times, with
    full-jitter backoff or the server's Retry-After; `acquire` runs before every attempt (a
    rate limit). `secret_params` are sent but never recorded or logged. Each retried answer
    (429, 5xx) is appended to `failures`, so the caller can archive every response it received.

    Raises:
        CircuitOpenError: the breaker is open (no request was sent).
        TransientSourceError: still failing after the last attempt, or Retry-After too long.
    """
    rng = rng or random.Random()
    request = f"{path}?{urlencode(sorted(params.items()))}" if params else path
    query = {**params, **(secret_params or {})}
    problem = "no attempt made"
    last: FetchedPayload | None = None
    for attempt in range(1, policy.max_attempts + 1):
        breaker.before_request()
        if acquire is not None:
            acquire()
        delay: float | None = None
        try:
            response = client.get(path, params=query)
        except httpx.TransportError as exc:  # timeouts, refused/reset connections, bad framing
            breaker.record_failure()
            problem = f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
        else:
            last = FetchedPayload(
                source=source,
                request=request,
                fetched_at=clock(),
                status=response.status_code,
                headers={k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
                body=response.content,
            )
            retried = response.status_code == 429 or response.status_code >= 500
            if retried and failures is not None:
                failures.append(last)
            if response.status_code == 429:
                # Too fast for the source: not a failure of the source, so the breaker stays put.
                problem = "HTTP 429 Too Many Requests"
                delay = retry_after_seconds(response.headers.get("retry-after"), clock())
            elif response.status_code >= 500:
                breaker.record_failure()
                problem = f"HTTP {response.status_code}"
                delay = retry_after_seconds(response.headers.get("retry-after"), clock())
            else:
                breaker.record_success()
                return last
        if delay is not None and delay > policy.max_retry_after:
            raise TransientSourceError(
                f"{source} {request}: {problem}, Retry-After {delay:.0f} s exceeds "
                f"{policy.max_retry_after:.0f} s",
                last,
            )
        if attempt == policy.max_attempts:
            break
        wait = delay if delay is not None else backoff_seconds(attempt, policy, rng)
        log.warning(
            "%s %s: %s (attempt %d/%d), retrying in %.1f s",
            source,
            request,
            problem,
            attempt,
            policy.max_attempts,
            wait,
        )
        sleep(wait)
    raise TransientSourceError(
        f"{source} {request}: {problem} after {policy.max_attempts} attempts", last
    )


@dataclass(slots=True)
class Source:
    """One API as the collectors call it: client, retry policy, breaker and rate-limit hook."""

    name: str
    client: httpx.Client
    policy: RetryPolicy
    breaker: CircuitBreaker
    acquire: Callable[[], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = utc_now
    # Answers that were retried (429, 5xx), kept for the archive until `drain_failures`.
    failures: list[FetchedPayload] = field(default_factory=list)

    def drain_failures(self) -> list[FetchedPayload]:
        drained, self.failures = self.failures, []
        return drained

    def get(
        self,
        path: str,
        params: Mapping[str, str],
        secret_params: Mapping[str, str] | None = None,
    ) -> FetchedPayload:
        return fetch(
            self.client,
            self.name,
            path,
            params,
            policy=self.policy,
            breaker=self.breaker,
            secret_params=secret_params,
            acquire=self.acquire,
            sleep=self.sleep,
            clock=self.clock,
            failures=self.failures,
        )


def make_client(base_url: str, timeout: float) -> httpx.Client:
    """An httpx client for one API (its request logs redacted); the caller closes it."""
    install_redaction()
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": "bullpen-collector/0.1", "Accept": "application/json"},
        follow_redirects=False,
    )


def error_message(payload: FetchedPayload, limit: int = 200) -> str:
    """The `message` of a JSON error body (both APIs use that key), else the body's start."""
    text = payload.body[:4000].decode("utf-8", "replace")
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    message = message if isinstance(message, str) else text.strip()
    message = redact(" ".join(message.split()))
    return message if len(message) <= limit else message[: limit - 1] + "…"
