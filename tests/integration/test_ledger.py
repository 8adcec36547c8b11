"""The bets ledger on real PostgreSQL, over a recorded MLB schedule (2022-04-07: seven final
games, two postponed) written by the real live collector.

Picks, prices and snapshot rows are test inputs written out here; scores and statuses come from
the recorded payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
import psycopg
import pytest

from bullpen.betting.backtest import BacktestConfig, run_backtest
from bullpen.betting.ledger import (
    current_bankroll,
    load_bet_events,
    load_bets,
    load_outcomes,
    record_pick,
    record_picks,
    settle_bets,
)
from bullpen.betting.picks import Pick, StakePolicy, closing_lines
from bullpen.collect.http import FetchedPayload
from bullpen.collect.live import store as live_store
from bullpen.collect.live.mlb_stats import parse_schedule
from bullpen.db import engine
from bullpen.db.migrate import list_migrations
from bullpen.market.lines import build_lines
from tests.conftest import REPO

SCHEDULE = REPO / "tests/fixtures/mlb_statsapi/schedule_date_2022-04-07.json"
DECIDED = datetime(2022, 4, 7, 16, tzinfo=UTC)
SETTLED = datetime(2022, 4, 8, 9, tzinfo=UTC)
POLICY = StakePolicy(
    starting_bankroll=1000.0, kelly_multiplier=0.25, max_stake_fraction=0.02, max_day_exposure=0.2
)
# (away, home) of the recorded day's final games, and the two postponed ones.
FINALS = [
    ("MIL", "CHC"),  # 4-5
    ("CLE", "KC"),  # 1-3
    ("PIT", "STL"),  # 0-9
    ("NYM", "WSH"),  # 5-1
    ("CIN", "ATL"),  # 6-3
    ("HOU", "LAA"),  # 3-1
    ("SD", "ARI"),  # 2-4
]
POSTPONED = [("BOS", "NYY"), ("SEA", "MIN")]


@pytest.fixture(scope="module")
def db(bullpen_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        body = SCHEDULE.read_bytes()
        payload = FetchedPayload(
            "mlb_stats", "/api/v1/schedule?sportId=1&date=2022-04-07", SETTLED, 200, {}, body
        )
        parsed = parse_schedule(body, file=payload.label)
        live_store.write_games_batch(conn, [(payload, parsed)])
        yield conn


def games(db: psycopg.Connection) -> dict[tuple[str, str], int]:
    rows = db.execute("SELECT away_team, home_team, game_id FROM games").fetchall()
    return {(a, h): int(g) for a, h, g in rows}


def pick(game_id: int, strategy: str, **overrides: object) -> Pick:
    values: dict[str, object] = {
        "game_id": game_id,
        "side": "home",
        "book": "pinnacle",
        "price_american": -110,
        "quoted_at": DECIDED,
        "p_home": 0.56,
        "p_away": 0.44,
        "consensus_home": 0.5,
        "consensus_method": "sharp:pinnacle/shin",
        "model_version": "7",
        "strategy_version": strategy,
        "reason": "model 0.56 over consensus 0.50",
    }
    return Pick(**{**values, **overrides})  # type: ignore[arg-type]


def count(db: psycopg.Connection, sql: str, *args: object) -> int:
    row = db.execute(sql, args).fetchone()
    assert row is not None
    return int(row[0])


def test_migration_0008_is_picked_up_by_the_runner(db: psycopg.Connection) -> None:
    assert "0008_bets_ledger" in [version for version, _ in list_migrations()]
    assert count(db, "SELECT count(*) FROM schema_migrations WHERE version = '0008_bets_ledger'")
    assert count(db, "SELECT count(*) FROM bets") == 0


def test_rerun_records_each_pick_once(db: psycopg.Connection) -> None:
    ids = games(db)
    picks = [pick(ids[g], "rerun") for g in FINALS[:4]]
    first = record_picks(db, picks, POLICY, at=DECIDED)
    # 0.56 at -110: a quarter of (0.56 - 0.44 * 1.1) = 0.076 is 0.019 of 1000 = 19.00 each.
    assert [(w.action, w.stake) for w in first] == [("opened", 19.0)] * 4
    state = "SELECT bet_id, xmin::text FROM bets WHERE strategy_version = 'rerun' ORDER BY 1"
    before = db.execute(state).fetchall()

    again = record_picks(db, picks, POLICY, at=SETTLED)
    assert [w.action for w in again] == ["unchanged"] * 4
    assert [w.bet_id for w in again] == [w.bet_id for w in first]
    assert db.execute(state).fetchall() == before  # not even rewritten
    bets = load_bets(db, "rerun")
    assert len(bets) == 4 and (bets["state"] == "open").all()
    assert len(load_bet_events(db).query("bet_id in @bets.bet_id")) == 4


def test_a_moved_price_updates_the_pick_with_history(db: psycopg.Connection) -> None:
    game = games(db)[FINALS[0]]
    opened = record_pick(db, pick(game, "moves"), POLICY, at=DECIDED)
    later = datetime(2022, 4, 7, 17, tzinfo=UTC)
    moved = record_pick(
        db, pick(game, "moves", book="draftkings", price_american=105), POLICY, at=later
    )
    assert (moved.action, moved.bet_id) == ("price_moved", opened.bet_id)
    # At +105 quarter Kelly is (0.56 - 0.44 / 1.05) / 4 = 3.524 % of 1000, capped at 20.
    assert moved.stake == 20.0
    same = record_pick(
        db, pick(game, "moves", book="draftkings", price_american=105), POLICY, at=later
    )
    assert same.action == "unchanged"

    (bet,) = load_bets(db, "moves").itertuples()
    assert (bet.book, bet.price_american, bet.price_decimal, bet.stake) == (
        "draftkings",
        105,
        2.05,
        20.0,
    )
    assert (bet.opened_at, bet.updated_at) == (DECIDED, later)
    events = load_bet_events(db, opened.bet_id)
    assert list(events["kind"]) == ["opened", "price_moved"]
    assert list(events["price_american"]) == [-110, 105]
    assert events["details"].iloc[1]["price_american"] == [-110, 105]
    assert events["details"].iloc[1]["stake"] == [19.0, 20.0]


def test_a_restart_mid_way_leaves_no_duplicates(db: psycopg.Connection) -> None:
    ids = games(db)
    # The day's cap binds: at most 5 % of 1000 per day, each bet up to 2 %.
    policy = replace(POLICY, max_day_exposure=0.05)
    picks = [pick(ids[g], "restart", p_home=0.6, p_away=0.4) for g in FINALS[:5]]
    clean = record_picks(
        db, [replace(p, strategy_version="clean") for p in picks], policy, at=DECIDED
    )
    assert [w.stake for w in clean] == [20.0, 20.0, 10.0, 0.0, 0.0]
    assert [w.action for w in clean] == ["opened"] * 3 + ["no_stake"] * 2

    # The run dies at its third pick (a game that is not in the database).
    broken = [*picks[:2], replace(picks[2], game_id=-1), *picks[3:]]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        record_picks(db, broken, policy, at=DECIDED)
    assert count(db, "SELECT count(*) FROM bets WHERE strategy_version = 'restart'") == 2

    rerun = record_picks(db, picks, policy, at=DECIDED)
    assert [w.action for w in rerun] == ["unchanged"] * 2 + ["opened"] + ["no_stake"] * 2
    assert [w.stake for w in rerun] == [w.stake for w in clean]
    restarted = load_bets(db, "restart")[["game_id", "side", "stake"]]
    assert restarted.equals(load_bets(db, "clean")[["game_id", "side", "stake"]])
    assert restarted["stake"].sum() == pytest.approx(50.0)


def closing_snapshots(ids: dict[tuple[str, str], int]) -> pd.DataFrame:
    """Two books' last pre-game h2h quotes per final game (test inputs, Odds API shape)."""
    rows = []
    for n, (away, home) in enumerate(FINALS):
        game = ids[(away, home)]
        start = datetime(2022, 4, 7, 17, tzinfo=UTC)
        quote = datetime(2022, 4, 7, 16, 55, tzinfo=UTC)
        rows.append((f"ev{n}", start, "pinnacle", quote, -140, 128, game))
        rows.append((f"ev{n}", start, "draftkings", quote, -150, 125, game))
    return pd.DataFrame(
        rows,
        columns=[
            "event_id",
            "commence_time",
            "book",
            "last_update",
            "home_american",
            "away_american",
            "game_id",
        ],
    )


