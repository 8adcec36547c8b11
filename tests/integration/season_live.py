"""A replayed real season through the live path, day by day, and its comparison with the
offline backtest of the same games. Shared by tests/integration/test_season_live.py (a few
weeks) and bench/season_live.py (a whole season).

Per game date d (times UTC, see bullpen.market.replay):
  09:00 collect-games for the previous replayed date..d (its games final, today's scheduled;
  production collects every morning, so a break's first morning has the finals before it)
  from the derived schedule,
  09:05 settle-bets, 14:05 collect-odds (the lines open), 14:10 recommend-bets, then a
  collect-odds after each first pitch's closing quotes.
The payloads are derived from SBR and Retrosheet files (bullpen.market.replay), served over HTTP
by the recorded-API server and read by the real collectors (bullpen.collect.live.collector);
recommend and settle are the flows themselves, so nothing here re-implements the live path.
"""

from __future__ import annotations

import time as timer
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from pydantic import SecretStr

from bullpen.betting import opener
from bullpen.betting.ledger import load_bets
from bullpen.collect import http
from bullpen.collect.live import collector
from bullpen.collect.live.mlb_stats import SCHEDULE_PATH
from bullpen.collect.live.odds_api import ODDS_PATH, OddsRequest
from bullpen.db import engine
from bullpen.features import dataset
from bullpen.market import replay
from bullpen.models import closing_line
from bullpen.models.predict import predict_with_alias
from tests.integration.live_api_server import RecordedApi, Reply

GAMES_AT = time(9, 0)
SETTLE_AFTER = timedelta(minutes=5)
RECOMMEND_AFTER = timedelta(minutes=5)
ODDS_REQUEST = OddsRequest(markets="h2h,totals")
API_KEY = SecretStr("season-replay-not-a-key")
QUOTA = {"x-requests-remaining": "1000000", "x-requests-used": "0", "x-requests-last": "2"}
JSON = {"Content-Type": "application/json"}


def promote_closing_line(
    url: str, uri: str, frame: pd.DataFrame, artifacts: Path, *, who: str, reason: str
) -> str:
    """Fit the closing-line model on `frame`, register it and make it champion through
    `transition` (with its audit row): the champion both the live path and the backtest score
    with. Returns the version."""
    from bullpen.models import mlflow_store
    from bullpen.models.train import train_model, training_fingerprint
    from bullpen.registry import audit, challenger, transition

    spec = closing_line.CLOSING_LINE
    fitted = train_model(frame, spec, closing_line.PARAMS)
    experiment = mlflow_store.ensure_experiment(uri, f"{who}-season-live", artifacts)
    version = challenger.register(
        tracking_uri=uri, experiment_id=experiment, model=fitted,
        fingerprint=training_fingerprint(frame, spec, fitted.params), trigger=who, metrics={},
    ).version  # fmt: skip
    entry = audit.AuditEntry(
        model=closing_line.NAME, action="promoted", stage="manual", trigger=who, reason=reason
    )
    with engine.connect(url) as conn:
        transition.promote(conn, uri, spec.registered_name, version, entry)
    return str(version)


@dataclass
class DayRun:
    day: date
    games: int
    seconds: float
    recommend: dict
    settle: dict
    flow_seconds: float = 0.0  # of `seconds`, inside the settle-bets and recommend-bets flow calls


@dataclass
class LiveSeason:
    days: list[DayRun] = field(default_factory=list)
    final_settle: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(d.seconds for d in self.days)


def _source(api: RecordedApi, name: str, clock: Callable[[], datetime]) -> http.Source:
    return http.Source(
        name,
        http.make_client(api.url, 10.0),
        http.RetryPolicy(max_attempts=2, backoff_base=0.1),
        http.CircuitBreaker(name, failure_threshold=10),
        clock=clock,
    )


def run_live(
    database_url: str,
    api: RecordedApi,
    season: replay.Season,
    days: list[date],
    *,
    recommend: Callable[..., dict],
    settle: Callable[..., dict],
    recommend_params: dict,
    on_day: Callable[[DayRun], None] | None = None,
) -> LiveSeason:
    """Collect, settle and recommend each of `days` in order (see the module docstring), then
    settle the last day the next morning."""
    now = [datetime.combine(days[0], GAMES_AT, UTC)]
    mlb = _source(api, "mlb_stats", lambda: now[0])
    odds = _source(api, "odds_api", lambda: now[0])
    out = LiveSeason()
    previous = days[0] - timedelta(days=1)
    try:
        with engine.connect(database_url, autocommit=True) as conn:
            for day in days:
                started = timer.perf_counter()
                in_flows = [0.0]
                timed_settle = _timed(settle, in_flows)
                settled = _collect_games_and_settle(
                    conn, api, mlb, season, previous, day, now, timed_settle
                )
                previous = day
                games = season.on(day)
                fetches = replay.odds_fetch_times(games)
                recommended: dict = {}
                for n, at in enumerate(fetches):
                    now[0] = at
                    body = replay.odds_payload(games, at)
                    api.serve(ODDS_PATH, Reply(200, body, {**JSON, **QUOTA}))
                    collector.collect_odds(conn, odds, ODDS_REQUEST, API_KEY, min_remaining=0)
                    if n == 0:  # right after the lines open: the backtest bets the open
                        recommended = _timed(recommend, in_flows)(
                            now=at + RECOMMEND_AFTER, **recommend_params
                        )
                seconds = timer.perf_counter() - started
                out.days.append(DayRun(day, len(games), seconds, recommended, settled, in_flows[0]))
                if on_day is not None:
                    on_day(out.days[-1])
            out.final_settle = _collect_games_and_settle(
                conn, api, mlb, season, days[-1], days[-1] + timedelta(days=1), now, settle
            )
    finally:
        mlb.client.close()
        odds.client.close()
    return out


