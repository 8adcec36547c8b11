"""Parse SportsbookReviewsOnline (SBR) season odds files into game records; quarantine bad rows."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import PurePath
from typing import Any, ClassVar, NamedTuple

from bullpen.collect.records import GameRecord, ParseResult, QuarantinedRecord
from bullpen.teams import UnknownTeamError, team_from_sbr

SOURCE = "sbr"

# What a quarantine entry did to the data, kept in QuarantinedRecord.raw["action"]: the pair was
# not emitted as a game, or the game was emitted with raw["fields"] set to None.
ACTION_DROPPED_GAME = "dropped_game"
ACTION_NULLED_FIELDS = "nulled_fields"

# One book's two-way MLB market carries a margin of about 2-5 %. A pair below 1.0 is an arbitrage
# no book offers, and one above 1.10 (e.g. both sides favourites, as in SBR's scrambled 2020-09-18
# rows) is no market either: both are transcription errors.
MIN_OVERROUND = 1.0
MAX_OVERROUND = 1.10
# SBR's known typos (2019-05-04 CIN -1235) have four digits; no MLB line reaches ±1000.
MAX_ABS_PRICE = 1000
# MLB totals run from about 5 to 16 runs; SBR's 98 and 100-104 (2018, 2019) are typos.
MAX_TOTAL = 30.0
# A game that ran past midnight carries the next date on its home row (2010 630/701).
MAX_PAIR_DATE_GAP_DAYS = 1

_MISSING = frozenset({"", "NL"})  # empty cell, or SBR's "no line" / "no result"
_HAND_SUFFIX = re.compile(r"-([LR])$")
_PITCHER_PLACEHOLDERS = frozenset({"UNDECIDED"})
_PAIR_FLAGS = frozenset({("V", "H"), ("N", "N")})  # visitor/home, or neutral site (2nd row home)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


class _CellError(ValueError):
    """A cell that is neither a value nor a known 'missing' marker."""


class _PairRejected(Exception):
    """The two rows cannot be read as one game."""


def season_from_file_name(name: str) -> int:
    """Season of an SBR file from its name: "mlb_odds_2019.csv" or "mlb_odds_2019.csv.gz" -> 2019.

    Raises:
        ValueError: the name holds no year, or more than one.
    """
    years = set(_YEAR.findall(PurePath(name).name))
    if len(years) != 1:
        raise ValueError(f"cannot tell the season from file name {name!r}")
    return int(years.pop())


def _number_or_none(cell: str, text: str) -> float | None:
    """`text` (the cell, cleaned) as a number, None for a missing-value mark."""
    if text in _MISSING:
        return None
    try:
        return float(text)
    except ValueError:
        raise _CellError(f"not a number: {cell!r}") from None


def _parse_int(cell: str) -> int | None:
    try:
        return int(cell)  # the common case first; int() ignores surrounding whitespace
    except ValueError:
        pass
    value = _number_or_none(cell, cell.strip())
    if value is None:
        return None
    if not value.is_integer():
        raise _CellError(f"not a whole number: {cell!r}")
    return int(value)


def _parse_float(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        # SBR's 2010 totals are written "8½".
        parsed = _number_or_none(cell, cell.strip().replace("½", ".5"))
        if parsed is None:
            return None
        value = parsed
    if not math.isfinite(value):
        raise _CellError(f"not a number: {cell!r}")
    return value


def _parse_month_day(cell: str, season: int) -> date:
    text = cell.strip()
    if not text.isdigit() or not 3 <= len(text) <= 4:
        raise _CellError(f"Date {cell!r} is not MMDD")
    value = int(text)
    try:
        return date(season, value // 100, value % 100)
    except ValueError:
        raise _CellError(f"Date {cell!r} is not a day of {season}") from None


@lru_cache(maxsize=8192)  # a season has well under 1,000 distinct pitcher cells
def parse_pitcher(cell: str) -> tuple[str | None, str | None]:
    """Split SBR's "MGONZALES-L" into ("MGONZALES", "L").

    Names are upper-cased because SBR spells one pitcher both "RMcCLAIN" and "RMcClain". A repeated
    suffix ("KBUBIC-L-L") is removed whole; if its letters disagree ("NPEARSON-R-L") the hand is
    None. A blank cell or SBR's "UNDECIDED" placeholder gives (None, None); a name without a
    suffix gives (name, None).
    """
    name = cell.strip().upper()
    if not name or name in _PITCHER_PLACEHOLDERS:
        return None, None
    hands: list[str] = []
    while (match := _HAND_SUFFIX.search(name)) and match.start() > 0:
        hands.append(match.group(1))
        name = name[: match.start()]
    hand = hands[0] if hands and len(set(hands)) == 1 else None
    return name, hand


def _implied(price: int) -> float:
    return 100 / (price + 100) if price > 0 else -price / (100 - price)


@lru_cache(maxsize=65536)  # price pairs repeat a lot; this runs five times per game
def _price_pair_problem(first: int, second: int) -> str | None:
    """Why two American prices cannot be the two sides of one market, or None if they can."""
    if abs(first) >= MAX_ABS_PRICE or abs(second) >= MAX_ABS_PRICE:
        return f"price of {MAX_ABS_PRICE} or more ({first}, {second}), a typo"
    if -100 < first < 100 or -100 < second < 100:
        return f"not American odds ({first}, {second})"
    overround = _implied(first) + _implied(second)
    if overround < MIN_OVERROUND:
        return f"implied probabilities sum to {overround:.3f} < {MIN_OVERROUND} ({first}, {second})"
    if overround > MAX_OVERROUND:
        return f"implied probabilities sum to {overround:.3f} > {MAX_OVERROUND} ({first}, {second})"
    return None


@dataclass(frozen=True, slots=True)
class _Columns:
    """Positions of the columns this parser reads, from the file's header."""

    names: tuple[str, ...]
    date: int
    vh: int
    team: int
    pitcher: int
    final: int
    open: int
    close: int
    run_line: int
    run_line_price: int
    open_ou: int
    open_ou_price: int
    close_ou: int
    close_ou_price: int

    HEADERS: ClassVar[dict[str, str]] = {
        "date": "Date", "vh": "VH", "team": "Team", "pitcher": "Pitcher", "final": "Final",
        "open": "Open", "close": "Close", "run_line": "RunLine", "run_line_price": "RunLinePrice",
        "open_ou": "OpenOU", "open_ou_price": "OpenOUPrice", "close_ou": "CloseOU",
        "close_ou_price": "CloseOUPrice",
    }  # fmt: skip

    @classmethod
    def from_header(cls, header: list[str]) -> _Columns | str:
        """The positions, or the reason the header cannot be read."""
        names = tuple(header)
        missing = [h for h in cls.HEADERS.values() if h not in names]
        if missing:
            return f"file header lacks columns {missing}"
        if len(set(names)) != len(names):
            return "file header repeats a column name"
        return cls(names, **{attr: names.index(h) for attr, h in cls.HEADERS.items()})


