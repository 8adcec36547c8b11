"""The Odds API v4 (key required): the MLB odds request and its quota rules; HTTP only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from bullpen.collect.http import FetchedPayload, Source, SourceError, error_message

log = logging.getLogger(__name__)

SOURCE = "odds_api"
ODDS_PATH = "/v4/sports/baseball_mlb/odds"


class QuotaExhaustedError(SourceError):
    """The monthly request quota is (nearly) spent: no request was sent, or the API refused."""


@dataclass(frozen=True, slots=True)
class OddsRequest:
    """What one snapshot asks for; the quota cost is markets x regions."""

    regions: str = "us"
    markets: str = "h2h,totals,spreads"
    odds_format: str = "american"  # or "decimal"

    def params(self) -> dict[str, str]:
        if self.odds_format not in ("american", "decimal"):
            raise ValueError(f"odds_format must be american or decimal, not {self.odds_format!r}")
        return {
            "regions": self.regions,
            "markets": self.markets,
            "oddsFormat": self.odds_format,
            "dateFormat": "iso",
        }

    @property
    def cost(self) -> int:
        return len(self.markets.split(",")) * len(self.regions.split(","))


@dataclass(frozen=True, slots=True)
class Quota:
    remaining: int | None
    used: int | None
    last: int | None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def quota_from_headers(headers: Mapping[str, str]) -> Quota:
    """x-requests-remaining / -used / -last as sent with every response (None when missing)."""
    return Quota(
        _header_int(headers, "x-requests-remaining"),
        _header_int(headers, "x-requests-used"),
        _header_int(headers, "x-requests-last"),
    )


def should_fetch(remaining: int | None, cost: int, reserve: int) -> tuple[bool, str]:
    """Whether a request costing `cost` still leaves `reserve` requests of the quota.

    `remaining` is the last value the API reported; unknown (no request yet) means go ahead,
    since the response will report it.
    """
    if remaining is None:
        return True, "quota not known yet"
    if remaining - cost < reserve:
        return False, (
            f"The Odds API quota: {remaining} requests left, this snapshot costs {cost}, "
            f"reserve is {reserve}; not fetching"
        )
    return True, f"{remaining} requests left"


def fetch_odds(source: Source, request: OddsRequest, api_key: SecretStr) -> FetchedPayload:
    """`GET /v4/sports/baseball_mlb/odds?...`; the key is sent but never recorded or logged."""
    return source.get(ODDS_PATH, request.params(), {"apiKey": api_key.get_secret_value()})


def check_response(payload: FetchedPayload) -> None:
    """Raise a clear error for a non-200 answer (the key never appears in the message).

    Raises:
        QuotaExhaustedError: 401/403 saying the usage quota is spent.
        SourceError: any other non-200 answer (bad key, bad parameters, unknown sport).
    """
    if payload.status == 200:
        return
    message = error_message(payload)
    body = payload.body[:4000].decode("utf-8", "replace").upper()
    if payload.status in (401, 403) and ("OUT_OF_USAGE_CREDITS" in body or "QUOTA" in body):
        raise QuotaExhaustedError(f"The Odds API refused: quota spent ({message})")
    raise SourceError(
        f"The Odds API answered HTTP {payload.status} for {payload.request}: {message}"
    )
