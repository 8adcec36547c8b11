"""A whole real season through the live path, day by day, compared with the offline backtest.

Setup (not timed): the bundled seasons --history-from..SEASON replayed into a fresh database
(SBR odds + Retrosheet logs; --events adds the play-by-play), a closing-line model fit on the
seasons before SEASON and promoted to champion with the opener settings --threshold/--kelly
recorded on it (as the backtest flow records its choice).

Timed, per game date of SEASON (tests/integration/season_live.py): collect-games from a
DERIVED MLB Stats API schedule, settle-bets, collect-odds from DERIVED Odds API payloads
(bullpen.market.replay: SBR open and close lines of one book `sbr_derived`, invented first
pitches; never recorded API data), recommend-bets right after the open, collect-odds after the
closes. Payloads are served over HTTP by the recorded-API server of the integration tests and
read by the real collectors; recommend-bets and settle-bets are the flows themselves.

Then the offline backtest of the same games (the backtest flow's champion season restricted to
the replayed dates, same champion, settings and bankroll) and the comparison: picks, sides,
prices, stakes (as fractions of the start-of-day bankroll), CLV and EV at the close.

Usage:
    .venv/bin/python bench/season_live.py [--season 2019] [--history-from 2015] [--events]
        [--first 2019-04-01 --last 2019-04-30] [--days-out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the recorded-API server and the driver live under tests/

# The flows read their settings from the environment: set it before bullpen reads it.
TMP = Path(tempfile.mkdtemp(prefix="bp-season-live-"))
os.environ.setdefault("BULLPEN_HOME", str(TMP / "home"))
os.environ.setdefault("PREFECT_HOME", str(TMP / "prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--season", type=int, default=2019)
    parser.add_argument("--history-from", type=int, default=2015)
    parser.add_argument("--events", action="store_true", help="also replay the play-by-play")
    parser.add_argument("--threshold", type=float, default=0.005)
    parser.add_argument("--kelly", type=float, default=0.5)
    parser.add_argument("--bankroll", type=float, default=1000.0)
    parser.add_argument("--max-bet", type=float, default=0.02)
    parser.add_argument("--max-day", type=float, default=0.2)
    parser.add_argument("--first", type=date.fromisoformat, default=None)
    parser.add_argument("--last", type=date.fromisoformat, default=None)
    parser.add_argument("--days-out", type=Path, default=None, help="per-day timings as JSON")
    args = parser.parse_args()

    from bullpen import config, runtime
    from bullpen.betting.live import strategy_version
    from bullpen.betting.opener import OpenerParams
    from bullpen.collect.history import replay as history
    from bullpen.config import get_settings
    from bullpen.db import engine
    from bullpen.features import dataset
    from bullpen.market import replay
    from bullpen.models import closing_line, mlflow_store
    from bullpen.ops import prefect_process
    from tests.integration import season_live
    from tests.integration.live_api_server import recorded_api

    server = os.environ.get("BULLPEN_BENCH_DATABASE_URL")
    if server is None:
        server = engine.start_embedded(TMP / "pgdata")
    url = engine.ensure_database(server, "bench_season_live")
    os.environ["BULLPEN_DATABASE_URL"] = url
    os.environ["BULLPEN_MLFLOW_TRACKING_URI"] = f"sqlite:///{TMP / 'mlflow.db'}"
    get_settings.cache_clear()
    prefect_process.prefect_defaults(get_settings())
    runtime.prepare_database(url)
    uri = runtime.mlflow_tracking_uri()
    devig = get_settings().devig_method

    t = time.perf_counter()
    data = config.data_dir()
    chosen = [f for f in history.find_season_files(data)
              if args.history_from <= f.season <= args.season]  # fmt: skip
    for files in chosen:
        history.replay_season(url, files)
    if args.events:
        seasons = [s for s in history.find_event_seasons(data)
                   if args.history_from <= s.season <= args.season]  # fmt: skip
        history.replay_event_seasons(url, seasons, workers=2)
    setup_replay = time.perf_counter() - t

    t = time.perf_counter()
    frame = closing_line.usable_games(dataset.load_feature_frame(url, devig))
    frame = frame[frame["season"] < args.season]
    spec = closing_line.CLOSING_LINE
    version = season_live.promote_closing_line(
        url, uri, frame, TMP / "artifacts", who="bench", reason="bench champion"
    )
    settings = OpenerParams(threshold=args.threshold, kelly_multiplier=args.kelly)
    mlflow_store.set_version_tags(uri, spec.registered_name, version, settings.as_tags("bench"))
    setup_model = time.perf_counter() - t

    files = next(f for f in chosen if f.season == args.season)
    season = replay.load_season(files.odds, files.retrosheet)
    days = season.days(args.first, args.last)
    recommend = prefect_process.load_flow("recommend_bets.py:recommend_bets")
    settle = prefect_process.load_flow("settle_bets.py:settle_bets")
    prefect_process.start_ephemeral_prefect()  # not in the timing

    def show(d: season_live.DayRun) -> None:
        print(
            f"{d.day}  games {d.games:2d}  {d.seconds:5.2f} s (flows {d.flow_seconds:4.2f} s)"
            f"  decisions {d.recommend['games']}"
            f"  ledger {d.recommend['written']}  settled {d.settle.get('by_state', {})}",
            flush=True,
        )

    t = time.perf_counter()
    with recorded_api() as api:
        live = season_live.run_live(
            url, api, season, days,
            recommend=recommend, settle=settle,  # type: ignore[arg-type]
            recommend_params={"bankroll": args.bankroll, "max_stake_fraction": args.max_bet,
                              "max_day_exposure": args.max_day},
            on_day=show,
        )  # fmt: skip
    live_total = time.perf_counter() - t

    params = OpenerParams(
        threshold=args.threshold, kelly_multiplier=args.kelly, max_stake_fraction=args.max_bet,
        max_day_exposure=args.max_day, starting_bankroll=args.bankroll, devig_method=devig,
    )  # fmt: skip
    t = time.perf_counter()
    backtest, games = season_live.offline_backtest(url, uri, devig, days[0], days[-1], params)
    offline_s = time.perf_counter() - t
    strategy = strategy_version(version, settings)
    with engine.connect(url) as conn:
        cmp = season_live.compare(conn, strategy, backtest, args.max_day)
        decisions = season_live.compare_decisions(live, games, args.threshold)

    per_day = [d.seconds for d in live.days]
    if args.days_out:
        args.days_out.write_text(
            json.dumps(
                [
                    {"day": str(d.day), "games": d.games, "seconds": round(d.seconds, 3)}
                    for d in live.days
                ],
                indent=1,
            )  # fmt: skip
        )
    print(
        json.dumps(
            {
                "season": args.season,
                "history": f"{args.history_from}-{args.season}",
                "events": args.events,
                "days": len(days),
                "games": sum(d.games for d in live.days),
                "setup_replay_s": round(setup_replay, 1),
                "setup_model_s": round(setup_model, 1),
                "live_total_s": round(live_total, 1),
                "seconds_per_day": {
                    "mean": round(statistics.mean(per_day), 2),
                    "median": round(statistics.median(per_day), 2),
                    "max": round(max(per_day), 2),
                    "in_flow_calls_mean": round(
                        statistics.mean(d.flow_seconds for d in live.days), 2
                    ),
                },
                "offline_backtest_s": round(offline_s, 1),
                "strategy": strategy,
                "picks": cmp.as_dict(),
                "decisions": decisions,
                "backtest_final_bankroll": round(backtest.result.final_bankroll, 2),
                "load_1min": os.getloadavg()[0],
            },
            indent=2,
        )
    )
    if not os.environ.get("BULLPEN_BENCH_DATABASE_URL"):
        engine.stop_embedded(TMP / "pgdata")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