class _Row(NamedTuple):
    line: int  # 1-based line number in the file
    cells: list[str]

    def as_raw(self, header: tuple[str, ...]) -> dict[str, Any]:
        raw: dict[str, Any] = {"line": self.line, **dict(zip(header, self.cells, strict=False))}
        if len(self.cells) > len(header):
            raw["extra_cells"] = self.cells[len(header) :]
        return raw


def _quarantine(
    file_name: str,
    header: tuple[str, ...],
    rows: list[_Row],
    reason: str,
    action: str,
    **extra: Any,
) -> QuarantinedRecord:
    raw: dict[str, Any] = {"action": action, "rows": [r.as_raw(header) for r in rows], **extra}
    return QuarantinedRecord(SOURCE, file_name, rows[0].line, reason, raw)


@dataclass(slots=True)
class _FileContext:
    """What every pair of one file shares, with lookups memoised per file."""

    season: int
    file_name: str
    cols: _Columns
    _teams: dict[str, str] = field(default_factory=dict)
    _dates: dict[str, date] = field(default_factory=dict)

    def team(self, code: str) -> str:
        team = self._teams.get(code)
        if team is None:
            team = self._teams[code] = team_from_sbr(code, self.season)
        return team

    def day(self, cell: str) -> date:
        day = self._dates.get(cell)
        if day is None:
            day = self._dates[cell] = _parse_month_day(cell, self.season)
        return day


