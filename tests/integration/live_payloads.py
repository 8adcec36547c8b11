"""Hypothesis strategies: live API payloads with known damage, and the rows they must yield."""

# A payload is built valid (in the APIs' schema), then damaged at chosen records with faults that
# each reject exactly that record. The expectation (the rows that must be written, and how many
# records must be quarantined) is computed from the model, not from the parser.

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from bullpen.teams import MLB_IDS, TEAMS

NAMES = sorted(t.name for t in TEAMS.values())
NAME_OF = {t.team_id: t.name for t in TEAMS.values()}
BASE = datetime(2040, 6, 1, tzinfo=UTC)  # far from every other test's data

# -- The Odds API ------------------------------------------------------------------------------

EVENT_FAULTS: list[tuple[str, Any]] = [
    ("unknown home team", lambda e: e.update(home_team="Springfield Isotopes")),
    ("same teams", lambda e: e.update(away_team=e["home_team"])),
    ("no id", lambda e: e.pop("id", None)),
    ("bad id", lambda e: e.update(id="has spaces in it")),
    ("bad time", lambda e: e.update(commence_time="2040-13-45T99:00:00Z")),
    ("naive time", lambda e: e.update(commence_time="2040-06-01T12:00:00")),
    ("other sport", lambda e: e.update(sport_key="icehockey_nhl")),
    ("books not a list", lambda e: e.update(bookmakers={"key": "x"})),
    ("no books key", lambda e: e.pop("bookmakers", None)),
    ("numeric team", lambda e: e.update(away_team=147)),
]
BOOK_FAULTS: list[tuple[str, Any]] = [
    ("no key", lambda b: b.pop("key", None)),
    ("bad key", lambda b: b.update(key="two words")),
    ("markets not a list", lambda b: b.update(markets="h2h")),
    ("bad update", lambda b: b.update(last_update="yesterday")),
    ("null title", lambda b: b.update(title=None)),
]
MARKET_FAULTS: list[tuple[str, Any]] = [
    ("small price", lambda m: m["outcomes"][0].update(price=99)),
    ("zero price", lambda m: m["outcomes"][1].update(price=0)),
    ("text price", lambda m: m["outcomes"][0].update(price="+120")),
    ("null price", lambda m: m["outcomes"][0].update(price=None)),
    ("bool price", lambda m: m["outcomes"][1].update(price=False)),
    ("fractional american", lambda m: m["outcomes"][0].update(price=-110.5)),
    ("huge price", lambda m: m["outcomes"][0].update(price=10**7)),
    ("unknown outcome", lambda m: m["outcomes"][0].update(name="Nobody")),
    ("one outcome", lambda m: m["outcomes"].pop()),
    ("three outcomes", lambda m: m["outcomes"].append(dict(m["outcomes"][0]))),
    ("outcomes not a list", lambda m: m.update(outcomes={"name": "x"})),
    ("unknown market", lambda m: m.update(key="alternate_totals")),
    ("bad update", lambda m: m.update(last_update="2040-06-01T25:00:00Z")),
    ("outcome not an object", lambda m: m["outcomes"].__setitem__(0, "Over")),
    ("point on the wrong market or a bad point", lambda m: _bad_point(m)),
]


def _bad_point(market: dict[str, Any]) -> None:
    outcome = market["outcomes"][0]
    if market["key"] == "totals":
        outcome["point"] = -3.0
    elif market["key"] == "spreads":
        outcome["point"] = outcome["point"] + 1.0  # the two sides no longer offset
    else:  # h2h (or a market already renamed): a point where none belongs
        outcome["point"] = 0.5


@dataclass
class OddsCase:
    events: Any
    body: bytes
    rows: set[tuple[Any, ...]] = field(default_factory=set)  # (event, book, market, side, price)
    quarantined: int = 0


def _price(draw: Any) -> int:
    return draw(st.one_of(st.integers(100, 900), st.integers(-900, -100)))


