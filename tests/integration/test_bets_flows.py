"""recommend-bets, settle-bets and `bullpen bets` on real PostgreSQL, a real MLflow registry and
the Prefect test server.

The model: a closing-line champion trained on the replayed 2018-2019 SBR seasons and registered
like train-models does, with opener settings recorded on it as the backtest does (threshold 0:
every edge is a pick, so the test sees many picks). The live day: the recorded Odds API payload
of 2024-05-24 (9 games, 13 books, h2h) written by the real collector. Derived here (no recording
has them): the day's MLB schedule built from that payload's games (invented gamePks, first pitch
= commence time), its final listing with invented scores (one game postponed), and a later odds
snapshot with every home price shortened (the market moves towards the home sides before first
pitch).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from bullpen.betting.forward import strategy_gauges
from bullpen.betting.ledger import load_bet_events, load_bets, record_pick
from bullpen.betting.live import strategy_version
from bullpen.betting.opener import OpenerParams
from bullpen.betting.picks import Pick, StakePolicy
from bullpen.collect.history import replay
from bullpen.collect.http import FetchedPayload
from bullpen.collect.live import store as live_store
from bullpen.collect.live.mlb_stats import parse_schedule
from bullpen.collect.live.odds_api import parse_odds
from bullpen.db import engine
from bullpen.features import dataset
from bullpen.features.dataset import load_feature_frame
from bullpen.features.frame_cache import load_feature_frame_cached
from bullpen.features.odds import american_to_decimal_array, decimal_to_american_array
from bullpen.models import closing_line, mlflow_store
from bullpen.models.train import train_model, training_fingerprint
from bullpen.ops import prefect_process
from bullpen.registry import audit, challenger, transition
from bullpen.teams import MLB_IDS, team_from_name
from tests.conftest import REPO
from tests.integration.conftest import stage_seasons

FIXTURES = REPO / "tests/fixtures"
ODDS = FIXTURES / "the_odds_api/odds_v4_baseball_mlb_h2h_american_2024-05-24.json"
TEMPLATE = FIXTURES / "mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"
ODDS_FETCHED = datetime(2024, 5, 24, 16, 32, tzinfo=UTC)
DECIDED = datetime(2024, 5, 24, 16, 35, tzinfo=UTC)
MOVED_FETCHED = datetime(2024, 5, 24, 19, 35, tzinfo=UTC)
SETTLED = datetime(2024, 5, 25, 9, 5, tzinfo=UTC)
PARAMS = OpenerParams(threshold=0.0, kelly_multiplier=0.25)
MAX_BET = 0.02 * 1000.0
RECOMMEND = "recommend_bets.py:recommend_bets"
SETTLE = "settle_bets.py:settle_bets"
TEAM_IDS = {code: mlb_id for mlb_id, code in MLB_IDS.items()}


def odds_events() -> list[dict]:
    return json.loads(ODDS.read_bytes())


def schedule(final: bool, postponed: int = -1) -> bytes:
    """The day's MLB listing for the payload's games: scheduled, or final with invented scores
    (home wins the even-numbered games, away the odd; game number `postponed` is postponed)."""
    template = json.loads(TEMPLATE.read_bytes())
    base = template["dates"][1]["games"][-1]
    games = []
    for i, event in enumerate(odds_events()):
        game = copy.deepcopy(base)
        game.update(gamePk=990001 + i, gameDate=event["commence_time"], season="2024")
        game.update(officialDate="2024-05-24", calendarEventID=f"14-{990001 + i}-2024-05-24")
        game["link"] = f"/api/v1.1/game/{990001 + i}/feed/live"
        for side in ("away", "home"):
            name = event[f"{side}_team"]
            team = game["teams"][side]
            team["team"] = {"id": TEAM_IDS[team_from_name(name)], "name": name}
            team.pop("probablePitcher", None)
        if final and i == postponed:
            game["status"] = {"abstractGameState": "Final", "codedGameState": "D",
                              "detailedState": "Postponed", "statusCode": "DI",
                              "startTimeTBD": False, "abstractGameCode": "F"}  # fmt: skip
        elif final:
            game["status"] = {"abstractGameState": "Final", "codedGameState": "F",
                              "detailedState": "Final", "statusCode": "F",
                              "startTimeTBD": False, "abstractGameCode": "F"}  # fmt: skip
            home_won = i % 2 == 0
            game["teams"]["home"]["score"], game["teams"]["away"]["score"] = (
                (5, 2) if home_won else (1, 4)
            )
        games.append(game)
    day = {**template["dates"][1], "date": "2024-05-24", "games": games}
    day.update(totalItems=len(games), totalGames=len(games))
    return json.dumps({**template, "dates": [day]}).encode()


def moved_odds() -> bytes:
    """Every book three hours later with the home side shortened by 5 % in decimal odds and the
    away side lengthened by 5 %."""
    events = odds_events()
    for event in events:
        for book in event["bookmakers"]:
            stamp = datetime.fromisoformat(book["last_update"].replace("Z", "+00:00"))
            book["last_update"] = (stamp + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for market in book["markets"]:
                market["last_update"] = book["last_update"]
                for outcome in market["outcomes"]:
                    factor = 0.95 if outcome["name"] == event["home_team"] else 1.05
                    dec = american_to_decimal_array([outcome["price"]])[0] * factor
                    outcome["price"] = int(round(decimal_to_american_array([max(dec, 1.01)])[0]))
    return json.dumps(events).encode()


def totals_odds(games: int) -> bytes:
    """Opening totals for the payload's first `games` games (hand-made: no recording has
    totals): books a and b at 8.5, book c at 9.0, all -110/-110, at 16:31."""
    events = []
    for event in odds_events()[:games]:
        books = []
        for key, point in (("handmade_book_a", 8.5), ("handmade_book_b", 8.5),
                           ("handmade_book_c", 9.0)):  # fmt: skip
            outcomes = [{"name": n, "price": -110, "point": point} for n in ("Over", "Under")]
            books.append({"key": key, "title": key, "last_update": "2024-05-24T16:31:00Z",
                          "markets": [{"key": "totals", "last_update": "2024-05-24T16:31:00Z",
                                       "outcomes": outcomes}]})  # fmt: skip
        events.append({**{k: event[k] for k in event if k != "bookmakers"}, "bookmakers": books})
    return json.dumps(events).encode()


def write_schedule(conn: psycopg.Connection, body: bytes, fetched: datetime) -> None:
    payload = FetchedPayload(
        "mlb_stats", "/api/v1/schedule?date=2024-05-24", fetched, 200, {}, body
    )
    live_store.write_games_batch(conn, [(payload, parse_schedule(body, file=payload.label))])


def write_odds(conn: psycopg.Connection, body: bytes, fetched: datetime) -> None:
    payload = FetchedPayload("odds_api", "/v4/sports/baseball_mlb/odds", fetched, 200, {}, body)
    parsed = parse_odds(body, file=payload.label, odds_format="american", fetched_at=fetched)
    live_store.write_odds_batch(conn, payload, parsed)


@pytest.fixture(scope="module")
def world(bullpen_env: dict[str, str], prefect_server: None) -> Iterator[dict[str, str]]:
    url, uri = bullpen_env["BULLPEN_DATABASE_URL"], bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    data_dir = stage_seasons(Path(bullpen_env["BULLPEN_DATA_DIR"]), [2018, 2019])
    for files in replay.find_season_files(data_dir):
        replay.replay_season(url, files)
    frame = closing_line.usable_games(load_feature_frame(url, "shin"))
    spec = closing_line.CLOSING_LINE
    fitted = train_model(frame, spec, closing_line.PARAMS)
    experiment = mlflow_store.ensure_experiment(
        uri, "tests-bets", Path(bullpen_env["BULLPEN_HOME"]) / "artifacts"
    )
    registered = challenger.register(
        tracking_uri=uri, experiment_id=experiment, model=fitted,
        fingerprint=training_fingerprint(frame, spec, fitted.params), trigger="test", metrics={},
    )  # fmt: skip
    with engine.connect(url) as conn:
        entry = audit.AuditEntry(
            model=closing_line.NAME, action="promoted", stage="manual", trigger="test setup",
            reason="the champion the live path scores with",
        )  # fmt: skip
        transition.promote(conn, uri, spec.registered_name, registered.version, entry)
    mlflow_store.set_version_tags(
        uri, spec.registered_name, registered.version, PARAMS.as_tags("test: every edge")
    )
    with engine.connect(url, autocommit=True) as conn:
        write_schedule(conn, schedule(final=False), datetime(2024, 5, 24, 12, tzinfo=UTC))
        write_odds(conn, ODDS.read_bytes(), ODDS_FETCHED)
        write_odds(conn, totals_odds(5), ODDS_FETCHED)
    yield {**bullpen_env, "version": registered.version}


@pytest.fixture()
def db(world: dict[str, str]) -> Iterator[psycopg.Connection]:
    with engine.connect(world["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def run(entrypoint: str, **params: object) -> dict:
    return prefect_process.load_flow(entrypoint)(**params)  # type: ignore[operator]


def best_prices() -> dict[tuple[str, str], float]:
    """(team code, "home"/"away") -> the best decimal h2h price across the payload's books."""
    best: dict[tuple[str, str], float] = {}
    for event in odds_events():
        for book in event["bookmakers"]:
            for market in book["markets"]:
                for outcome in market["outcomes"]:
                    side = "home" if outcome["name"] == event["home_team"] else "away"
                    key = (team_from_name(event[f"{side}_team"]), side)
                    dec = float(american_to_decimal_array([outcome["price"]])[0])
                    best[key] = max(best.get(key, 0.0), dec)
    return best