class _PairParser:
    """Turns one visitor/home pair of rows into a GameRecord plus field-level quarantine entries."""

    def __init__(self, ctx: _FileContext, away: _Row, home: _Row) -> None:
        self.ctx = ctx
        self.file_name = ctx.file_name
        self.cols = ctx.cols
        self.away = away
        self.home = home
        self.a = away.cells
        self.h = home.cells
        self.quarantined: list[QuarantinedRecord] = []

    def _nulled(self, market: str, fields: tuple[str, ...], problem: str) -> None:
        self.quarantined.append(
            _quarantine(
                self.file_name,
                self.cols.names,
                [self.away, self.home],
                f"{market}: {problem}",
                ACTION_NULLED_FIELDS,
                fields=list(fields),
            )
        )

    def _int_pair(
        self, col: int, market: str, fields: tuple[str, ...]
    ) -> tuple[int | None, int | None]:
        try:
            first, second = _parse_int(self.a[col]), _parse_int(self.h[col])
        except _CellError as exc:
            self._nulled(market, fields, f"{self.cols.names[col]} {exc}")
            return None, None
        if (first is None) != (second is None):
            self._nulled(market, fields, f"{self.cols.names[col]} for one team only")
            return None, None
        return first, second

    def _prices(
        self, col: int, market: str, fields: tuple[str, ...]
    ) -> tuple[int | None, int | None]:
        pair: tuple[int | None, int | None]
        try:
            pair = int(self.a[col]), int(self.h[col])
        except ValueError:  # missing or odd cells: the careful path says which
            pair = self._int_pair(col, market, fields)
        first, second = pair
        if first is None or second is None:
            return None, None
        problem = _price_pair_problem(first, second)
        if problem is not None:
            self._nulled(market, fields, problem)
            return None, None
        return first, second

    def _total(
        self, line_col: int, price_col: int, market: str, fields: tuple[str, ...]
    ) -> tuple[float | None, int | None, int | None]:
        """(total, over price, under price); the visitor row holds Over, the home row Under."""
        name = self.cols.names[line_col]
        total: float | None
        home_total: float | None
        try:
            total, home_total = float(self.a[line_col]), float(self.h[line_col])
        except ValueError:  # "8½", "NL", empty or worse: the careful path says which
            try:
                total, home_total = _parse_float(self.a[line_col]), _parse_float(self.h[line_col])
            except _CellError as exc:
                self._nulled(market, fields, f"{name} {exc}")
                return None, None, None
        if total != home_total:
            self._nulled(market, fields, f"{name} differs between the rows ({total}, {home_total})")
            return None, None, None
        if total is not None and not 0 < total <= MAX_TOTAL:
            self._nulled(market, fields, f"{name} {total} is not a total")
            return None, None, None
        over, under = self._prices(price_col, market, fields[1:])
        if total is None and over is not None:
            self._nulled(market, fields, f"prices without a {name}")
            return None, None, None
        return total, over, under

    def _run_line(self) -> tuple[float | None, int | None, int | None]:
        market, fields = "run line", ("home_runline", "home_runline_price", "away_runline_price")
        col = self.cols.run_line
        try:
            away_line, home_line = _parse_float(self.a[col]), _parse_float(self.h[col])
        except _CellError as exc:
            self._nulled(market, fields, f"RunLine {exc}")
            return None, None, None
        if away_line is None and home_line is None:
            # 2010-2013 files have no run line at all; a price alone means nothing.
            away_price, _ = self._int_pair(self.cols.run_line_price, market, fields[1:])
            if away_price is not None:
                self._nulled(market, fields, "prices without a RunLine")
            return None, None, None
        if away_line is None or home_line is None or away_line != -home_line:
            # A run line is one spread seen from both sides (+1.5 / -1.5).
            self._nulled(market, fields, f"RunLine values do not mirror ({away_line}, {home_line})")
            return None, None, None
        away_price, home_price = self._prices(self.cols.run_line_price, market, fields[1:])
        if away_price is None:
            return None, None, None
        return home_line, home_price, away_price

    def _scores(self) -> tuple[int | None, int | None]:
        fields = ("away_score", "home_score")
        away, home = self._int_pair(self.cols.final, "score", fields)
        if (away is not None and away < 0) or (home is not None and home < 0):
            self._nulled("score", fields, f"negative Final ({away}, {home})")
            return None, None
        return away, home

    def parse(self) -> GameRecord:
        a, h, c = self.a, self.h, self.cols
        flags = (a[c.vh].strip().upper(), h[c.vh].strip().upper())
        if flags not in _PAIR_FLAGS:
            raise _PairRejected(f"VH flags {flags[0]!r}/{flags[1]!r} are not V/H or N/N")
        try:
            away_team = self.ctx.team(a[c.team])
            home_team = self.ctx.team(h[c.team])
            away_date = self.ctx.day(a[c.date])
            home_date = self.ctx.day(h[c.date])
        except (UnknownTeamError, _CellError) as exc:
            raise _PairRejected(str(exc)) from None
        if away_team == home_team:
            raise _PairRejected(f"both rows are {away_team}")
        gap = abs((home_date - away_date).days)
        if gap > MAX_PAIR_DATE_GAP_DAYS:
            raise _PairRejected(f"the rows' dates are {gap} days apart")

        away_pitcher, away_hand = parse_pitcher(a[c.pitcher])
        home_pitcher, home_hand = parse_pitcher(h[c.pitcher])
        away_score, home_score = self._scores()
        away_open, home_open = self._prices(
            c.open, "open moneyline", ("away_open_ml", "home_open_ml")
        )
        away_close, home_close = self._prices(
            c.close, "close moneyline", ("away_close_ml", "home_close_ml")
        )
        open_total, open_over, open_under = self._total(
            c.open_ou,
            c.open_ou_price,
            "open total",
            ("open_total", "open_over_price", "open_under_price"),
        )
        close_total, close_over, close_under = self._total(
            c.close_ou,
            c.close_ou_price,
            "close total",
            ("close_total", "close_over_price", "close_under_price"),
        )
        home_runline, home_rl_price, away_rl_price = self._run_line()
        return GameRecord(
            season=self.ctx.season,
            # The earlier date is the game's start (a game past midnight dates its home row later).
            game_date=min(away_date, home_date),
            away_team=away_team,
            home_team=home_team,
            game_number=0,  # set once the whole file is read
            neutral_site=flags == ("N", "N"),
            away_pitcher=away_pitcher,
            home_pitcher=home_pitcher,
            away_pitcher_hand=away_hand,
            home_pitcher_hand=home_hand,
            away_score=away_score,
            home_score=home_score,
            score_source=SOURCE if away_score is not None else None,
            away_open_ml=away_open,
            home_open_ml=home_open,
            away_close_ml=away_close,
            home_close_ml=home_close,
            open_total=open_total,
            open_over_price=open_over,
            open_under_price=open_under,
            close_total=close_total,
            close_over_price=close_over,
            close_under_price=close_under,
            home_runline=home_runline,
            home_runline_price=home_rl_price,
            away_runline_price=away_rl_price,
            source_file=self.file_name,
            source_row=self.away.line,
        )


