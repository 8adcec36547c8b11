"""The local stack: embedded PostgreSQL, a Prefect server on that Postgres (database `prefect`),
work pool `bullpen-pool` with one process worker, an MLflow server, the rclone S3 server and the
metrics exporter. Pids, logs and a sourceable `env` file live in <BULLPEN_HOME>/stack/.

    .venv/bin/bullpen stack up        # idempotent: starts what is not running
    .venv/bin/bullpen stack status
    .venv/bin/bullpen stack down      # stops every process it started, then Postgres
    .venv/bin/bullpen stack credentials  # the generated Prefect and MLflow credentials
    source .bullpen/stack/env         # PREFECT_API_URL, PREFECT_API_AUTH_STRING, ... for your shell

State survives restarts: Prefect's and MLflow's databases live in the embedded server's data
directory, S3 objects under <home>/s3/data, and the generated S3 keys in <home>/stack/s3.keys.
MLflow artifacts (models, reports) go to s3://bullpen-mlflow/artifacts on that S3 server
(BULLPEN_ARTIFACT_ROOT overrides), so a worker on another machine reads what this one wrote.
Ports: Prefect 4200, MLflow 5000, S3 9000, metrics 9464 (BULLPEN_STACK_*_PORT overrides).

Authentication (docs/security.md): the first `up` generates a Prefect basic-auth string and an
MLflow admin password into <home>/credentials/stack.json (0600, directory 0700); the Prefect
server requires it (PREFECT_SERVER_API_AUTH_STRING), the worker, CLI and flows send it
(PREFECT_API_AUTH_STRING), MLflow runs its basic-auth app. The worker never runs as root: under
root it runs as BULLPEN_STACK_WORKER_USER, or is not started (the reason is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bullpen import runtime
from bullpen.backup import dump, local_s3, migrate, s3
from bullpen.config import Settings, get_settings
from bullpen.db import engine, urls
from bullpen.profiles import unauthorized_message
from bullpen.registry import mlflow_server

BIN = Path(sys.executable).parent
POOL = "bullpen-pool"
PREFECT_USER = "bullpen"
MLFLOW_ADMIN = "bullpen-admin"
MLFLOW_AUTH_DATABASE = "mlflow_auth"  # MLflow's users and permissions, beside its store
PORTS = {"prefect": 4200, "mlflow": 5000, "s3": 9000, "metrics": 9464}
ARTIFACT_ROOT = "s3://bullpen-mlflow/artifacts"  # unless BULLPEN_ARTIFACT_ROOT names one


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
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600 even if it existed wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def credentials(settings: Settings) -> dict[str, str]:
    """The stack's credentials, generated on the first call and kept in
    <home>/credentials/stack.json (0600): Prefect's basic-auth string, MLflow's admin login."""
    path = runtime.credentials_dir(settings) / "stack.json"
    if not path.exists():
        _write_private(
            path,
            json.dumps(
                {
                    "prefect_auth_string": f"{PREFECT_USER}:{secrets.token_urlsafe(24)}",
                    "mlflow_username": MLFLOW_ADMIN,
                    "mlflow_password": secrets.token_urlsafe(24),
                    # Flask's session/CSRF key for MLflow's auth app (stable across restarts).
                    "mlflow_secret_key": secrets.token_urlsafe(32),
                },
                indent=2,
            ),
        )
    os.chmod(path, 0o600)
    creds = dict(json.loads(path.read_text()))
    if "mlflow_secret_key" not in creds:  # written by an earlier version
        creds["mlflow_secret_key"] = secrets.token_urlsafe(32)
        _write_private(path, json.dumps(creds, indent=2))
    return creds


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
        _write_private(path, f"bullpen{secrets.token_hex(6)}\n{secrets.token_urlsafe(24)}\n")
    access, secret = path.read_text().split()
    return access, secret


def stack_env(settings: Settings) -> dict[str, str]:
    """What every stack process (and an operator's shell) needs to use the stack."""
    access, secret = _s3_keys(settings)
    creds = credentials(settings)
    return {
        "BULLPEN_HOME": str(settings.home.resolve()),
        "PREFECT_API_URL": f"http://127.0.0.1:{_port('prefect')}/api",
        "PREFECT_API_AUTH_STRING": creds["prefect_auth_string"],
        "PREFECT_HOME": str(settings.home.resolve() / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # for the automation bullpen-crash-zombies
        # JSON lines with the flow-run id for logger `bullpen` in every flow-run process.
        "PREFECT_LOGGING_SETTINGS_PATH": str(runtime.repo_root() / "infra" / "prefect-logging.yml"),
        "BULLPEN_LOG_JSON": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # For MLflow clients of the server (http:// tracking URIs); flows use the store directly.
        "MLFLOW_TRACKING_USERNAME": creds["mlflow_username"],
        "MLFLOW_TRACKING_PASSWORD": creds["mlflow_password"],
        "BULLPEN_S3_ENDPOINT_URL": settings.s3_endpoint_url or f"http://127.0.0.1:{_port('s3')}",
        "BULLPEN_S3_ACCESS_KEY_ID": access,
        "BULLPEN_S3_SECRET_ACCESS_KEY": secret,
        "BULLPEN_ARTIFACT_ROOT": (
            settings.artifact_root
            if "artifact_root" in settings.model_fields_set
            else ARTIFACT_ROOT
        ),
    }


def _artifact_settings(settings: Settings, env: dict[str, str]) -> Settings:
    """`settings` with the stack's artifact root and S3 endpoint and keys (maybe generated)."""
    return settings.model_copy(
        update={
            "artifact_root": env["BULLPEN_ARTIFACT_ROOT"],
            "s3_endpoint_url": env["BULLPEN_S3_ENDPOINT_URL"],
            "s3_access_key_id": SecretStr(env["BULLPEN_S3_ACCESS_KEY_ID"]),
            "s3_secret_access_key": SecretStr(env["BULLPEN_S3_SECRET_ACCESS_KEY"]),
        }
    )


def _artifact_store(settings: Settings, env: dict[str, str]) -> str:
    """Create the artifact bucket when the root is S3 (the local server starts empty; in AWS,
    Terraform made it and this is a no-op); move a folder of earlier artifacts there."""
    store = runtime.artifact_source(_artifact_settings(settings, env))
    if isinstance(store, Path):
        return str(store)
    s3.ensure_bucket(s3.BackupTarget(store.client, store.bucket, store.prefix))
    folder = settings.home.resolve() / "mlartifacts"
    if not folder.is_dir():
        return store.uri
    moved = migrate.folder_to_s3(
        folder, store, dump.libpq_url(runtime.mlflow_tracking_uri(settings))
    )
    if moved is not None:
        print(
            f"artifacts {moved.files} files moved from {moved.folder} to {store.uri} "
            f"({moved.relocated} MLflow URIs now point there; the folder is {moved.kept})"
        )
    return store.uri


def _spawn(
    settings: Settings,
    name: str,
    cmd: list[str],
    env: dict[str, str],
    run_as: pwd.struct_passwd | None = None,
) -> int:
    log_path = stack_dir(settings) / f"{name}.log"
    log = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    drop: dict[str, object] = {}
    if run_as is not None:  # never root: the account's own ids, no supplementary groups
        drop = {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []}
        os.chown(log_path, run_as.pw_uid, run_as.pw_gid)
        env = {**env, "HOME": run_as.pw_dir, "USER": run_as.pw_name, "LOGNAME": run_as.pw_name}
    process = subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # survives this command; `down` stops it by pid
        cwd=runtime.repo_root(),
        **drop,  # type: ignore[arg-type]
    )
    log.close()
    _write_private(stack_dir(settings) / f"{name}.pid", str(process.pid))
    return process.pid


def worker_account() -> tuple[pwd.struct_passwd | None, str | None]:
    """Who the worker runs as: (None, None) for this process's own non-root account; under root
    the account BULLPEN_STACK_WORKER_USER names, or (None, why it is not started). A worker runs
    every deployment's code (pull steps included) as its own user, so never as root."""
    if os.geteuid() != 0:
        return None, None
    name = os.environ.get("BULLPEN_STACK_WORKER_USER", "")
    if not name:
        return None, (
            "not started: the stack runs as root and a worker runs deployments' code (pull steps "
            "included) as its own user. Run `make up` as an unprivileged user, or set "
            "BULLPEN_STACK_WORKER_USER to a non-root account that can read the repository"
        )
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        return None, f"not started: BULLPEN_STACK_WORKER_USER={name} is no account here"
    if account.pw_uid == 0:
        return None, f"not started: BULLPEN_STACK_WORKER_USER={name} is root (uid 0)"
    return account, None


def _wait_http(url: str, timeout: float, pid: int) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise RuntimeError(f"process {pid} exited before {url} answered (see its log)")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _alive(pid: int) -> bool:
    """The process runs (a child that exited but was not reaped is a zombie: not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def up(settings: Settings) -> None:
    env = stack_env(settings)
    server = engine.start_embedded(settings.pgdata)
    bullpen_url = engine.ensure_database(server, runtime.BULLPEN_DATABASE)
    runtime.prepare_database(bullpen_url)
    prefect_db = urls.with_database(engine.ensure_database(server, "prefect"), "prefect")
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
        _write_private(stack_dir(settings) / "s3.pid", str(s3.pid))
    print(f"s3        {env['BULLPEN_S3_ENDPOINT_URL']}")
    print(f"artifacts {_artifact_store(settings, env)}")

    if running_pid(settings, by_name["prefect"]) is None:
        asyncpg_url = urls.refuse_password(prefect_db, "Prefect's database URL").replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
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
            {
                **env,
                "PREFECT_API_URL": "",
                "PREFECT_SERVER_API_AUTH_STRING": env["PREFECT_API_AUTH_STRING"],
                "PREFECT_API_DATABASE_CONNECTION_URL": asyncpg_url,
            },
        )
        _wait_http(env["PREFECT_API_URL"] + "/health", 180, pid)
    print(f"prefect   {env['PREFECT_API_URL']}")

    import httpx

    created = httpx.post(
        env["PREFECT_API_URL"] + "/work_pools/",
        json={"name": POOL, "type": "process"},
        auth=tuple(env["PREFECT_API_AUTH_STRING"].split(":", 1)),  # type: ignore[arg-type]
        timeout=30,
    )
    if created.status_code == 401:  # a server from before the credentials, or other ones
        raise RuntimeError(unauthorized_message(env["PREFECT_API_URL"]) + " (restart: make down)")
    if created.status_code not in (201, 409):  # 409: the pool exists already
        created.raise_for_status()
    account, refused = worker_account()
    if refused:
        print(f"worker    {refused}")
    elif running_pid(settings, by_name["worker"]) is None:
        _spawn(
            settings,
            "worker",
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "bullpen-local"],
            env,
            run_as=account,
        )
    if not refused:
        print(f"worker    pool {POOL}" + (f" as {account.pw_name}" if account else ""))

    if running_pid(settings, by_name["mlflow"]) is None:
        tracking = runtime.mlflow_tracking_uri(settings)
        auth = mlflow_server.MlflowAuth(
            username=env["MLFLOW_TRACKING_USERNAME"],
            password=env["MLFLOW_TRACKING_PASSWORD"],
            database_uri=urls.sqlalchemy_url(engine.ensure_database(server, MLFLOW_AUTH_DATABASE)),
            config_path=runtime.credentials_dir(settings) / "mlflow-auth.ini",
        )
        pid = _spawn(
            settings,
            "mlflow",
            mlflow_server.server_command(
                tracking,
                env["BULLPEN_ARTIFACT_ROOT"],
                port=_port("mlflow"),
                python=BIN / "python",
                auth=auth,
            ),
            {
                **env,
                # The UI reads artifacts from the store itself: endpoint and keys, never argv.
                **runtime.artifact_store_env(_artifact_settings(settings, env)),
                **mlflow_server.server_env(tracking, auth),
                "MLFLOW_FLASK_SERVER_SECRET_KEY": credentials(settings)["mlflow_secret_key"],
            },
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
    _write_private(env_file, "".join(f"export {k}={v}\n" for k, v in env.items()))
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
    parser.add_argument("command", choices=["up", "down", "status", "credentials"])
    command = parser.parse_args(argv).command
    settings = get_settings()
    if command == "credentials":  # printed only here, on request
        creds = credentials(settings)
        print(f"PREFECT_API_AUTH_STRING={creds['prefect_auth_string']}")
        print(f"MLFLOW_TRACKING_USERNAME={creds['mlflow_username']}")
        print(f"MLFLOW_TRACKING_PASSWORD={creds['mlflow_password']}")
        return 0
    if command == "up":
        up(settings)
        return 0
    if command == "down":
        down(settings)
        return 0
    return status(settings)


if __name__ == "__main__":
    raise SystemExit(main())
