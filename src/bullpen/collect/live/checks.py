"""Strict JSON and schema checks shared by the live API parsers (mlb_stats, odds_api).

A record that fails a check raises Reject; its message becomes the quarantine reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

log = logging.getLogger(__name__)

_MAX_DEPTH = 40

T = TypeVar("T")


class Reject(ValueError):
    """A record that cannot be trusted; the message is the quarantine reason."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999 overflows; jsonb cannot hold it either
        raise ValueError(f"non-finite number {short(text, 20)}")
    return value


def load_json(body: bytes) -> Any:
    """Strict JSON (no NaN/Infinity); raises Reject with the decoder's reason."""
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise Reject("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, over-long integers
        raise Reject(f"invalid JSON: {short(str(exc))}") from None


def short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_text(text: str) -> str:
    # jsonb rejects NUL and lone surrogates; keep them visible as escapes instead.
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        return "".join(
            f"\\u{ord(ch):04x}" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text
        )
    return text


def jsonb_safe(value: Any, depth: int = 0) -> Any:
    """A copy of a decoded JSON value that PostgreSQL jsonb accepts (for quarantine.raw)."""
    if depth > _MAX_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): jsonb_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonb_safe(v, depth + 1) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)  # load_json refuses these; callers building raw by hand might not
    return value


def require_text(value: Any, what: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Reject(f"schema: {what} is not a non-empty string")
    if len(value) > limit or "\x00" in value:
        raise Reject(f"schema: {what} is not a plausible string")
    return value


def require_int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Reject(f"schema: {what} is not an integer")
    if not low <= value <= high:
        raise Reject(f"implausible {what} {value}")
    return value


def require_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Reject(f"schema: {what} is not an object")
    return value


def require_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Reject(f"schema: {what} is not a list")
    return value


def _iso(value: Any, what: str, limit: int, parse: Callable[[str], T], kind: str) -> T:
    text = require_text(value, what, limit=limit)
    try:
        return parse(text)
    except ValueError:
        raise Reject(f"schema: {what} {short(text, limit)!r} is not {kind}") from None


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 instant with a zone (e.g. 2024-05-24T22:40:00Z), as UTC."""
    parsed = _iso(value, what, 40, datetime.fromisoformat, "an ISO time")
    text = str(value)
    if parsed.tzinfo is None or not 2000 <= parsed.year <= 2100:
        raise Reject(f"schema: {what} {short(text, 40)!r} is not a zoned time in 2000-2100")
    return parsed.astimezone(UTC)


def parse_day(value: Any, what: str) -> date:
    parsed = _iso(value, what, 20, date.fromisoformat, "a date")
    if not 2000 <= parsed.year <= 2100:
        raise Reject(f"implausible {what} {parsed}")
    return parsed


def attempt(build: Callable[..., T], *args: Any) -> tuple[T | None, str | None]:
    """(value, None), or (None, reason): a Reject (or, defensively, any bug) rejects one record."""
    try:
        return build(*args), None
    except Reject as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad record must never sink the batch
        log.exception("unexpected error in %s", getattr(build, "__name__", build))
        return None, f"unexpected parser error: {type(exc).__name__}"