def ledger_with_games(db: psycopg.Connection) -> pd.DataFrame:
    teams = pd.DataFrame(
        db.execute("SELECT game_id, away_team, home_team FROM games").fetchall(),
        columns=["game_id", "away_team", "home_team"],
    )
    return load_bets(db).merge(teams, on="game_id")


def test_recommend_twice_records_each_pick_once_at_the_best_price(
    world: dict[str, str], db: psycopg.Connection
) -> None:
    first = run(RECOMMEND, now=DECIDED)
    strategy = strategy_version(world["version"], PARAMS)
    assert first["strategy_version"] == strategy
    assert first["model_version"] == world["version"]
    assert sum(first["games"].values()) == 9 and first["games"].get("not_scored", 0) == 0
    # Threshold 0: every scored game is a pick; the ledger stakes those with a Kelly edge at
    # the best price (p_close_pred of the side x decimal price > 1), like the backtest.
    assert first["games"] == {"pick": 9}
    opened = first["written"].get("opened", 0)
    assert opened >= 1 and opened + first["written"].get("no_stake", 0) == 9
    for row in first["picks"]:
        edge = row["p_close_pred"] * float(american_to_decimal_array([row["price"]])[0]) > 1
        assert (row["ledger"] == "opened") == edge, row
    # Totals were quoted for 5 games: the other 4 lack the two opening totals features, and the
    # run says so; the player features are named apart (no play-by-play loaded: the model never
    # had them either).
    assert first["missing_features"] == {"mkt_open_over_prob": 4, "mkt_open_total": 4}
    assert "home_sp_fip" in first["features_without_history"]

    bets = ledger_with_games(db)
    assert len(bets) == opened and set(bets["strategy_version"]) == {strategy}
    best = best_prices()
    for bet in bets.itertuples():
        team = bet.home_team if bet.side == "home" else bet.away_team
        assert bet.price_decimal == pytest.approx(best[(team, bet.side)], abs=1e-4)
        assert 0 < bet.stake <= MAX_BET
        p_side = bet.p_home if bet.side == "home" else bet.p_away
        assert p_side * bet.price_decimal > 1  # Kelly stakes only a positive expectation
    assert bets["stake"].sum() <= 0.2 * 1000.0
    events = load_bet_events(db)

    second = run(RECOMMEND, now=DECIDED + timedelta(minutes=5))
    assert second["written"] == {"unchanged": opened} | (
        {"no_stake": first["written"]["no_stake"]} if "no_stake" in first["written"] else {}
    )
    assert len(load_bets(db)) == opened
    assert len(load_bet_events(db)) == len(events)  # a rerun writes no audit row either
    assert [p["bet_id"] for p in second["picks"]] == [p["bet_id"] for p in first["picks"]]

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["todays-picks"]))
        )
    assert len(artifacts) >= 2 and artifacts[0].type == "table"


