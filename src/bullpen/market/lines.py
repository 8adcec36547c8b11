"""Moneyline game lines from odds snapshots: open, close and now per book, vig-free, consensus,
best price per side. Pure functions over a snapshot frame (as stored in `odds_snapshots`).

A snapshot row is one book's two h2h prices (American) for one event at the book's own
`last_update`. Rows are read "as of" `now`: anything updated after `now` is not known yet, so a
replayed day sees exactly what a live run at that moment saw.

- open: a book's first two-sided, valid price before first pitch;
- close: a book's last quote before first pitch (last_update <= commence_time, as the
  `odds_open_close` view defines it); final only once the game has started (`events.started`);
- now: a book's latest quote at `now`, unless it is older than `max_age` (stale).

Close and now take the book's latest quote as it is: if that quote is one-sided or impossible the
book is excluded from that phase (with the reason) rather than falling back to an older price it
no longer offers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from bullpen.features.odds import (
    DEFAULT_DEVIG_METHOD,
    DEVIG_METHODS,
    american_to_decimal_array,
    devig_two_way,
)

SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "commence_time",
    "book",
    "last_update",
    "home_american",
    "away_american",
)
# Optional: carried through to every output when present (set once events are linked).
GAME_COLUMN = "game_id"
PHASES: tuple[str, ...] = ("open", "close", "now")
SIDES: tuple[str, ...] = ("home", "away")
EXCLUDED_COLUMNS: tuple[str, ...] = ("event_id", "book", "phase", "last_update", "reason")


@dataclass(frozen=True)
class LineSettings:
    """How lines are read.

    Attributes:
        max_age: a book's now-quote older than this (relative to `now`) is stale and excluded.
        devig_method: one of bullpen.features.odds.DEVIG_METHODS.
        sharp_books: Odds API bookmaker keys whose vig-free price is the consensus when quoted,
            in order of preference; otherwise the consensus is the median over books.
    """

    max_age: timedelta = timedelta(minutes=30)
    devig_method: str = DEFAULT_DEVIG_METHOD
    sharp_books: tuple[str, ...] = ("pinnacle",)

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive, got {self.max_age}")
        if self.devig_method not in DEVIG_METHODS:
            raise ValueError(f"devig_method must be one of {DEVIG_METHODS}")


@dataclass(frozen=True, eq=False)
class GameLines:
    """Lines as of `now`.

    books: one row per (event, book) with, per phase p, `p_home`/`p_away` (American),
        `p_time` (last_update) and `p_fair_home` (vig-free home probability); NaN/NaT where the
        book has no usable quote in that phase.
    consensus: one row per (event, phase): `fair_home`, `method` ("sharp:<book>" or "median"),
        `devig_method`, `n_books`.
    best: one row per (event, side) for the now phase of games not started yet: the highest
        decimal price, its book (ties: alphabetically first book), `n_books` quoting it.
    events: one row per event: commence_time, `started` (now >= commence_time); a started
        game's close is final, before that it is the latest pre-game quote so far.
    excluded: (event_id, book, phase, last_update, reason) for every snapshot or phase quote
        left out; phase "snapshot" marks a bad row in itself.
    """

    now: datetime
    settings: LineSettings
    books: pd.DataFrame
    consensus: pd.DataFrame
    best: pd.DataFrame
    events: pd.DataFrame
    excluded: pd.DataFrame = field(repr=False)


def build_lines(
    snapshots: pd.DataFrame, now: datetime, settings: LineSettings | None = None
) -> GameLines:
    """Per event and book: open, close and now; vig-free; consensus; best price per side.

    Args:
        snapshots: SNAPSHOT_COLUMNS (+ optional game_id); times tz-aware; prices American, NaN
            for a side the book does not quote.
        now: the moment the lines are read at (tz-aware).

    Raises:
        ValueError: missing columns or a naive `now`.
    """
    settings = settings or LineSettings()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    snaps = _prepare(snapshots, now_ts)
    keys = ["event_id", "book"]

    excluded: list[pd.DataFrame] = []
    bad = snaps[snaps["problem"].notna()]
    excluded.append(_excluded(bad, "snapshot", bad["problem"]))

    pregame = snaps[snaps["last_update"] <= snaps["commence_time"]]
    opened = pregame[pregame["problem"].isna()].groupby(keys, sort=False).head(1)
    closing = pregame.groupby(keys, sort=False).tail(1)
    latest = snaps.groupby(keys, sort=False).tail(1)

    close_ok, close_bad = _split_valid(closing)
    excluded.append(
        _excluded(
            close_bad, "close", "latest quote before first pitch is bad: " + close_bad["problem"]
        )
    )
    now_ok, now_bad = _split_valid(latest)
    excluded.append(_excluded(now_bad, "now", "latest quote is bad: " + now_bad["problem"]))
    age = now_ts - now_ok["last_update"]
    stale = age > settings.max_age
    minutes = (age[stale].dt.total_seconds() / 60).round(1).astype(str)
    excluded.append(
        _excluded(
            now_ok[stale],
            "now",
            "stale: last update " + minutes + f" min before now (max {_minutes(settings)})",
        )
    )
    now_ok = now_ok[~stale]

    books = snaps.drop_duplicates(keys)[[*_event_columns(snaps), "book"]]
    for phase, rows in (("open", opened), ("close", close_ok), ("now", now_ok)):
        books = books.merge(_phase_frame(rows, phase, settings.devig_method), on=keys, how="left")
    books = books.sort_values(keys, ignore_index=True)

    events = snaps.drop_duplicates("event_id")[_event_columns(snaps)].copy()
    events["started"] = now_ts >= events["commence_time"]
    events = events.sort_values("event_id", ignore_index=True)
    upcoming = events.loc[~events["started"], "event_id"]

    return GameLines(
        now=now_ts.to_pydatetime(),
        settings=settings,
        books=books,
        consensus=build_consensus(books, settings),
        # Line shopping is for bets before first pitch: a started game has no best price.
        best=best_prices(books[books["event_id"].isin(upcoming)], "now"),
        events=events,
        excluded=pd.concat(excluded, ignore_index=True)[list(EXCLUDED_COLUMNS)].sort_values(
            ["event_id", "book", "phase", "last_update"], ignore_index=True
        ),
    )


def build_consensus(books: pd.DataFrame, settings: LineSettings) -> pd.DataFrame:
    """One row per (event, phase): a sharp book's vig-free home probability when it quotes,
    else the median over the books that quote; the method is recorded with the number."""
    rows = []
    carry = _event_columns(books)
    for phase in PHASES:
        fair = f"{phase}_fair_home"
        quoted = books[books[fair].notna()]
        for _, group in quoted.groupby("event_id", sort=True):
            by_book = dict(zip(group["book"], group[fair], strict=True))
            sharp = next((b for b in settings.sharp_books if b in by_book), None)
            value = by_book[sharp] if sharp else float(np.median(list(by_book.values())))
            head = group.iloc[0]
            rows.append(
                {
                    **{c: head[c] for c in carry},
                    "phase": phase,
                    "fair_home": float(value),
                    "method": f"sharp:{sharp}" if sharp else "median",
                    "devig_method": settings.devig_method,
                    "n_books": len(by_book),
                }
            )
    columns = [*carry, "phase", "fair_home", "method", "devig_method", "n_books"]
    return pd.DataFrame(rows, columns=columns)


def best_prices(books: pd.DataFrame, phase: str = "now") -> pd.DataFrame:
    """Line shopping: per event and side, the book paying the most (highest decimal price)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}")
    carry = _event_columns(books)
    frames = []
    for side in SIDES:
        col = f"{phase}_{side}"
        quoted = books[books[col].notna()].copy()
        quoted["side"] = side
        quoted["price_american"] = quoted[col].astype("int64")
        quoted["price_decimal"] = american_to_decimal_array(quoted[col])
        quoted["last_update"] = quoted[f"{phase}_time"]
        quoted["n_books"] = quoted.groupby("event_id")["book"].transform("size")
        # Highest price first; the book name breaks ties so reruns pick the same book.
        quoted = quoted.sort_values(
            ["event_id", "price_decimal", "book"], ascending=[True, False, True]
        )
        frames.append(quoted.groupby("event_id", sort=False).head(1))
    columns = [*carry, "side", "book", "price_american", "price_decimal", "last_update", "n_books"]
    if not frames:
        return pd.DataFrame(columns=columns)
    best = pd.concat(frames, ignore_index=True)[columns]
    return best.sort_values(["event_id", "side"], ascending=[True, False], ignore_index=True)


