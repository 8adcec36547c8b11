"""A deployment runs the commit it was deployed from, cloned on the worker (issue #19 item 1).

A real `prefect server start`, the real prefect.yaml deployed with `prefect deploy`, one real
process worker. Two deployments from two commits run side by side on that worker:
- settle-bets/after-games from this repository: the run is labelled with `git rev-parse HEAD`,
  its code directory is a fresh clone (not this checkout), and its log says so;
- code-probe/check from a temporary clone of this repository with one more commit, which adds a
  flow AND changes the library (bullpen.CODE_PROBE): the run reports that commit, the new flow
  ran, and the library it imported is the clone's (bullpen.__file__ under the clone's src/).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.integration.prefect_server import StandaloneServer, server_env, standalone_server

PREFECT = str(Path(sys.executable).parent / "prefect")
POOL = "bullpen-pool"

PROBE_FLOW = '''"""A flow only the second commit has: reports which bullpen it imported."""

from prefect import flow


@flow(name="code-probe", log_prints=True)
def code_probe() -> str:
    import bullpen

    print(f"code-probe {bullpen.CODE_PROBE} from {bullpen.__file__}")
    return bullpen.CODE_PROBE
'''

PROBE_DEPLOYMENT = """
  - name: check
    version: "{{ code.commit }}"
    entrypoint: flows/code_probe.py:code_probe
    parameters: {}
    work_pool: *bullpen_pool
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneServer]:
    home = tmp_path_factory.mktemp("prefect-server")
    env = server_env(
        home, drop=("PREFECT_", "BULLPEN_"), PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false"
    )
    with standalone_server(home, env, wait=False) as running:
        yield running


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com",
         *args],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def _second_commit(tmp_path: Path, marker: str) -> Path:
    """A clone of this repository at HEAD plus one commit: a new flow and its deployment, and a
    library change the flow reports."""
    clone = tmp_path / "second"
    _git(tmp_path, "clone", "-q", str(REPO), str(clone))
    (clone / "flows" / "code_probe.py").write_text(PROBE_FLOW)
    init = clone / "src" / "bullpen" / "__init__.py"
    init.write_text(init.read_text() + f'\nCODE_PROBE = "{marker}"\n')
    spec = clone / "prefect.yaml"
    spec.write_text(spec.read_text() + PROBE_DEPLOYMENT)
    _git(clone, "add", "flows/code_probe.py", "src/bullpen/__init__.py", "prefect.yaml")
    _git(clone, "commit", "-q", "-m", "code probe")
    return clone


def _post(api: str, path: str, body: dict) -> list[dict]:
    response = httpx.post(f"{api}/{path}", json=body, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _create_run(api: str, name: str) -> str:
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=30).json()
    response = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _logs(api: str, run_id: str) -> list[dict]:
    body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}
    return _post(api, "logs/filter", body)


def _seconds(logs: list[dict], start: str, end: str) -> float:
    at = {
        key: datetime.fromisoformat(next(x["timestamp"] for x in logs if x["message"] == text))
        for key, text in (("start", start), ("end", end))
    }
    return (at["end"] - at["start"]).total_seconds()


def test_each_run_executes_its_deployed_commit_from_a_clone(
    server: StandaloneServer, pg_server_url: str, tmp_path: Path
) -> None:
    from bullpen import runtime
    from bullpen.db.engine import ensure_database

    api, env = server.api, server.env
    marker = uuid.uuid4().hex
    second = _second_commit(tmp_path, marker)
    second_commit = _git(second, "rev-parse", "HEAD")
    db = ensure_database(pg_server_url, f"bullpen_code{uuid.uuid4().hex[:6]}")
    runtime.prepare_database(db)
    server.wait_healthy()

    _post(api, "work_pools/", {"name": POOL, "type": "process"})
    deploy = [PREFECT, "--no-prompt", "deploy", "--prefect-file", "prefect.yaml", "--name"]
    # Others commit to this repository while tests run: HEAD before or after the deploy.
    heads = {_git(REPO, "rev-parse", "HEAD")}
    _run([*deploy, "settle-bets/after-games"], env, REPO)
    heads.add(_git(REPO, "rev-parse", "HEAD"))
    first_commit = httpx.get(f"{api}/deployments/name/settle-bets/after-games").json()["version"]
    assert first_commit in heads
    out = _run([*deploy, "code-probe/check"], env, second)
    assert "uncommitted" not in out  # the second checkout is clean: no warning
    for name, commit, repository in (
        ("settle-bets/after-games", first_commit, REPO),
        ("code-probe/check", second_commit, second),
    ):
        deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=30).json()
        assert deployment["version"] == commit
        clone_step = deployment["pull_steps"][0]["prefect.deployments.steps.git_clone"]
        assert clone_step["commit_sha"] == commit
        assert clone_step["repository"] == str(repository.resolve())
        assert "BULLPEN_REPO_DIR" not in str(deployment["pull_steps"])

    names = ("settle-bets/after-games", "code-probe/check")
    runs = {name: _create_run(api, name) for name in names}
    worker_env = env | {
        "BULLPEN_HOME": str(tmp_path / "worker-home"),
        "BULLPEN_DATABASE_URL": db,
        "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
        "PREFECT_LOGGING_LEVEL": "INFO",  # the run's log lines are read back below
    }
    started = time.monotonic()
    worker = subprocess.run(
        [PREFECT, "worker", "start", "--pool", POOL, "--type", "process", "--run-once"],
        env=worker_env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = worker.stdout[-4000:] + worker.stderr[-4000:]
    print(f"worker --run-once, both runs: {time.monotonic() - started:.1f} s")

    for name, commit in (
        ("settle-bets/after-games", first_commit),
        ("code-probe/check", second_commit),
    ):
        run = httpx.get(f"{api}/flow_runs/{runs[name]}", timeout=30).json()
        assert run["state_type"] == "COMPLETED", f"{name}: {run['state']}\n{output}"
        labels = run["labels"]
        assert labels["bullpen.commit"] == commit
        assert labels["bullpen.host"] == socket.gethostname()
        code_dir = Path(labels["bullpen.code_dir"])
        assert code_dir.name == f"bullpen-{commit}"
        assert not code_dir.is_relative_to(REPO) and not code_dir.is_relative_to(second)
        messages = [x["message"] for x in _logs(api, runs[name])]
        assert f"bullpen commit {commit} from {code_dir} on {socket.gethostname()}" in messages
        clone_seconds = _seconds(
            _logs(api, runs[name]),
            "Executing deployment step: git_clone",
            "Deployment step 'git_clone' completed successfully",
        )
        print(f"{name}: git_clone {clone_seconds:.1f} s")  # the cost of a clone per run

    settle = [x["message"] for x in _logs(api, runs["settle-bets/after-games"])]
    assert "settle-bets: no open picks" in settle
    probe = [x["message"] for x in _logs(api, runs["code-probe/check"])]
    code_dir = Path(
        httpx.get(f"{api}/flow_runs/{runs['code-probe/check']}").json()["labels"][
            "bullpen.code_dir"
        ]
    )
    wanted = f"code-probe {marker} from {code_dir / 'src' / 'bullpen' / '__init__.py'}"
    assert wanted in probe, probe  # the second commit's flow, with the second commit's library