def test_feature_frame_cache_serves_the_built_frame_until_the_database_changes(
    world: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    url = world["BULLPEN_DATABASE_URL"]
    built, hit = load_feature_frame_cached(url, "shin", tmp_path)
    assert not hit and len(list(tmp_path.glob("features-*.pkl"))) == 1
    served, hit = load_feature_frame_cached(url, "shin", tmp_path)
    assert hit
    pd.testing.assert_frame_equal(served, built)
    dataset._cache.clear()
    pd.testing.assert_frame_equal(served, load_feature_frame(url, "shin"))

    # A new game (outside the days the other tests read) changes the database: a miss.
    db.execute(
        "INSERT INTO games (season, game_date, away_team, home_team, game_number, source_file)"
        " VALUES (2024, '2024-06-30', 'NYY', 'BOS', 0, 'test')"
    )
    rebuilt, hit = load_feature_frame_cached(url, "shin", tmp_path)
    assert not hit and len(rebuilt) == len(built) + 1
    assert len(list(tmp_path.glob("features-*.pkl"))) == 1  # the old frame is gone


def test_stale_odds_give_no_pick(world: dict[str, str], db: psycopg.Connection) -> None:
    # Two hours after the only quotes: every book is stale at the default 30 minutes.
    at = DECIDED + timedelta(hours=2)
    stale = run(RECOMMEND, now=at, threshold=0.0001)
    assert stale["games"] == {"no_fresh_quote": 9}
    assert stale["written"] == {}
    strategy = stale["strategy_version"]
    assert load_bets(db, strategy).empty
    # The same moment with a looser age limit does pick: staleness was the only reason.
    fresh = run(RECOMMEND, now=at, threshold=0.0001, max_odds_age_minutes=240)
    assert fresh["written"].get("opened", 0) >= 1
    assert len(load_bets(db, strategy)) == fresh["written"]["opened"]


def test_started_games_give_no_pick(world: dict[str, str], db: psycopg.Connection) -> None:
    at = datetime(2024, 5, 24, 22, 46, tzinfo=UTC)  # three games started at 22:40 and 22:45
    result = run(RECOMMEND, now=at, threshold=0.0002, max_odds_age_minutes=600)
    started = {
        (team_from_name(e["away_team"]), team_from_name(e["home_team"]))
        for e in odds_events()
        if datetime.fromisoformat(e["commence_time"].replace("Z", "+00:00")) <= at
    }
    assert len(started) == 3
    decided = {(d["away_team"], d["home_team"]) for d in result["decisions"]}
    assert len(decided) == 6 and not decided & started
    bets = ledger_with_games(db)
    mine = bets[bets["strategy_version"] == result["strategy_version"]]
    assert not set(zip(mine["away_team"], mine["home_team"], strict=True)) & started


def test_settle_twice_gives_no_double_pnl(world: dict[str, str], db: psycopg.Connection) -> None:
    write_odds(db, moved_odds(), MOVED_FETCHED)
    pairs = [
        (team_from_name(e["away_team"]), team_from_name(e["home_team"])) for e in odds_events()
    ]
    open_before = ledger_with_games(db)
    assert (open_before["state"] == "open").all()
    picked = {pairs.index(p) for p in zip(open_before["away_team"], open_before["home_team"],
                                           strict=True)}  # fmt: skip
    # A pick of its own strategy on a game nobody else bet, and that game is postponed.
    spare = next(i for i in range(len(pairs)) if i not in picked)
    (spare_game,) = db.execute(
        "SELECT game_id FROM games WHERE game_date = '2024-05-24'"
        " AND (away_team, home_team) = (%s, %s)",
        pairs[spare],
    ).fetchone()  # type: ignore[misc]
    void_pick = Pick(
        game_id=spare_game, side="home", book="handmade_book_a", price_american=120,
        quoted_at=DECIDED, p_home=0.6, p_away=0.4, consensus_home=0.45,
        consensus_method="median/shin", model_version=world["version"], strategy_version="void",
        reason="test: a pick on the game that will be postponed",
    )  # fmt: skip
    assert record_pick(db, void_pick, StakePolicy(), at=DECIDED).action == "opened"
    open_before = ledger_with_games(db)
    gauges = {g.strategy_version: g for g in strategy_gauges(db)}
    for strategy, group in open_before.groupby("strategy_version"):
        g = gauges[strategy]
        assert (g.picks_open, g.picks_settled, g.forward_roi) == (len(group), 0, None)
        assert g.stake_at_risk == pytest.approx(group["stake"].sum())
        assert g.last_pick_at == group["opened_at"].max()
    postponed = pairs[spare]
    write_schedule(db, schedule(final=True, postponed=spare), SETTLED - timedelta(minutes=5))

    first = run(SETTLE, now=SETTLED)
    assert first["settled"] == len(open_before) and first["still_open"] == 0
    bets = ledger_with_games(db)
    events = load_bet_events(db)
    for bet in bets.itertuples():
        if (bet.away_team, bet.home_team) == postponed:
            assert (bet.state, bet.profit) == ("void", 0.0) and np.isnan(bet.clv_pp)
            continue
        index = pairs.index((bet.away_team, bet.home_team))
        won = (index % 2 == 0) == (bet.side == "home")
        price = bet.price_american
        gain = price / 100 if price > 0 else 100 / -price
        assert bet.state == ("won" if won else "lost")
        assert bet.profit == pytest.approx(bet.stake * gain if won else -bet.stake, abs=1e-4)
        # The market moved towards every home side after the decision.
        assert (bet.clv_pp > 0) == (bet.side == "home"), bet
    assert (bets["state"] == "void").sum() == 1 and bets["state"].isin(["won", "lost"]).any()
    total = bets["profit"].sum()

    second = run(SETTLE, now=SETTLED + timedelta(hours=1))
    assert second["settled"] == 0 and second["profit"] == 0.0
    again = load_bets(db)
    assert again["profit"].sum() == pytest.approx(total, abs=1e-9)
    assert len(load_bet_events(db)) == len(events)


def test_cli_list_today_and_report_print_the_ledgers_numbers(
    world: dict[str, str], db: psycopg.Connection, tmp_path: Path
) -> None:
    from bullpen.cli import app

    strategy = strategy_version(world["version"], PARAMS)
    bets = load_bets(db, strategy)
    ran = bets[bets["state"].isin(["won", "lost", "push"])]
    assert len(ran) >= 2 and (bets["state"] != "open").all()
    staked, profit = ran["stake"].sum(), ran["profit"].sum()

    runner = CliRunner()
    result = runner.invoke(
        app, ["bets", "list", "--since", "2024-05-24", "--strategy", strategy, "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["n"] == len(ran)
    assert figures["void"] == int((bets["state"] == "void").sum())
    assert figures["staked"] == pytest.approx(staked) and figures["profit"] == pytest.approx(profit)
    assert figures["roi"] == pytest.approx(profit / staked)
    assert figures["mean_clv"] == pytest.approx(ran["clv_pp"].mean())
    assert figures["clv_se"] == pytest.approx(ran["clv_pp"].std(ddof=1) / np.sqrt(len(ran)))
    assert figures["ev_at_close"] == pytest.approx(ran["ev_close"].mean())
    assert figures["bankroll"] == pytest.approx(1000.0 + profit)
    low, high = figures["roi_ci"]
    assert low <= profit / staked <= high
    gauge = {g.strategy_version: g for g in strategy_gauges(db)}[strategy]
    assert (gauge.picks_open, gauge.stake_at_risk, gauge.picks_settled) == (0, 0.0, len(ran))
    assert gauge.forward_roi == pytest.approx(profit / staked)
    assert gauge.forward_clv_pp == pytest.approx(ran["clv_pp"].mean())

    text = runner.invoke(app, ["bets", "list", "--strategy", strategy])
    assert text.exit_code == 0, text.output
    assert f"bets settled {len(ran)} " in text.output
    assert f"profit {profit:+.2f}" in text.output
    assert f"bankroll {1000.0 + profit:.2f}" in text.output

    today = runner.invoke(app, ["bets", "today", "--date", "2024-05-24"])
    assert today.exit_code == 0, today.output
    assert f"{len(load_bets(db))} picks" in today.output  # every strategy's picks of the day

    out = tmp_path / "forward.html"
    page = runner.invoke(
        app, ["bets", "report", "--strategy", strategy, "--since", "2024-05-24", "--out", str(out)]
    )
    assert page.exit_code == 0, page.output
    body = out.read_text()
    assert strategy in body and body.count("<img") == 2
    assert f"profit {profit:+.2f}" in body
