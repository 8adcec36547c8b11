"""The local stack: embedded PostgreSQL, a Prefect server on that Postgres (database `prefect`),
work pool `bullpen-pool` with one process worker, an MLflow server, the rclone S3 server and the
metrics exporter. Pids, logs and a sourceable `env` file live in <BULLPEN_HOME>/stack/.

    .venv/bin/bullpen stack up        # idempotent: starts what is not running
    .venv/bin/bullpen stack status
    .venv/bin/bullpen stack down      # stops every process it started, then Postgres
    source .bullpen/stack/env         # PREFECT_API_URL, BULLPEN_S3_*, ... for your shell

State survives restarts: Prefect's and MLflow's databases live in the embedded server's data
directory, S3 objects under <home>/s3/data, and the generated S3 keys in <home>/stack/s3.keys.
Ports: Prefect 4200, MLflow 5000, S3 9000, metrics 9464 (BULLPEN_STACK_*_PORT overrides).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bullpen import runtime
from bullpen.backup import local_s3
from bullpen.config import Settings, get_settings
from bullpen.db import engine
from bullpen.registry import mlflow_server

BIN = Path(sys.executable).parent
POOL = "bullpen-pool"
PORTS = {"prefect": 4200, "mlflow": 5000, "s3": 9000, "metrics": 9464}


@dataclass(frozen=True)
class Service:
    name: str
    marker: str  # a string its command line contains (pids get reused)


SERVICES = [
    Service("s3", "rclone"),
    Service("prefect", "server"),
    Service("worker", "worker"),
    Service("mlflow", "mlflow"),
    Service("metrics", "metrics"),
]


def _port(name: str) -> int:
    return int(os.environ.get(f"BULLPEN_STACK_{name.upper()}_PORT", PORTS[name]))


def stack_dir(settings: Settings) -> Path:
    path = settings.home.resolve() / "stack"
    path.mkdir(parents=True, exist_ok=True)
    return path


def running_pid(settings: Settings, service: Service) -> int | None:
    try:
        pid = int((stack_dir(settings) / f"{service.name}.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if service.marker.encode() in cmdline else None


def _s3_keys(settings: Settings) -> tuple[str, str]:
    """BULLPEN_S3_* keys if set, else a pair generated once and kept (0600) for later runs."""
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        return (
            settings.s3_access_key_id.get_secret_value(),
            settings.s3_secret_access_key.get_secret_value(),
        )
    path = stack_dir(settings) / "s3.keys"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(f"bullpen{secrets.token_hex(6)}\n{secrets.token_urlsafe(24)}\n")
    access, secret = path.read_text().split()
    return access, secret


def stack_env(settings: Settings) -> dict[str, str]:
    """What every stack process (and an operator's shell) needs to use the stack."""
    access, secret = _s3_keys(settings)
    return {
        "BULLPEN_HOME": str(settings.home.resolve()),
        "BULLPEN_REPO_DIR": str(runtime.repo_root()),
        "PREFECT_API_URL": f"http://127.0.0.1:{_port('prefect')}/api",
        "PREFECT_HOME": str(settings.home.resolve() / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # for the automation bullpen-crash-zombies
        # JSON lines with the flow-run id for logger `bullpen` in every flow-run process.
        "PREFECT_LOGGING_SETTINGS_PATH": str(runtime.repo_root() / "infra" / "prefect-logging.yml"),
        "BULLPEN_LOG_JSON": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BULLPEN_S3_ENDPOINT_URL": settings.s3_endpoint_url or f"http://127.0.0.1:{_port('s3')}",
        "BULLPEN_S3_ACCESS_KEY_ID": access,
        "BULLPEN_S3_SECRET_ACCESS_KEY": secret,
    }


def _spawn(settings: Settings, name: str, cmd: list[str], env: dict[str, str]) -> int:
    log = (stack_dir(settings) / f"{name}.log").open("ab")
    process = subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # survives this command; `down` stops it by pid
        cwd=runtime.repo_root(),
    )
    log.close()
    (stack_dir(settings) / f"{name}.pid").write_text(str(process.pid))
    return process.pid


def _wait_http(url: str, timeout: float, pid: int) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise RuntimeError(f"process {pid} exited before {url} answered") from None
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def up(settings: Settings) -> None:
    env = stack_env(settings)
    server = engine.start_embedded(settings.pgdata)
    bullpen_url = engine.ensure_database(server, runtime.BULLPEN_DATABASE)
    runtime.prepare_database(bullpen_url)
    prefect_db = engine.with_database(engine.ensure_database(server, "prefect"), "prefect")
    print(f"postgres  {settings.pgdata} (databases bullpen, mlflow, prefect)")

    by_name = {s.name: s for s in SERVICES}
    if running_pid(settings, by_name["s3"]) is None:
        host, port = local_s3.endpoint_address(env["BULLPEN_S3_ENDPOINT_URL"])
        s3 = local_s3.start_local_s3(
            settings.home.resolve() / "s3" / "data",
            env["BULLPEN_S3_ACCESS_KEY_ID"],
            env["BULLPEN_S3_SECRET_ACCESS_KEY"],
            host=host,
            port=port,
            log_file=stack_dir(settings) / "s3.log",
            detach=True,
        )
        (stack_dir(settings) / "s3.pid").write_text(str(s3.pid))
    print(f"s3        {env['BULLPEN_S3_ENDPOINT_URL']}")

    if running_pid(settings, by_name["prefect"]) is None:
        asyncpg_url = prefect_db.replace("postgresql://", "postgresql+asyncpg://", 1)
        pid = _spawn(
            settings,
            "prefect",
            [
                str(BIN / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(_port("prefect")),
            ],
            {**env, "PREFECT_API_URL": "", "PREFECT_API_DATABASE_CONNECTION_URL": asyncpg_url},
        )
        _wait_http(env["PREFECT_API_URL"] + "/health", 180, pid)
    print(f"prefect   {env['PREFECT_API_URL']}")

    import httpx

    created = httpx.post(
        env["PREFECT_API_URL"] + "/work_pools/", json={"name": POOL, "type": "process"}, timeout=30
    )
    if created.status_code not in (201, 409):  # 409: the pool exists already
        created.raise_for_status()
    if running_pid(settings, by_name["worker"]) is None:
        _spawn(
            settings,
            "worker",
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "bullpen-local"],
            env,
        )
    print(f"worker    pool {POOL}")

    if running_pid(settings, by_name["mlflow"]) is None:
        tracking = runtime.mlflow_tracking_uri(settings)
        pid = _spawn(
            settings,
            "mlflow",
            mlflow_server.server_command(
                tracking, settings.artifact_root, port=_port("mlflow"), python=BIN / "python"
            ),
            env,
        )
        _wait_http(f"http://127.0.0.1:{_port('mlflow')}/health", 180, pid)
    print(f"mlflow    http://127.0.0.1:{_port('mlflow')}")

    if running_pid(settings, by_name["metrics"]) is None:
        _spawn(
            settings,
            "metrics",
            [str(BIN / "bullpen"), "metrics", "serve", "--port", str(_port("metrics"))],
            env,
        )
    print(f"metrics   http://127.0.0.1:{_port('metrics')}/metrics")
    env_file = stack_dir(settings) / "env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
    print(f"env       source {env_file}")
    _secrets(env)


def _secrets(env: dict[str, str]) -> None:
    """What scheduled runs need: a backup key (generated once into <home>/stack/backup.key,
    0600, and saved as the block bullpen-backup-key unless BULLPEN_BACKUP_KEY or the block
    exists), and collect-odds/every-15-min paused while no Odds API key is saved, with a line
    saying how to save one. `bullpen stack secrets` runs in the stack's own environment."""
    done = subprocess.run(
        [str(BIN / "bullpen"), "stack", "secrets"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=runtime.repo_root(),
    )
    for line in (done.stdout + done.stderr).splitlines():
        print(f"secrets   {line}")
    if done.returncode != 0:
        print(f"secrets   failed (exit {done.returncode}): scheduled backups may lack a key")


def down(settings: Settings) -> None:
    for service in reversed(SERVICES):
        pid = running_pid(settings, service)
        if pid is None:
            print(f"{service.name:<9} not running")
            continue
        if service.name == "s3":
            local_s3.stop_pid(pid)
        else:
            _stop(pid)
        (stack_dir(settings) / f"{service.name}.pid").unlink(missing_ok=True)
        print(f"{service.name:<9} stopped (pid {pid})")
    stopped = engine.stop_embedded(settings.pgdata)
    print(f"postgres  {'stopped' if stopped else 'not running'}")


def _stop(pid: int, timeout: float = 20) -> None:
    """SIGINT (Prefect and uvicorn shut down cleanly on it), then SIGKILL; the whole group."""
    try:
        os.killpg(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)


def status(settings: Settings) -> int:
    from bullpen.db.embedded import postmaster

    pg_up = postmaster.running_postmaster(settings.pgdata) is not None
    print(f"{'postgres':<9} {'running' if pg_up else 'stopped':<8} {settings.pgdata}")
    all_up = pg_up
    for service in SERVICES:
        pid = running_pid(settings, service)
        all_up = all_up and pid is not None
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"{service.name:<9} {state:<20} log {stack_dir(settings) / (service.name + '.log')}")
    return 0 if all_up else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    command = parser.parse_args(argv).command
    settings = get_settings()
    if command == "up":
        up(settings)
        return 0
    if command == "down":
        down(settings)
        return 0
    return status(settings)


if __name__ == "__main__":
    raise SystemExit(main())