@st.composite
def odds_cases(draw: Any) -> OddsCase:
    """An Odds API payload (American prices) with faults placed at random records."""
    events: list[dict[str, Any]] = []
    good: list[list[tuple[str, list[tuple[str, list[tuple[Any, ...]]]]]]] = []
    for i in range(draw(st.integers(1, 3))):
        away, home = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=2, unique=True))
        event_id = f"hyp{i}{draw(st.text('abcdef0123456789', min_size=4, max_size=8))}"
        start = BASE + timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
        books, model_books = [], []
        for key in draw(st.lists(st.sampled_from(["alpha", "bravo", "charlie"]), unique=True)):
            book_update = start - timedelta(minutes=draw(st.integers(60, 600)))
            markets, model_markets = [], []
            for market in draw(
                st.lists(st.sampled_from(["h2h", "totals", "spreads"]), unique=True)
            ):
                update = book_update - timedelta(seconds=draw(st.integers(0, 3600)))
                p1, p2 = _price(draw), _price(draw)
                if market == "totals":
                    point = draw(st.integers(10, 28)) / 2
                    outcomes = [
                        {"name": "Over", "price": p1, "point": point},
                        {"name": "Under", "price": p2, "point": point},
                    ]
                    sides = [("over", p1), ("under", p2)]
                else:
                    outcomes = [{"name": away, "price": p1}, {"name": home, "price": p2}]
                    if market == "spreads":
                        point = draw(st.sampled_from([-2.5, -1.5, 1.5, 2.5]))
                        outcomes[0]["point"], outcomes[1]["point"] = point, -point
                    sides = [("away", p1), ("home", p2)]
                if draw(st.booleans()):
                    outcomes.reverse()
                entry = {"key": market, "outcomes": outcomes}
                if draw(st.booleans()):  # market-level time, else the bookmaker's applies
                    entry["last_update"] = update.isoformat().replace("+00:00", "Z")
                markets.append(entry)
                model_markets.append((market, [(event_id, key, market, s, p) for s, p in sides]))
            books.append(
                {
                    "key": key,
                    "title": key.title(),
                    "last_update": book_update.isoformat().replace("+00:00", "Z"),
                    "markets": markets,
                }
            )
            model_books.append((key, model_markets))
        events.append(
            {
                "id": event_id,
                "sport_key": "baseball_mlb",
                "sport_title": "MLB",
                "commence_time": start.isoformat().replace("+00:00", "Z"),
                "home_team": home,
                "away_team": away,
                "bookmakers": books,
            }
        )
        good.append(model_books)

    bad_events: set[int] = set()
    bad_books: set[tuple[int, int]] = set()
    bad_markets: set[tuple[int, int, int]] = set()
    for _ in range(draw(st.integers(0, 4))):
        level = draw(st.sampled_from(["event", "book", "market"]))
        e = draw(st.integers(0, len(events) - 1))
        books = events[e].get("bookmakers")
        if level == "event" or not isinstance(books, list) or not books:
            draw(st.sampled_from(EVENT_FAULTS))[1](events[e])
            bad_events.add(e)
            continue
        b = draw(st.integers(0, len(books) - 1))
        markets = books[b].get("markets")
        if level == "book" or not isinstance(markets, list) or not markets:
            draw(st.sampled_from(BOOK_FAULTS))[1](books[b])
            bad_books.add((e, b))
            continue
        m = draw(st.integers(0, len(markets) - 1))
        if not isinstance(markets[m], dict) or not isinstance(markets[m].get("outcomes"), list):
            bad_markets.add((e, b, m))  # already broken by an earlier fault
            continue
        if len(markets[m]["outcomes"]) != 2 or not all(
            isinstance(o, dict) for o in markets[m]["outcomes"]
        ):
            bad_markets.add((e, b, m))
            continue
        draw(st.sampled_from(MARKET_FAULTS))[1](markets[m])
        bad_markets.add((e, b, m))

    case = OddsCase(events, b"")
    for e, model_books in enumerate(good):
        if e in bad_events:
            case.quarantined += 1
            continue
        for b, (_, model_markets) in enumerate(model_books):
            if (e, b) in bad_books:
                case.quarantined += 1
                continue
            for m, (_, rows) in enumerate(model_markets):
                if (e, b, m) in bad_markets:
                    case.quarantined += 1
                else:
                    case.rows.update(rows)
    if events and draw(st.integers(0, 9)) == 0:  # a duplicated event: the first one wins
        events.append(copy.deepcopy(events[draw(st.integers(0, len(events) - 1))]))
        case.quarantined += 1
    case.body = json.dumps(events).encode()
    whole = draw(st.integers(0, 24))
    if whole == 0:  # the transfer ended early: the whole payload is unreadable
        case.body = case.body[: draw(st.integers(0, len(case.body) - 1))]
        case.rows, case.quarantined = set(), 1
    elif whole == 1:  # an error object instead of the list
        case.body = b'{"message": "Internal error", "error_code": "X"}'
        case.rows, case.quarantined = set(), 1
    return case


# -- MLB Stats API -----------------------------------------------------------------------------

GAME_FAULTS: list[tuple[str, Any]] = [
    ("unknown team id", lambda g: g["teams"]["home"]["team"].update(id=999)),
    ("id and name disagree", lambda g: _wrong_name(g["teams"]["home"]["team"])),
    ("no teams", lambda g: g.update(teams={})),
    ("bad game time", lambda g: g.update(gameDate="soon")),
    ("bad official date", lambda g: g.update(officialDate="2040-02-30")),
    ("unknown status", lambda g: g.update(status={"abstractGameState": "?", "detailedState": "?"})),
    ("no status", lambda g: g.pop("status", None)),
    ("text gamePk", lambda g: g.update(gamePk="123")),
    ("negative score", lambda g: g["teams"]["away"].update(score=-2)),
    ("text score", lambda g: g["teams"]["away"].update(score="3")),
    ("bad doubleheader", lambda g: g.update(doubleHeader="X")),
    ("game number 0", lambda g: g.update(gameNumber=0)),
    ("unknown game type", lambda g: g.update(gameType="Q")),
    ("final without score", lambda g: _final_without_score(g)),
    ("not an object", None),
]