def _timed(flow: Callable[..., dict], total: list[float]) -> Callable[..., dict]:
    def call(**params: object) -> dict:
        started = timer.perf_counter()
        try:
            return flow(**params)
        finally:
            total[0] += timer.perf_counter() - started

    return call


def _collect_games_and_settle(
    conn: psycopg.Connection,
    api: RecordedApi,
    mlb: http.Source,
    season: replay.Season,
    start: date,
    day: date,
    now: list[datetime],
    settle: Callable[..., dict],
) -> dict:
    """Collect start..day (from the previous replayed date: across a break in the schedule its
    finals would otherwise never be collected and its picks never settled), then settle."""
    now[0] = datetime.combine(day, GAMES_AT, UTC)
    api.serve(SCHEDULE_PATH, Reply(200, replay.schedule_payload(season, start, day, now[0]), JSON))
    collector.collect_games(conn, mlb, start, day)
    return settle(now=now[0] + SETTLE_AFTER)


# --- the offline backtest of the same games, and the comparison --------------------------------


def offline_backtest(
    database_url: str,
    tracking_uri: str,
    devig_method: str,
    first: date,
    last: date,
    params: opener.OpenerParams,
) -> tuple[opener.SeasonBets, pd.DataFrame]:
    """The backtest flow's champion season (flows/backtest.py champion_season: the champion
    scores closing_line.usable_games, opener.season_bets bets them) restricted to first..last.

    Built cold: the live runs reused rows of the frame kept in this process, the backtest reads
    every game afresh, so equal decisions also show the reuse changed nothing."""
    dataset.clear_caches()
    frame = dataset.load_feature_frame(database_url, devig_method)
    dates = pd.to_datetime(frame["game_date"]).dt.date
    games = closing_line.usable_games(frame[(dates >= first) & (dates <= last)]).copy()
    p_pred, _version = predict_with_alias(tracking_uri, closing_line.CLOSING_LINE, games)
    games["p_close_pred"] = p_pred
    r2 = closing_line.r2_of_forecast(games)
    bets = opener.season_bets(int(games["season"].iloc[0]), games, r2, params, "replay check")
    return bets, games


@dataclass
class Comparison:
    live_picks: int
    backtest_picks: int
    common: int
    only_live: list[int]
    only_backtest: list[int]
    side_mismatch: int
    price_max_diff: float  # decimal
    p_model_max_diff: float
    stake_fraction_max_diff: float  # stake / start-of-day bankroll, over common picks
    stake_fraction_max_diff_uncapped: float  # same, days where the exposure cap did not bind
    capped_days: int
    clv_pp_max_diff: float
    ev_close_max_diff: float
    live_mean_clv_pp: float
    backtest_mean_clv_pp: float
    live_mean_ev_close: float
    backtest_mean_ev_close: float
    live_staked: float
    backtest_staked: float
    live_profit: float
    backtest_profit: float
    detail: pd.DataFrame = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "detail"}
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}


