"""One game day from collection to picks: how long recommend-bets takes over the full history.

Setup (not timed): every bundled season replayed (SBR odds + Retrosheet logs, the play-by-play
with --events), a closing-line model trained on the usable seasons and promoted to champion with
opener threshold --threshold recorded on it. The day is SYNTHETIC (generated here): 15 games of
2041-06-01 between the 30 franchises (names from bullpen.teams), 10 books named synthetic_book_*,
moneyline and totals prices moving at random every 15 minutes from 08:00 to 23:45 UTC (64
snapshots per book and game), written by the real collector (live_store.write_odds_batch) one
fetch at a time. Timed:

- collection: the 64 fetches' writes;
- recommend: the recommend-bets flow at 22:00 UTC (games start at 23:00) with the feature frame
  built from the database (the first run after games were collected), then as a fresh
  deployment process after the next odds collection (frame from the disk cache), then with the
  frame in memory (a second run in the same process).

Usage:
    .venv/bin/python bench/recommend_day.py [--seasons 2010-2020] [--events]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # shared setup in tests/integration/

# The flow reads its settings from the environment: set it before bullpen reads it.
TMP = Path(tempfile.mkdtemp(prefix="bp-bench-"))
os.environ.setdefault("BULLPEN_HOME", str(TMP / "home"))
os.environ.setdefault("PREFECT_HOME", str(TMP / "prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

DAY = datetime(2041, 6, 1, tzinfo=UTC)
BOOKS = [f"synthetic_book_{i:02d}" for i in range(10)]


def synthetic_payloads(seed: int = 17) -> list[tuple[datetime, bytes]]:
    from bullpen.teams import TEAMS

    rng = random.Random(seed)
    teams = sorted(TEAMS)
    rng.shuffle(teams)
    names = {code: TEAMS[code].name for code in teams}
    games = [(teams[2 * i], teams[2 * i + 1]) for i in range(15)]
    fair = {g: rng.uniform(0.35, 0.65) for g in games}
    total = {g: rng.choice([7.5, 8.0, 8.5, 9.0, 9.5]) for g in games}
    out = []
    for tick in range(64):
        at = DAY + timedelta(hours=8, minutes=15 * tick)
        events = []
        for n, (away, home) in enumerate(games):
            fair[(away, home)] = min(max(fair[(away, home)] + rng.gauss(0, 0.004), 0.2), 0.8)
            books = []
            for book in BOOKS:
                p = min(max(fair[(away, home)] + rng.gauss(0, 0.01), 0.15), 0.85)
                margin = rng.uniform(1.03, 1.05)
                stamp = (at + timedelta(seconds=rng.randint(0, 60))).strftime("%Y-%m-%dT%H:%M:%SZ")
                books.append(
                    {
                        "key": book, "title": book, "last_update": stamp,
                        "markets": [
                            {"key": "h2h", "last_update": stamp, "outcomes": [
                                {"name": names[home], "price": _american(1 / (p * margin))},
                                {"name": names[away], "price": _american(1 / ((1 - p) * margin))},
                            ]},
                            {"key": "totals", "last_update": stamp, "outcomes": [
                                {"name": "Over", "price": -110, "point": total[(away, home)]},
                                {"name": "Under", "price": -110, "point": total[(away, home)]},
                            ]},
                        ],
                    }
                )  # fmt: skip
            events.append(
                {
                    "id": f"synthetic{n:023d}",
                    "sport_key": "baseball_mlb",
                    "sport_title": "MLB",
                    "commence_time": "2041-06-01T23:00:00Z",
                    "home_team": names[home],
                    "away_team": names[away],
                    "bookmakers": books,
                }
            )
        out.append((at + timedelta(minutes=2), json.dumps(events).encode()))
    return out


def _american(decimal: float) -> int:
    return int(round((decimal - 1) * 100)) if decimal >= 2 else int(round(-100 / (decimal - 1)))


def schedule_payload(payload: bytes) -> bytes:
    from bullpen.teams import MLB_IDS, team_from_name

    ids = {code: mlb_id for mlb_id, code in MLB_IDS.items()}
    games = []
    for i, event in enumerate(json.loads(payload)):
        game = {
            "gamePk": 980001 + i, "gameType": "R", "season": "2041",
            "gameDate": event["commence_time"], "officialDate": "2041-06-01",
            "status": {"abstractGameState": "Preview", "codedGameState": "S",
                       "detailedState": "Scheduled", "statusCode": "S",
                       "startTimeTBD": False, "abstractGameCode": "P"},
            "teams": {
                side: {"team": {"id": ids[team_from_name(event[f"{side}_team"])],
                                "name": event[f"{side}_team"]}}
                for side in ("away", "home")
            },
            "venue": {"name": "synthetic"}, "gameNumber": 1, "doubleHeader": "N",
        }  # fmt: skip
        games.append(game)
    return json.dumps(
        {"dates": [{"date": "2041-06-01", "totalGames": len(games), "games": games}]}
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seasons", default="2010-2020")
    parser.add_argument("--events", action="store_true", help="also replay the play-by-play")
    parser.add_argument("--threshold", type=float, default=0.005)
    args = parser.parse_args()
    first, last = (int(x) for x in args.seasons.split("-"))

    from bullpen import config, runtime
    from bullpen.betting.opener import OpenerParams
    from bullpen.collect.history import replay
    from bullpen.collect.http import FetchedPayload
    from bullpen.collect.live import store as live_store
    from bullpen.collect.live.mlb_stats import parse_schedule
    from bullpen.collect.live.odds_api import parse_odds
    from bullpen.config import get_settings
    from bullpen.db import engine
    from bullpen.features import dataset
    from bullpen.models import closing_line, mlflow_store
    from bullpen.ops import prefect_process
    from tests.integration import season_live

    server = os.environ.get("BULLPEN_BENCH_DATABASE_URL")
    if server is None:
        server = engine.start_embedded(TMP / "pgdata")
    url = engine.ensure_database(server, "bench_recommend")
    os.environ["BULLPEN_DATABASE_URL"] = url
    os.environ["BULLPEN_MLFLOW_TRACKING_URI"] = f"sqlite:///{TMP / 'mlflow.db'}"
    get_settings.cache_clear()
    prefect_process.prefect_defaults(get_settings())
    runtime.prepare_database(url)
    uri = runtime.mlflow_tracking_uri()

    t = time.perf_counter()
    data = config.data_dir()
    for files in replay.find_season_files(data):
        if first <= files.season <= last:
            replay.replay_season(url, files)
    if args.events:
        seasons = [s for s in replay.find_event_seasons(data) if first <= s.season <= last]
        replay.replay_event_seasons(url, seasons, workers=2)
    setup_replay = time.perf_counter() - t

    t = time.perf_counter()
    frame = closing_line.usable_games(dataset.load_feature_frame(url, "shin"))
    spec = closing_line.CLOSING_LINE
    version = season_live.promote_closing_line(
        url, uri, frame, TMP / "artifacts", who="bench", reason="bench champion"
    )
    tags = OpenerParams(threshold=args.threshold).as_tags("bench")
    mlflow_store.set_version_tags(uri, spec.registered_name, version, tags)
    setup_model = time.perf_counter() - t

    payloads = synthetic_payloads()
    with engine.connect(url, autocommit=True) as conn:
        body = schedule_payload(payloads[0][1])
        fetched = DAY + timedelta(hours=7)
        payload = FetchedPayload("mlb_stats", "/api/v1/schedule?bench", fetched, 200, {}, body)
        live_store.write_games_batch(conn, [(payload, parse_schedule(body, file=payload.label))])
        t = time.perf_counter()
        decided_at = DAY + timedelta(hours=22)
        written = 0
        for fetched, body in payloads:
            if fetched > decided_at:
                break
            payload = FetchedPayload("odds_api", "/v4/bench", fetched, 200, {}, body)
            parsed = parse_odds(
                body, file=payload.label, odds_format="american", fetched_at=fetched
            )
            live_store.write_odds_batch(conn, payload, parsed)
            written += 1
        collection = time.perf_counter() - t

    flow = prefect_process.load_flow("recommend_bets.py:recommend_bets")
    flow(now=DAY)  # warm up: the temporary Prefect server starts here, not in the timing
    # Cold: no frame on disk nor in memory (the first run after games were collected).
    shutil.rmtree(get_settings().home / "cache", ignore_errors=True)
    dataset._cache.clear()
    t = time.perf_counter()
    cold = flow(now=decided_at)  # type: ignore[operator]
    recommend_cold = time.perf_counter() - t
    # A fresh deployment process after the next odds collection: the frame comes from disk.
    dataset._cache.clear()
    t = time.perf_counter()
    flow(now=decided_at + timedelta(minutes=1))  # type: ignore[operator]
    recommend_disk = time.perf_counter() - t
    t = time.perf_counter()
    flow(now=decided_at + timedelta(minutes=2))  # type: ignore[operator]
    recommend_warm = time.perf_counter() - t

    print(
        json.dumps(
            {
                "seasons": args.seasons,
                "events": args.events,
                "games_in_frame": int(len(frame)),
                "setup_replay_s": round(setup_replay, 1),
                "setup_model_s": round(setup_model, 1),
                "collection_fetches": written,
                "collection_s": round(collection, 2),
                "recommend_cold_s": round(recommend_cold, 2),
                "recommend_frame_from_disk_s": round(recommend_disk, 2),
                "recommend_frame_in_memory_s": round(recommend_warm, 2),
                "games": cold["games"],
                "written": cold["written"],
                "missing_features": cold["missing_features"],
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