def test_settling_twice_never_doubles_pnl(db: psycopg.Connection) -> None:
    ids = games(db)
    finals = [ids[g] for g in FINALS]
    postponed = [ids[g] for g in POSTPONED]
    written = record_picks(db, [pick(g, "settle") for g in finals + postponed], POLICY, at=DECIDED)
    assert all(w.action == "opened" for w in written)

    closing = closing_lines(build_lines(closing_snapshots(ids), SETTLED).consensus)
    assert closing[finals[0]].method == "sharp:pinnacle/shin"
    outcomes = load_outcomes(db, finals + postponed)
    assert [o.status for o in outcomes].count("final") == 7
    assert [o.status for o in outcomes].count("postponed") == 2

    # Settlement settles every open pick of these games, whatever strategy made it.
    open_before = count(db, "SELECT count(*) FROM bets WHERE state = 'open'")
    first = settle_bets(db, outcomes, closing, at=SETTLED)
    assert first.settled == open_before and first.still_open == 0
    total = "SELECT coalesce(sum(profit), 0)::float8 FROM bets"
    assert first.profit == pytest.approx(float(db.execute(total).fetchone()[0]))  # type: ignore[index]

    bets = load_bets(db, "settle")
    # Home won in CHC, KC, STL and ARI; lost in WSH, ATL and LAA. 19.00 at -110 wins 17.2727.
    assert bets["state"].value_counts().to_dict() == {"won": 4, "lost": 3, "void": 2}
    expected = round(4 * round(19.0 * 100 / 110, 4) - 3 * 19.0, 4)
    assert bets["profit"].sum() == pytest.approx(expected)

    second = settle_bets(db, outcomes, closing, at=SETTLED)
    assert (second.settled, second.profit) == (0, 0.0)
    assert db.execute(total).fetchone()[0] == pytest.approx(first.profit)  # type: ignore[index]
    assert load_bets(db, "settle")["profit"].sum() == pytest.approx(expected)
    assert current_bankroll(db, "settle", POLICY) == pytest.approx(1000.0 + expected)
    settled_events = load_bet_events(db).query("bet_id in @bets.bet_id and kind == 'settled'")
    assert len(settled_events) == 9

    # CLV against the closing consensus: Pinnacle -140/+128 is 0.572368 for home (Shin).
    won = bets[bets["state"] == "won"].iloc[0]
    assert won["close_home"] == pytest.approx(0.5723684, abs=1e-7)
    assert won["clv_pp"] == pytest.approx(0.0723684, abs=1e-7)
    assert won["ev_close"] == pytest.approx((1 + 100 / 110) * 0.5723684 - 1, abs=1e-6)

    # Postponed games void: stake back, no P&L, no CLV.
    void = bets[bets["game_id"].isin(postponed)]
    assert (void["state"] == "void").all() and (void["profit"] == 0).all()
    assert void["clv_pp"].isna().all()
    assert set(void["settle_reason"]) == {"game postponed"}