# --- internals ---------------------------------------------------------------------------------


def _prepare(snapshots: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    missing = [c for c in SNAPSHOT_COLUMNS if c not in snapshots.columns]
    if missing:
        raise ValueError(f"snapshots are missing columns: {missing}")
    columns = [*SNAPSHOT_COLUMNS] + ([GAME_COLUMN] if GAME_COLUMN in snapshots.columns else [])
    snaps = snapshots[columns].copy()
    for col in ("commence_time", "last_update"):
        snaps[col] = pd.to_datetime(snaps[col], utc=True)
    for col in ("home_american", "away_american"):
        snaps[col] = pd.to_numeric(snaps[col], errors="coerce").astype("float64")
    # As of `now`: later updates are not known yet (a replay must not see the future).
    snaps = snaps[snaps["last_update"] <= now]
    snaps = snaps.sort_values(["event_id", "book", "last_update"], kind="stable")
    snaps = snaps.drop_duplicates(["event_id", "book", "last_update"], keep="last")
    snaps["problem"] = _problems(snaps)
    return snaps.reset_index(drop=True)


def _problems(snaps: pd.DataFrame) -> pd.Series:
    """Why a snapshot row cannot be used (None when it can)."""
    home, away = snaps["home_american"], snaps["away_american"]
    no_home, no_away = home.isna(), away.isna()
    # American prices live in (-inf, -100] and [100, inf): 0, -50 or +80 are impossible.
    impossible = ~(no_home | no_away) & ~((home.abs() >= 100) & (away.abs() >= 100))
    reasons = pd.Series(None, index=snaps.index, dtype="object")
    reasons[no_home & no_away] = "no price on either side"
    reasons[no_home & ~no_away] = "one-sided: quotes only away"
    reasons[~no_home & no_away] = "one-sided: quotes only home"
    if impossible.any():
        bad = snaps[impossible]
        reasons[impossible] = [
            f"impossible price: home {h:g}, away {a:g} (need |price| >= 100)"
            for h, a in zip(bad["home_american"], bad["away_american"], strict=True)
        ]
    return reasons


def _split_valid(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ok = rows["problem"].isna()
    return rows[ok], rows[~ok]


def _excluded(rows: pd.DataFrame, phase: str, reason: pd.Series | str) -> pd.DataFrame:
    out = rows[["event_id", "book", "last_update"]].copy()
    out["phase"] = phase
    out["reason"] = reason
    return out


def _phase_frame(rows: pd.DataFrame, phase: str, method: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "event_id": rows["event_id"],
            "book": rows["book"],
            f"{phase}_home": rows["home_american"],
            f"{phase}_away": rows["away_american"],
            f"{phase}_time": rows["last_update"],
            f"{phase}_fair_home": devig_two_way(
                rows["home_american"], rows["away_american"], method
            ),
        }
    )
    return out


def _event_columns(frame: pd.DataFrame) -> list[str]:
    base = ["event_id"] + ([GAME_COLUMN] if GAME_COLUMN in frame.columns else [])
    return base + (["commence_time"] if "commence_time" in frame.columns else [])


def _minutes(settings: LineSettings) -> str:
    return f"{settings.max_age.total_seconds() / 60:g}"


def phase_columns(phase: str) -> Sequence[str]:
    """The columns `GameLines.books` holds for one phase."""
    return tuple(f"{phase}_{suffix}" for suffix in ("home", "away", "time", "fair_home"))
