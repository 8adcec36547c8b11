"""The MLB Stats API and The Odds API for the lab: tests/integration/live_api_server.py's
RecordedApi (recorded, real-format answers from tests/fixtures) run on the server host, bound to
its address on a free port, logging every request with the client's address.

Run as a script on the server host (`start` does that, from the server's clone of the commit):
the lab's hosts cannot reach the real APIs, so collect-games and collect-odds are pointed here
by the worker hosts' environment file (BULLPEN_MLB_STATS_BASE_URL, BULLPEN_ODDS_API_BASE_URL,
BULLPEN_ODDS_API_KEY: the role's prefect_worker_environment / _secret_environment).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

if TYPE_CHECKING:
    from tests.infra.multihost.services import Server

SCHEDULE = "/api/v1/schedule"
ODDS = "/v4/sports/baseball_mlb/odds"
# One recorded day: 9 games (7 finals, a rainout); their play-by-play feeds are not recorded,
# so the server answers 404 for them and the collector quarantines each (as in
# tests/integration/test_collect_live.py).
GAME_DAY = "2022-04-07"
SCHEDULE_BODY = f"mlb_statsapi/schedule_date_{GAME_DAY}.json"
ODDS_BODY = "the_odds_api/odds_v4_baseball_mlb_h2h_american_2024-05-24.json"  # 9 events, 114 books
QUOTA = {"x-requests-remaining": "497", "x-requests-used": "3", "x-requests-last": "3"}
TEST_KEY = "lab-odds-key-5c1e0d"  # not a real key: must reach the API, never a table or a log
DIR = "/opt/fixture-api"  # on the server host: the port file and the request log


def serve(address: str, directory: Path) -> None:
    """On the server host: answer the recorded routes on `address`, port chosen by the kernel
    (written to <directory>/port once listening), one JSON line per request to requests.jsonl."""
    from http.server import ThreadingHTTPServer

    from tests.integration.live_api_server import RecordedApi, json_reply

    api = RecordedApi()  # its routes and reply logic; it listens on loopback and is not started
    api.serve(SCHEDULE, json_reply(SCHEDULE_BODY))
    api.serve(ODDS, json_reply(ODDS_BODY, **QUOTA))
    lock = threading.Lock()
    log = (directory / "requests.jsonl").open("a")

    class Logged(api._handler()):  # type: ignore[misc]  # RecordedApi's handler, plus who asked
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            seen = {
                "client": self.client_address[0],
                "path": url.path,
                "query": {k: v[-1] for k, v in parse_qs(url.query).items()},
                "at": time.time(),
            }
            with lock:
                log.write(json.dumps(seen) + "\n")
                log.flush()
            super().do_GET()

    server = ThreadingHTTPServer((address, 0), Logged)
    server.daemon_threads = True
    port = directory / "port"
    (directory / "port.tmp").write_text(str(server.server_address[1]))
    os.replace(directory / "port.tmp", port)
    server.serve_forever()


@dataclass
class FixtureApi:
    url: str  # http://10.77.0.1:<port>
    log: Path  # the request log, on the machine (the server host's /opt/fixture-api)

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def worker_environment(self) -> dict[str, str]:
        """What the worker hosts' environment file gets (prefect_worker_environment)."""
        return {"BULLPEN_MLB_STATS_BASE_URL": self.url, "BULLPEN_ODDS_API_BASE_URL": self.url}


def start(server: Server) -> FixtureApi:
    """This file, run on the server host as nobody by the server's interpreter, importing
    RecordedApi and the recorded bodies from the server's clone of the deployed commit."""
    from tests.infra.multihost.services import NOBODY, PY

    t0 = time.monotonic()
    directory = server.host.dir / DIR.removeprefix("/opt/")
    directory.mkdir()
    (directory / "serve.py").write_text(Path(__file__).read_text())
    os.chown(directory, *NOBODY)
    process = server.host.spawn(
        [PY, f"{DIR}/serve.py", server.address, DIR],
        server.host.lab.logs / "server-fixture-api.log",
        server.host.env({"PYTHONPATH": "/opt/checkout"}),
        user=NOBODY,
    )
    port = directory / "port"
    deadline = time.monotonic() + 30
    while not port.exists():
        assert process.poll() is None, "the fixture API exited: see logs/server-fixture-api.log"
        assert time.monotonic() < deadline, "the fixture API did not listen within 30 s"
        time.sleep(0.1)
    server.started["fixture api"] = time.monotonic() - t0
    return FixtureApi(f"http://{server.address}:{port.read_text()}", directory / "requests.jsonl")


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]))