def compare(
    conn: psycopg.Connection,
    strategy_version: str,
    backtest: opener.SeasonBets,
    max_day_exposure: float,
) -> Comparison:
    """The ledger's picks of `strategy_version` against the backtest's bets, game by game."""
    live = load_bets(conn, strategy_version)
    live = live[live["state"] != "void"].copy()
    dates = dict(conn.execute("SELECT game_id, game_date FROM games").fetchall())
    live["game_date"] = live["game_id"].map(dates)
    bt = backtest.result.bets.copy()
    bt["game_id"] = bt["game_id"].astype("int64")
    start_bankroll = _start_of_day_bankroll(bt, backtest.params.starting_bankroll)
    bt["day_bankroll"] = bt["game_date"].map(start_bankroll)
    by_day = bt.groupby("game_date")["stake"]
    # Reached the day's limit, short of it only by the cents each stake was rounded down.
    room_left = bt["day_bankroll"] * max_day_exposure - by_day.transform("sum")
    bt["capped"] = room_left <= 0.01 * by_day.transform("size")

    merged = live.merge(bt, on="game_id", how="outer", suffixes=("_live", "_bt"), indicator=True)
    both = merged[merged["_merge"] == "both"].copy()
    both["p_live"] = np.where(both["side_live"] == "home", both["p_home"], both["p_away"])
    both["fraction_live"] = both["stake_live"] / both["bankroll"]
    both["fraction_bt"] = both["stake_bt"] / both["day_bankroll"]
    both["fraction_diff"] = (both["fraction_live"] - both["fraction_bt"]).abs()
    uncapped = both[~both["capped"].astype(bool)]
    settled = live[live["clv_pp"].notna()]
    return Comparison(
        live_picks=len(live),
        backtest_picks=len(bt),
        common=len(both),
        only_live=sorted(int(g) for g in merged.loc[merged["_merge"] == "left_only", "game_id"]),
        only_backtest=sorted(
            int(g) for g in merged.loc[merged["_merge"] == "right_only", "game_id"]
        ),
        side_mismatch=int((both["side_live"] != both["side_bt"]).sum()),
        price_max_diff=_max_abs(both["price_decimal_live"] - both["price_decimal_bt"]),
        p_model_max_diff=_max_abs(both["p_live"] - both["p_model"]),
        stake_fraction_max_diff=_max_abs(both["fraction_diff"]),
        stake_fraction_max_diff_uncapped=_max_abs(uncapped["fraction_diff"]),
        capped_days=int(bt.loc[bt["capped"], "game_date"].nunique()),
        clv_pp_max_diff=_max_abs(both["clv_pp_live"] - both["clv_pp_bt"]),
        ev_close_max_diff=_max_abs(both["ev_close_live"] - both["ev_close_bt"]),
        live_mean_clv_pp=float(settled["clv_pp"].astype(float).mean()),
        backtest_mean_clv_pp=float(bt["clv_pp"].mean()),
        live_mean_ev_close=float(settled["ev_close"].astype(float).mean()),
        backtest_mean_ev_close=float(bt["ev_close"].mean()),
        live_staked=float(live["stake"].sum()),
        backtest_staked=float(bt["stake"].sum()),
        live_profit=float(live["profit"].sum()),
        backtest_profit=float(bt["profit"].sum()),
        detail=merged,
    )


def _start_of_day_bankroll(bets: pd.DataFrame, start: float) -> dict[object, float]:
    """The bankroll each date's stakes were sized from: the end of the previous betting date."""
    out: dict[object, float] = {}
    bankroll = start
    for day, group in bets.groupby("game_date", sort=True):
        out[day] = bankroll
        bankroll = float(group["bankroll_after"].iloc[-1])
    return out


def _max_abs(values: pd.Series) -> float:
    values = pd.to_numeric(values, errors="coerce").astype(float).abs()
    return float(values.max()) if values.notna().any() else 0.0


def compare_decisions(live: LiveSeason, games: pd.DataFrame, threshold: float) -> dict[str, object]:
    """Every live decision (picked or not) against the backtest's rule on the same game: the
    predicted close, the market at decision, the side and edge, and whether it is a candidate
    (edge above the threshold). Stakes aside, this is where skew would show first."""
    rows = [d for day in live.days for d in day.recommend.get("decisions", [])]
    decided = pd.DataFrame(rows)
    scored = decided[decided["p_close_pred"].notna()].copy()
    bt = games.set_index("game_id")
    known = scored[scored["game_id"].isin(bt.index)].copy()
    p_bt = known["game_id"].map(bt["p_close_pred"]).astype(float)
    open_bt = known["game_id"].map(bt["p_open_home"]).astype(float)
    edge_home = p_bt - open_bt
    side_bt = np.where(edge_home >= -edge_home, "home", "away")
    edge_bt = np.abs(edge_home)
    candidate_bt = edge_bt > threshold
    missing = sorted(set(int(g) for g in bt.index) - set(int(g) for g in decided["game_id"]))
    return {
        "live_decisions": len(decided),
        "live_scored": len(scored),
        "scored_not_in_backtest": int((~scored["game_id"].isin(bt.index)).sum()),
        "backtest_games_not_decided_live": len(missing),
        "p_close_pred_max_diff": _max_abs(known["p_close_pred"].astype(float) - p_bt),
        "market_at_decision_max_diff": _max_abs(known["consensus_home"].astype(float) - open_bt),
        "edge_max_diff": _max_abs(known["edge"].astype(float) - edge_bt),
        "side_mismatch": int((known["side"].to_numpy() != side_bt).sum()),
        "candidate_mismatch": int(((known["outcome"] == "pick").to_numpy() != candidate_bt).sum()),
        "live_candidates": int((known["outcome"] == "pick").sum()),
        "backtest_candidates": int(candidate_bt.sum()),
    }