def test_the_database_refuses_to_rewrite_history(db: psycopg.Connection) -> None:
    ids = games(db)
    opened = record_pick(db, pick(ids[FINALS[1]], "frozen"), POLICY, at=DECIDED)
    settle_bets(db, load_outcomes(db, [ids[FINALS[1]]]), {}, at=SETTLED)
    with pytest.raises(psycopg.errors.RaiseException, match="is settled"):
        db.execute("UPDATE bets SET profit = 1000 WHERE bet_id = %s", (opened.bet_id,))
    with pytest.raises(psycopg.errors.RaiseException, match="never deleted"):
        db.execute("DELETE FROM bets WHERE bet_id = %s", (opened.bet_id,))
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM bet_events WHERE bet_id = %s", (opened.bet_id,))
    # A pick on a settled game is left alone, not reopened.
    again = record_pick(db, pick(ids[FINALS[1]], "frozen", price_american=120), POLICY, at=SETTLED)
    assert (again.action, again.bet_id) == ("settled", opened.bet_id)


def test_a_binding_day_cap_stakes_the_ledger_as_the_backtest(db: psycopg.Connection) -> None:
    """One rule for the day's room, live and offline: each pick, in game id order, takes what the
    picks before it left (kelly.within_day_room). The cap binds after the third pick."""
    ids = games(db)
    policy = replace(POLICY, max_day_exposure=0.05)
    quotes = [(0.62, -110), (0.58, 120), (0.66, -150), (0.6, 105), (0.64, -120), (0.57, 110)]
    chosen = sorted((ids[g], p, price) for g, (p, price) in zip(FINALS, quotes, strict=False))
    picks = [
        pick(game_id, "cap-parity", p_home=p, p_away=1 - p, price_american=price)
        for game_id, p, price in chosen
    ]
    ledger = {
        p.game_id: w.stake
        for p, w in zip(picks, record_picks(db, picks, policy, at=DECIDED), strict=True)
    }
    assert sum(ledger.values()) == pytest.approx(50.0)
    assert sum(1 for s in ledger.values() if s == 0) >= 2  # the cap bound

    frame = pd.DataFrame(
        [(pd.Timestamp("2022-04-07"), g, p, price, -price, price, -price, 1.0)
         for g, p, price in chosen],
        columns=["game_date", "game_id", "p_model", "home_open_ml", "away_open_ml",
                 "home_close_ml", "away_close_ml", "home_win"],
    )  # fmt: skip
    config = BacktestConfig(
        edge_threshold=0.0,
        kelly_multiplier=policy.kelly_multiplier,
        max_stake_fraction=policy.max_stake_fraction,
        max_day_exposure=policy.max_day_exposure,
        starting_bankroll=policy.starting_bankroll,
    )
    bets = run_backtest(frame.sample(frac=1.0, random_state=5), config).bets
    assert set(bets["side"]) == {"home"}
    offline = dict(zip(bets["game_id"].astype(int), bets["stake"], strict=True))
    assert offline == {g: s for g, s in ledger.items() if s > 0}
