"""The whole lab for the multi-host test: three hosts, the server's services, the deployments,
the automations and two worker hosts polling bullpen-pool. `bring_up` returns it; `Lab.destroy`
(hosts.py) takes every process and namespace down again."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.multihost import fixture_api
from tests.infra.multihost.fixture_api import FixtureApi
from tests.infra.multihost.hosts import REPO, Lab
from tests.infra.multihost.services import PY, Server
from tests.infra.multihost.workers import (
    POOL,
    WORKER_USER,
    Worker,
    worker_account,
)

# Six seasons: enough for the hyperopt folds of eval season 2018 (validation 2015-2016, 2017
# held out) and for training on 2013-2017; small enough to replay in seconds.
SEASONS = [2013, 2014, 2015, 2016, 2017, 2018]
EVAL_SEASON = 2018
# Deployment triggers that would start extra runs with their default parameters in the middle
# of the test (the test starts each kind itself, with small parameters, on a chosen host).
TRIGGERS_OFF = {
    "bullpen-backtest-after-training",
    "bullpen-recommend-after-odds",
    "bullpen-settle-after-games",
    "bullpen-retrain-on-drift",
}


@dataclass
class Stack:
    lab: Lab
    server: Server
    workers: dict[str, Worker]
    timings: dict[str, float] = field(default_factory=dict)
    deploy_output: str = ""
    mlflow_ready: threading.Thread | None = None
    apis: FixtureApi | None = None

    def server_cli_env(self) -> dict[str, str]:
        """The deployer's shell on the server host: its own checkout's code, the API."""
        return self.server.host.env(
            {
                **self.server.prefect_env(),
                "PREFECT_HOME": "/opt/admin/.prefect",
                "PYTHONPATH": "/opt/checkout/src",
                "BULLPEN_GIT_URL": self.server.url("git"),
                "BULLPEN_HOME": "/opt/admin/.bullpen",
                "BULLPEN_DATABASE_URL": self.server.database_url(),
            }
        )


def stage_seasons(target: Path, seasons: list[int]) -> None:
    """Copy the bundled files of `seasons` (odds, game logs) into a worker host's directory."""
    data = REPO / "data"
    for sub in ("odds", "retrosheet"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    for season in seasons:
        shutil.copy(data / "odds" / f"mlb_odds_{season}.csv.gz", target / "odds")
        for retro in (data / "retrosheet").glob(f"GL{season}.TXT*"):
            shutil.copy(retro, target / "retrosheet")


def make_wheelhouse(lab: Lab) -> None:
    """The build backend the project's pyproject.toml asks for (setuptools>=69), fetched once
    by the operator with pip from the configured index: the worker hosts have no index, the
    role installs with --no-index --find-links."""
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "-d", str(lab.wheelhouse), "setuptools>=69"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def role_at_head() -> bool:
    """Whether HEAD's prefect_worker role installs a pinned commit from a git URL."""
    defaults = subprocess.run(
        ["git", "-C", str(REPO), "show", "HEAD:ansible/roles/prefect_worker/defaults/main.yml"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return "prefect_worker_git_url" in defaults


def new_lab() -> Lab:
    return Lab(Path(tempfile.mkdtemp(prefix="bpmh-", dir="/tmp")))


def provision_with_role(workers: dict[str, Worker], backup_key: str) -> None:
    """The role on both worker hosts at once; the second starts once the first has created the
    worker account (both hosts share this machine's /etc/passwd: concurrent useradd would race
    for its lock)."""
    import pwd
    from concurrent.futures import ThreadPoolExecutor

    def second(worker: Worker) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                pwd.getpwnam(WORKER_USER)
                break
            except KeyError:
                time.sleep(0.5)
        return worker.install_with_role(backup_key)

    first_worker, second_worker = workers.values()
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(first_worker.install_with_role, backup_key),
            pool.submit(second, second_worker),
        ]
        for future in futures:
            future.result()


def bring_up(lab: Lab) -> Stack:
    t_setup = time.monotonic()
    lab.create()
    server = Server(lab.hosts["server"])
    server.start_postgres()
    server.psql("ALTER ROLE bullpen CREATEDB")  # backup-verify restores into scratch databases
    server.start_s3()
    server.start_git()
    apis = fixture_api.start(server)  # from the server's clone (its tests/fixtures)
    t0 = time.monotonic()
    prefect = server.start_prefect()
    mlflow = server.start_mlflow()
    backup_key = base64.b64encode(secrets.token_bytes(32)).decode()
    workers = {name: Worker(lab.hosts[name], server, apis=apis) for name in ("w1", "w2")}
    assert role_at_head(), "ansible/roles/prefect_worker at HEAD does not install from a git URL"
    make_wheelhouse(lab)
    provision_with_role(workers, backup_key)
    uid, gid = worker_account()
    for worker in workers.values():
        seasons = worker.host.dir / "bullpen" / "seasons"
        stage_seasons(seasons, SEASONS)
        for path in [seasons, *seasons.rglob("*")]:
            os.chown(path, uid, gid)
    server.wait_prefect(prefect, t0)
    stack = Stack(lab, server, workers, apis=apis)
    server.api("POST", "work_pools/", {"name": POOL, "type": "process"})
    for queue in ("w1", "w2"):
        server.api("POST", f"work_pools/{POOL}/queues", {"name": queue})
    t_deploy = time.monotonic()
    deployed = server.host.run(
        ["sh", "-c", f"cd /opt/checkout && exec {PY} -m prefect --no-prompt deploy --all"],
        stack.server_cli_env(),
        timeout=300,
    )
    stack.deploy_output = deployed.stdout + deployed.stderr
    stack.timings["prefect deploy --all"] = time.monotonic() - t_deploy
    server.host.run(
        ["sh", "-c", f"cd /opt/checkout && exec {PY} -m bullpen.cli automations apply "
         "--reschedule-after 10 --heartbeat-grace 45"],
        stack.server_cli_env(),
        timeout=120,
    )  # fmt: skip
    for automation in server.api("POST", "automations/filter", {}):
        if automation["name"] in TRIGGERS_OFF:
            server.api("PATCH", f"automations/{automation['id']}", {"enabled": False})
    for worker in workers.values():
        worker.start(["default", worker.name])
    # MLflow's first start (its migrations) is the slowest service: nothing in the runs needs
    # it, so it is awaited in the background and checked by the first test at its end.
    stack.mlflow_ready = threading.Thread(target=server.wait_mlflow, args=(mlflow, t0), daemon=True)
    stack.mlflow_ready.start()
    stack.timings["setup"] = time.monotonic() - t_setup
    for name, seconds in server.started.items():
        stack.timings[f"setup: {name}"] = seconds
    for worker in workers.values():
        stack.timings[f"setup: install on {worker.name}"] = worker.install_seconds
    return stack