STATUSES = {
    kind: {"abstractGameState": abstract, "codedGameState": coded, "detailedState": detailed}
    for kind, abstract, coded, detailed in [
        ("scheduled", "Preview", "S", "Scheduled"),
        ("final", "Final", "F", "Final"),
        ("postponed", "Final", "D", "Postponed"),
        ("suspended", "Live", "U", "Suspended"),
        ("live", "Live", "I", "In Progress"),
    ]
}


def _wrong_name(team: dict[str, Any]) -> None:
    team["name"] = "Texas Rangers" if team["id"] != 140 else "Boston Red Sox"


def _final_without_score(game: dict[str, Any]) -> None:
    game["status"] = dict(STATUSES["final"])
    game["teams"]["away"].pop("score", None)


@dataclass
class ScheduleCase:
    body: bytes
    games: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # pk -> expected row
    quarantined: int = 0
    skipped: int = 0


@st.composite
def schedule_cases(draw: Any) -> ScheduleCase:
    """A schedule payload (one or two dates) with faults placed at random games."""
    ids = sorted(MLB_IDS)
    n_days = draw(st.integers(1, 2))
    pairs = draw(
        st.lists(
            st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True).map(tuple),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    day0 = BASE.date() + timedelta(days=draw(st.integers(0, 300)))
    dates: list[dict[str, Any]] = [{"date": (day0 + timedelta(days=d)).isoformat(), "games": []}
                                   for d in range(n_days)]  # fmt: skip
    case = ScheduleCase(b"")
    for n, (away, home) in enumerate(pairs):
        d = draw(st.integers(0, n_days - 1))
        day = day0 + timedelta(days=d)
        pk = 70_000_000 + n
        kind = draw(st.sampled_from(sorted(STATUSES)))
        away_side: dict[str, Any] = {"team": {"id": away, "name": NAME_OF[MLB_IDS[away]]}}
        home_side: dict[str, Any] = {"team": {"id": home, "name": NAME_OF[MLB_IDS[home]]}}
        scores = (None, None)
        if kind in ("final", "live", "suspended") or draw(st.booleans()) and kind != "postponed":
            scores = (draw(st.integers(0, 20)), draw(st.integers(0, 20)))
            away_side["score"], home_side["score"] = scores
        game_type = draw(st.sampled_from(["R", "R", "R", "D", "W", "S"]))
        start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=17)
        game = {
            "gamePk": pk,
            "gameType": game_type,
            "season": str(day.year),
            "gameDate": start.isoformat().replace("+00:00", "Z"),
            "officialDate": day.isoformat(),
            "status": dict(STATUSES[kind]),
            "teams": {"away": away_side, "home": home_side},
            "doubleHeader": "N",
            "gameNumber": 1,
        }
        fault = draw(st.sampled_from([None, None, *GAME_FAULTS]))
        if game_type == "S" and fault is None:
            case.skipped += 1
        elif fault is not None:
            if fault[1] is None:
                game = draw(st.sampled_from([None, 7, "game", [pk]]))  # type: ignore[assignment]
            else:
                fault[1](game)
            if game_type == "S" and isinstance(game, dict) and game.get("gameType") == "S":
                case.skipped += 1  # skipped by type before any check
            else:
                case.quarantined += 1
        else:
            home_team, away_team = MLB_IDS[home], MLB_IDS[away]
            result = scores if kind == "final" else (None, None)
            case.games[pk] = (day, away_team, home_team, kind, *result)
        dates[d]["games"].append(game)
    case.body = json.dumps({"copyright": "hypothesis", "dates": dates}).encode()
    if draw(st.integers(0, 24)) == 0:
        case.body = case.body[: draw(st.integers(0, len(case.body) - 1))]
        case.games, case.quarantined, case.skipped = {}, 1, 0
    return case


# -- anything at all ---------------------------------------------------------------------------

KEYS = [
    "id", "home_team", "away_team", "commence_time", "bookmakers", "key", "title", "markets",
    "outcomes", "name", "price", "point", "last_update", "dates", "date", "games", "gamePk",
    "gameType", "teams", "away", "home", "team", "score", "status", "detailedState",
    "officialDate", "gameDate", "doubleHeader", "gameNumber", "season",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(NAMES + ["Over", "Under", "h2h", "totals", "2040-06-01T12:00:00Z", "N"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=40,
)
ANY_BODY = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