def _read_rows(text: str) -> tuple[list[str], list[_Row]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    rows: list[_Row] = []
    for cells in reader:
        # Blank lines carry no data; skipping them keeps the pairing of the rows around them.
        if not any(cells):
            continue
        if not header:
            header = [c.strip().lstrip("\ufeff") for c in cells]
            continue
        rows.append(_Row(reader.line_num, cells))
    return header, rows


def _number_doubleheaders(games: list[GameRecord]) -> list[GameRecord]:
    """game_number 0 for a lone game; 1, 2, ... in file order for games on one date and matchup."""
    counts = Counter((g.game_date, g.away_team, g.home_team) for g in games)
    seen: Counter[tuple[date, str, str]] = Counter()
    numbered: list[GameRecord] = []
    for game in games:
        key = (game.game_date, game.away_team, game.home_team)
        if counts[key] == 1:
            numbered.append(game)
            continue
        seen[key] += 1
        numbered.append(replace(game, game_number=seen[key]))
    return numbered


def parse_sbr_file(text: str, season: int, file_name: str) -> ParseResult:
    """Parse one SBR season file (CSV text with header) into games and quarantined records.

    Rows pair by position, visitor then home (or N/N at a designated site, second row home).
    Never raises for bad data: a pair that cannot be a game is quarantined whole
    (raw["action"] == "dropped_game", raw["rows"] holds both rows); an untrustworthy price pair,
    total, run line or score is set to None on the game and quarantined
    (raw["action"] == "nulled_fields", raw["fields"] names them). Every data line ends up in a game
    or in a dropped-game entry.

    Args:
        text: the file's decoded text.
        season: the season the file covers; SBR dates carry no year.
        file_name: stored as source_file and as the quarantine entries' file.
    """
    header, rows = _read_rows(text)
    cols = _Columns.from_header(header)
    ctx = None if isinstance(cols, str) else _FileContext(season, file_name, cols)
    names = tuple(header)
    result = ParseResult()
    games: list[GameRecord] = []
    seen_pairs: dict[tuple[tuple[str, ...], ...], int] = {}
    for start in range(0, len(rows), 2):
        pair = rows[start : start + 2]
        # A pair repeated cell for cell (rotation numbers included) is one game listed twice,
        # not game 2, 3, 4 of a doubleheader.
        cells = tuple(tuple(row.cells) for row in pair)
        first_line = seen_pairs.setdefault(cells, pair[0].line) if len(pair) == 2 else None
        if ctx is None:
            reason = str(cols)
        elif first_line is not None and first_line != pair[0].line:
            reason = f"exact duplicate of the pair at line {first_line}"
        elif len(pair) == 1:
            reason = "odd number of data rows: last row has no partner"
        elif len(pair[0].cells) != len(names) or len(pair[1].cells) != len(names):
            reason = f"row width differs from the header's {len(names)} columns"
        else:
            parser = _PairParser(ctx, pair[0], pair[1])
            try:
                games.append(parser.parse())
            except _PairRejected as exc:
                reason = str(exc)
            else:
                result.quarantined.extend(parser.quarantined)
                continue
        result.quarantined.append(_quarantine(file_name, names, pair, reason, ACTION_DROPPED_GAME))
    result.games = _number_doubleheaders(games)
    return result
