"""Worker hosts: bullpen installed at the pinned commit from the server's git URL, then a Prefect
process worker on pool bullpen-pool started from the rendered environment file, as the
unprivileged account the role creates."""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.multihost.hosts import Host
from tests.infra.multihost.services import PG_BIN, Server

POOL = "bullpen-pool"
WORKER_USER = "bullpen"
HOME = "/opt/bullpen"  # the role's prefect_worker_home; the host sees its own dir as /opt
VENV = f"{HOME}/venv"
ENV_FILE = f"{HOME}/etc/prefect-worker.env"
SITE = "lib/python3.11/site-packages"


def worker_account() -> tuple[int, int]:
    entry = pwd.getpwnam(WORKER_USER)
    return entry.pw_uid, entry.pw_gid


def parse_env_file(text: str) -> dict[str, str]:
    """NAME="value" lines as the role's template renders them (values JSON-quoted)."""
    import json

    env: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        env[name.strip()] = json.loads(value) if value.startswith('"') else value
    return env


def worker_environment(server: Server, host: Host, backup_key: str) -> dict[str, str]:
    """What the operator gives the role for this host: TCP URLs of the one database, MLflow
    store and Prefect API; the shared artifact store; the host's own BULLPEN_HOME."""
    return {
        **server.prefect_env(),
        "PREFECT_HOME": f"{HOME}/.prefect",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "BULLPEN_HOME": f"{HOME}/.bullpen",
        "BULLPEN_DATABASE_URL": server.database_url("bullpen"),
        "BULLPEN_MLFLOW_TRACKING_URI": server.database_url("mlflow").replace(
            "postgresql://", "postgresql+psycopg://", 1
        ),
        "BULLPEN_ARTIFACT_ROOT": "s3://bullpen-artifacts/mlflow",
        "BULLPEN_PG_BIN_DIR": PG_BIN,  # pg_dump/pg_restore of the server's major version
        "BULLPEN_BACKUP_KEY": backup_key,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **server.s3_env(),
    }


@dataclass
class Worker:
    host: Host
    server: Server
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    install_seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.host.name

    def prepare_venv(self) -> None:
        """The machine image: a venv of the machine's Python that sees the locked dependency
        set read-only (.venv's site-packages through a .pth line; not bullpen: .venv's editable
        bullpen points into the operator's checkout, which no host can see)."""
        python = f"{self.host.lab.python_prefix}/bin/python3"
        self.host.run([python, "-m", "venv", "--without-pip", VENV], timeout=120)
        pth = self.host.dir / "bullpen" / "venv" / SITE / "machine-deps.pth"
        pth.write_text(f"/opt/.sys/deps/{SITE}\n")

    def install_manually(self) -> None:
        """The pinned commit fetched from the git URL into <home>/app (shallow, by its id) and
        put on the venv's path (a .pth line: an editable install without a build, because this
        machine has no index to fetch setuptools>=69 from for an isolated build)."""
        t0 = time.monotonic()
        self.prepare_venv()
        app = f"{HOME}/app"
        script = (
            f"git init -q {app} && cd {app} && "
            f"git fetch -q --depth 1 {self.server.url('git')} {self.server.commit} && "
            "git checkout -q FETCH_HEAD"
        )
        self.host.run(["sh", "-c", script], timeout=300)
        (self.host.dir / "bullpen" / "venv" / SITE / "bullpen-app.pth").write_text(f"{app}/src\n")
        self.install_seconds = time.monotonic() - t0

    def start(self, queues: list[str]) -> subprocess.Popen[bytes]:
        """`prefect worker start` as the worker account, environment from the env file."""
        uid, gid = worker_account()
        env = self.host.env({**self.env, "USER": WORKER_USER}, home=HOME)
        argv = [f"{VENV}/bin/python", "-m", "prefect", "worker", "start", "--pool", POOL,
                "--type", "process", "--name", self.name]  # fmt: skip
        for queue in queues:
            argv += ["--work-queue", queue]
        self.process = self.host.spawn(
            argv, self.host.lab.logs / f"{self.name}-worker.log", env, user=(uid, gid)
        )
        return self.process

    def tree(self) -> list[int]:
        """The worker's pid and all its descendants (flow-run processes may sit in their own
        process group, so a group kill would miss them)."""
        assert self.process is not None
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def kill_tree(self) -> list[int]:
        """SIGKILL the worker and every process under it at once: the host dying mid-run."""
        victims = self.tree()
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=30)
        return victims

    def log_tail(self, chars: int = 3000) -> str:
        path = self.host.lab.logs / f"{self.name}-worker.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def shell(argv: list[str]) -> str:
    return shlex.join(argv)
