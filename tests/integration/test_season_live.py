"""Three weeks of the real 2019 season through the live path equal the offline backtest.

History: the bundled 2018 and 2019 SBR + Retrosheet files replayed into Postgres; a closing-line
champion fit on 2018 with opener settings recorded on it (threshold 0.005, Kelly x0.5), as the
backtest flow records them. Live: 2019-04-01..04-21 as DERIVED Odds API and MLB Stats API
payloads (bullpen.market.replay: SBR open/close, Retrosheet scores, invented first pitches),
served over HTTP by the recorded-API server, collected by the real collectors, then the
settle-bets and recommend-bets flows each day (tests/integration/season_live.py). Offline: the
backtest flow's champion season (usable games, predict_with_alias, opener.season_bets) on the
same dates with the same settings and bankroll.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bullpen.betting.live import strategy_version
from bullpen.betting.opener import OpenerParams
from bullpen.collect.history import replay as history
from bullpen.db import engine
from bullpen.features.dataset import load_feature_frame
from bullpen.market import replay
from bullpen.models import closing_line, mlflow_store
from bullpen.ops import prefect_process
from tests.integration import season_live
from tests.integration.conftest import stage_seasons
from tests.integration.live_api_server import recorded_api

FIRST, LAST = date(2019, 4, 1), date(2019, 4, 21)
SETTINGS = OpenerParams(threshold=0.005, kelly_multiplier=0.5)
BANKROLL, MAX_BET, MAX_DAY = 1000.0, 0.02, 0.2


@pytest.fixture(scope="module")
def world(bullpen_env: dict[str, str], prefect_server: None) -> Iterator[dict]:
    url, uri = bullpen_env["BULLPEN_DATABASE_URL"], bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    data_dir = stage_seasons(Path(bullpen_env["BULLPEN_DATA_DIR"]), [2018, 2019])
    for files in history.find_season_files(data_dir):
        history.replay_season(url, files)
    frame = closing_line.usable_games(load_feature_frame(url, "shin"))
    frame = frame[frame["season"] == 2018]
    spec = closing_line.CLOSING_LINE
    version = season_live.promote_closing_line(
        url, uri, frame, Path(bullpen_env["BULLPEN_HOME"]) / "artifacts",
        who="test", reason="the champion both paths score with",
    )  # fmt: skip
    mlflow_store.set_version_tags(uri, spec.registered_name, version, SETTINGS.as_tags("test"))
    season = replay.load_season(
        data_dir / "odds" / "mlb_odds_2019.csv.gz", data_dir / "retrosheet" / "GL2019.TXT.gz"
    )
    with recorded_api() as api:
        live = season_live.run_live(
            url,
            api,
            season,
            season.days(FIRST, LAST),
            recommend=prefect_process.load_flow("recommend_bets.py:recommend_bets"),  # type: ignore[arg-type]
            settle=prefect_process.load_flow("settle_bets.py:settle_bets"),  # type: ignore[arg-type]
            recommend_params={
                "bankroll": BANKROLL,
                "max_stake_fraction": MAX_BET,
                "max_day_exposure": MAX_DAY,
            },
        )
    params = OpenerParams(
        threshold=SETTINGS.threshold,
        kelly_multiplier=SETTINGS.kelly_multiplier,
        max_stake_fraction=MAX_BET,
        max_day_exposure=MAX_DAY,
        starting_bankroll=BANKROLL,
    )
    backtest, games = season_live.offline_backtest(url, uri, "shin", FIRST, LAST, params)
    with engine.connect(url) as conn:
        result = season_live.compare(conn, strategy_version(version, SETTINGS), backtest, MAX_DAY)
    decisions = season_live.compare_decisions(live, games, SETTINGS.threshold)
    yield {"live": live, "games": games, "cmp": result, "decisions": decisions, "url": url}


def test_every_day_ran_and_every_pick_settled(world: dict) -> None:
    live: season_live.LiveSeason = world["live"]
    assert len(live.days) == 21
    assert all(d.recommend["strategy_version"] for d in live.days)
    picks = sum(d.recommend["written"].get("opened", 0) for d in live.days)
    # A champion fit on one season predicts small moves: most candidates have no Kelly edge at
    # the opening price (the vig), in the backtest as live; the decisions test covers them all.
    assert picks == world["cmp"].live_picks >= 1
    # Nothing left open after the morning after the last day.
    with engine.connect(world["url"]) as conn:
        row = conn.execute("SELECT count(*) FROM bets WHERE state = 'open'").fetchone()
    assert row is not None and row[0] == 0
    assert live.final_settle["still_open"] == 0


def test_live_lines_equal_the_replayed_opening_prices(world: dict) -> None:
    """Every pick's consensus at decision equals the frame's vig-free SBR open of that game."""
    with engine.connect(world["url"]) as conn:
        rows = conn.execute("SELECT game_id, consensus_home FROM bets").fetchall()
    games = world["games"].set_index("game_id")
    for game_id, consensus in rows:
        if game_id in games.index:
            assert consensus == pytest.approx(games.loc[game_id, "p_open_home"], abs=1e-12)


def test_picks_stakes_and_clv_equal_the_backtest(world: dict) -> None:
    cmp: season_live.Comparison = world["cmp"]
    print(cmp.as_dict())
    assert cmp.only_live == [] and cmp.only_backtest == []
    assert cmp.live_picks == cmp.backtest_picks == cmp.common
    assert cmp.side_mismatch == 0
    assert cmp.price_max_diff < 1e-4  # the ledger stores decimal prices to 4 places
    assert cmp.p_model_max_diff < 1e-9
    assert cmp.clv_pp_max_diff < 1e-9
    assert cmp.ev_close_max_diff < 1e-4
    # Stakes as fractions of the start-of-day bankroll: the ledger floors to cents.
    assert cmp.stake_fraction_max_diff_uncapped <= 0.01 / (0.5 * BANKROLL) + 1e-9
    assert cmp.live_mean_clv_pp == pytest.approx(cmp.backtest_mean_clv_pp, abs=1e-9)


def test_every_decision_equals_the_backtest_rule(world: dict) -> None:
    """Picked or not: same predicted close, market at decision, side, edge and candidacy."""
    d = world["decisions"]
    print(d)
    assert d["live_scored"] > 250  # three weeks of games
    assert d["scored_not_in_backtest"] == 0 and d["backtest_games_not_decided_live"] == 0
    assert d["p_close_pred_max_diff"] < 1e-12
    assert d["market_at_decision_max_diff"] < 1e-12
    assert d["edge_max_diff"] < 1e-12
    assert d["side_mismatch"] == 0 and d["candidate_mismatch"] == 0
    assert d["live_candidates"] == d["backtest_candidates"] > 50
