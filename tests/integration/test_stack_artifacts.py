"""`make up` (infra/stack.py in a fresh home) puts MLflow artifacts in the S3 bucket
bullpen-mlflow on its own S3 server: the bucket is created, a home's earlier file:// artifacts
move there once, a model registered before the switch then loads from S3 only, and the MLflow
server (the UI) reads artifacts from S3 with the keys in its environment."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATA

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# A small LightGBM model on real numbers (2019 openers and closers; the point is its bytes),
# logged and registered with the default file:// root, before any stack ran in this home.
SEED = f"""
import json
from pathlib import Path

import lightgbm as lgb
import pandas as pd

from bullpen import runtime
from bullpen.config import get_settings
from bullpen.models import mlflow_store

frame = pd.read_csv("{DATA}/odds/mlb_odds_2019.csv.gz", nrows=400)
features = frame[["Open", "Close"]].astype(float)
booster = lgb.train(
    {{"objective": "binary", "verbose": -1, "num_leaves": 4}},
    lgb.Dataset(features, (frame["Final"] > 4).astype(int)),
    num_boost_round=5,
)
settings = get_settings()
uri = runtime.mlflow_tracking_uri(settings)
note = settings.home / "note.txt"
note.write_text("written before the switch")
experiment = mlflow_store.ensure_experiment(uri, "before-the-stack", settings.artifact_root)
run_id, model_uri = mlflow_store.log_training_run(
    tracking_uri=uri, experiment_id=experiment, run_name="seed", booster=booster,
    params={{}}, metrics={{}}, tags={{}}, artifacts=[note],
)
version = mlflow_store.register_version(uri, "stack-seed", model_uri, run_id, {{}})
print(json.dumps({{"run_id": run_id, "version": version.version,
                  "p": booster.predict(features).tolist()}}))
"""

LOAD = f"""
import json

import pandas as pd

from bullpen import runtime
from bullpen.models import mlflow_store

frame = pd.read_csv("{DATA}/odds/mlb_odds_2019.csv.gz", nrows=400)
booster = mlflow_store.load_booster(runtime.mlflow_tracking_uri(), "models:/stack-seed/1")
print(json.dumps({{"p": booster.predict(frame[["Open", "Close"]].astype(float)).tolist()}}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        out[key] = value
    return out


def _python(code: str, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=env["BULLPEN_HOME"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, object]]:
    """A home with a model logged to its folder, then `bullpen stack up` on free ports."""
    home = Path(f"/tmp/bp-art-{uuid.uuid4().hex[:8]}")
    home.mkdir()
    base = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "BULLPEN_", "MLFLOW_", "AWS_"))
        },
        "BULLPEN_HOME": str(home),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **{f"BULLPEN_STACK_{name}_PORT": str(_free_port()) for name in ("PREFECT", "MLFLOW")},
        **{f"BULLPEN_STACK_{name}_PORT": str(_free_port()) for name in ("S3", "METRICS")},
    }
    try:
        seeded = _python(SEED, base)
        up = subprocess.run(
            [str(BIN / "bullpen"), "stack", "up"],
            env=base,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert up.returncode == 0, up.stdout + up.stderr
        env = {**base, **_env_file(home / "stack" / "env")}
        yield {"env": env, "seeded": seeded, "stdout": up.stdout}
    finally:
        subprocess.run([str(BIN / "bullpen"), "stack", "down"], env=base, timeout=300)
        shutil.rmtree(home, ignore_errors=True)


def test_stack_creates_the_bucket_and_moves_earlier_artifacts_there(
    stack: dict[str, object],
) -> None:
    env = stack["env"]
    assert isinstance(env, dict)
    home = Path(env["BULLPEN_HOME"])
    assert env["BULLPEN_ARTIFACT_ROOT"] == "s3://bullpen-mlflow/artifacts"
    assert "artifacts s3://bullpen-mlflow/artifacts" in str(stack["stdout"])
    assert "files moved from" in str(stack["stdout"])
    assert not (home / "mlartifacts").exists()
    kept = list(home.glob("mlartifacts.moved-*"))
    assert len(kept) == 1
    # The objects are on the S3 server's disk, in the bucket.
    stored = [p for p in (home / "s3" / "data" / "bullpen-mlflow").rglob("*") if p.is_file()]
    assert any(p.name == "model.lgb" for p in stored) and any(p.name == "note.txt" for p in stored)
    assert env["BULLPEN_S3_SECRET_ACCESS_KEY"] not in str(stack["stdout"])

    shutil.rmtree(kept[0])  # no copy left on this disk outside the S3 server
    loaded = _python(LOAD, env)

    seeded = stack["seeded"]
    assert isinstance(seeded, dict)
    assert loaded["p"] == seeded["p"]


def test_mlflow_server_reads_artifacts_from_s3(stack: dict[str, object]) -> None:
    env = stack["env"]
    seeded = stack["seeded"]
    assert isinstance(env, dict) and isinstance(seeded, dict)
    response = httpx.get(
        f"http://127.0.0.1:{env['BULLPEN_STACK_MLFLOW_PORT']}/get-artifact",
        params={"path": "note.txt", "run_uuid": seeded["run_id"]},
        auth=(env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]),
        timeout=120,
    )
    assert response.status_code == 200, response.text[:500]
    assert response.text == "written before the switch"
    # The keys reached the server through its environment, not its command line.
    pid = int((Path(env["BULLPEN_HOME"]) / "stack" / "mlflow.pid").read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"s3://bullpen-mlflow/artifacts" in argv
    assert env["BULLPEN_S3_SECRET_ACCESS_KEY"].encode() not in argv
