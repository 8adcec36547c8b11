"""The cost of authentication (issue #18): `bullpen status`, a small flow run and one API request,
against two real Prefect servers started here side by side, one with basic auth
(PREFECT_SERVER_API_AUTH_STRING) and one without, runs interleaved so load affects both alike.

    .venv/bin/python bench/auth_overhead.py [--repeat 5]

Each server has its own SQLite database in a temporary PREFECT_HOME (the auth check is an HTTP
middleware: the database behind it does not change its cost).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
FLOW = """
from prefect import flow

@flow(name="auth-bench")
def small() -> int:
    return sum(range(1000))

small()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(home: Path, auth: str | None) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BULLPEN_"))}
    env = {
        **base,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "BULLPEN_HOME": str(home / "bullpen"),
    }
    server_env = {**env, **({"PREFECT_SERVER_API_AUTH_STRING": auth} if auth else {})}
    process = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    if auth:
        client["PREFECT_API_AUTH_STRING"] = auth
    return process, client


def _wait(env: dict[str, str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(env["PREFECT_API_URL"] + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{env['PREFECT_API_URL']} did not answer in {timeout:.0f} s")


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 and "status" not in cmd:  # status exits 1 when a check fails
        raise RuntimeError(f"{cmd} failed: {done.stderr[-2000:]}")
    return elapsed


def _request(env: dict[str, str], n: int = 200) -> float:
    """Mean seconds of one authenticated-or-not API call (POST /work_pools/filter)."""
    auth = env.get("PREFECT_API_AUTH_STRING")
    with httpx.Client(
        base_url=env["PREFECT_API_URL"],
        auth=tuple(auth.split(":", 1)) if auth else None,  # type: ignore[arg-type]
    ) as client:
        client.post("/work_pools/filter", json={}).raise_for_status()
        start = time.perf_counter()
        for _ in range(n):
            client.post("/work_pools/filter", json={}).raise_for_status()
        return (time.perf_counter() - start) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    auth = f"bench:{secrets.token_urlsafe(24)}"
    with tempfile.TemporaryDirectory() as plain_home, tempfile.TemporaryDirectory() as auth_home:
        servers = {
            "no auth": _start(Path(plain_home), None),
            "basic auth": _start(Path(auth_home), auth),
        }
        try:
            for _, env in servers.values():
                _wait(env)
            # Wrong credentials are refused (so the "basic auth" column measured real checks).
            wrong = httpx.post(
                servers["basic auth"][1]["PREFECT_API_URL"] + "/work_pools/filter", json={}
            )
            assert wrong.status_code == 401, wrong.status_code
            times: dict[str, dict[str, list[float]]] = {
                name: {"status": [], "flow": [], "request": []} for name in servers
            }
            for _ in range(repeat):
                for name, (_, env) in servers.items():  # interleaved: same load for both
                    times[name]["status"].append(_timed([str(BIN / "bullpen"), "status"], env))
                    times[name]["flow"].append(_timed([sys.executable, "-c", FLOW], env))
                    times[name]["request"].append(_request(env) * 1000)
            # What status saw: a 401 means a probe sent no credentials (timed, but not the same
            # work as without auth).
            shown = subprocess.run(
                [str(BIN / "bullpen"), "status"],
                env=servers["basic auth"][1],
                capture_output=True,
                text=True,
            )
            refused = "401" in shown.stdout + shown.stderr or "Unauthorized" in shown.stdout
        finally:
            for process, _ in servers.values():
                os.killpg(process.pid, 2)
                process.wait(timeout=60)
    print(f"load average {os.getloadavg()[0]:.1f}, {repeat} runs each, interleaved")
    print(f"bullpen status against the auth server saw a 401: {refused}")
    print(f"{'':<12}{'bullpen status s':>20}{'small flow run s':>20}{'API request ms':>18}")
    for name, series in times.items():
        cells = [
            f"{statistics.median(series[k]):.2f} ({min(series[k]):.2f}-{max(series[k]):.2f})"
            for k in ("status", "flow")
        ]
        request = statistics.median(series["request"])
        print(f"{name:<12}{cells[0]:>20}{cells[1]:>20}{request:>18.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
