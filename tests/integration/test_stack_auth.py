"""Issue #18 items 1 and 4 against a real `make up`-style stack (infra/stack.py in a fresh home):
the attacks of the issue become the assertions.

- Prefect and MLflow answer 401 to unauthenticated requests and reveal nothing, including the
  attack itself: GET block_documents?include_secrets=true.
- The CLI and a flow work with the generated credentials; wrong credentials fail with a message
  that names PREFECT_API_AUTH_STRING.
- A database URL with ?password= never reaches the Prefect database (the bullpen-db block), the
  stack's logs or `ps` of an MLflow server started on it.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Generous: the first MLflow request through the auth app is slow on a loaded 2-core machine.
HTTP = httpx.Client(timeout=120)


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


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    """`bullpen stack up` in a fresh home on free ports; the env file it writes; then down."""
    home = Path(f"/tmp/bp-auth-{uuid.uuid4().hex[:8]}")
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BULLPEN_"))},
        "BULLPEN_HOME": str(home),
        **{f"BULLPEN_STACK_{name}_PORT": str(_free_port()) for name in ("PREFECT", "MLFLOW")},
        **{f"BULLPEN_STACK_{name}_PORT": str(_free_port()) for name in ("S3", "METRICS")},
    }
    up = subprocess.run(
        [str(BIN / "bullpen"), "stack", "up"], env=base, capture_output=True, text=True, timeout=600
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        env = {**base, **_env_file(home / "stack" / "env")}
        env["_STDOUT"] = up.stdout
        yield env
    finally:
        subprocess.run([str(BIN / "bullpen"), "stack", "down"], env=base, timeout=300)
        subprocess.run(["rm", "-rf", str(home)], check=False)


def _mlflow(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['BULLPEN_STACK_MLFLOW_PORT']}"


def test_credentials_are_private_and_never_printed(stack: dict[str, str]) -> None:
    home = Path(stack["BULLPEN_HOME"])
    creds_file = home / "credentials" / "stack.json"
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds_file.parent.stat().st_mode) == 0o700
    for private in ("stack/env", "stack/s3.keys", "credentials/mlflow-auth.ini"):
        assert stat.S_IMODE((home / private).stat().st_mode) == 0o600, private
    creds = json.loads(creds_file.read_text())
    password = creds["prefect_auth_string"].split(":", 1)[1]
    assert len(password) >= 24
    assert password not in stack["_STDOUT"] and creds["mlflow_password"] not in stack["_STDOUT"]
    for log in (home / "stack").glob("*.log"):
        text = log.read_text(errors="replace")
        assert password not in text and creds["mlflow_password"] not in text, log
    # Printed on request only.
    shown = subprocess.run(
        [str(BIN / "bullpen"), "stack", "credentials"],
        env=stack,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"PREFECT_API_AUTH_STRING={creds['prefect_auth_string']}" in shown


def test_unauthenticated_requests_get_401_and_nothing_else(stack: dict[str, str]) -> None:
    api = stack["PREFECT_API_URL"]
    secret = Path(stack["BULLPEN_HOME"], "stack", "backup.key")
    attacks = [
        HTTP.get(f"{api}/block_documents", params={"include_secrets": "true"}),
        HTTP.post(f"{api}/block_documents/filter", params={"include_secrets": "true"}, json={}),
        HTTP.post(f"{api}/deployments/", json={"name": "x", "flow_id": str(uuid.uuid4())}),
        HTTP.get(f"{api}/block_documents", auth=("bullpen", "wrong")),
    ]
    for response in attacks:
        assert response.status_code == 401, response.text
        assert response.json() == {"exception_message": "Unauthorized"}
        if secret.exists():
            assert secret.read_text().strip() not in response.text
    # The same request with the generated credentials is answered (and finds the saved key).
    user, password = stack["PREFECT_API_AUTH_STRING"].split(":", 1)
    found = HTTP.post(
        f"{api}/block_documents/filter",
        params={"include_secrets": "true"},
        json={},
        auth=(user, password),
    )
    assert found.status_code == 200
    assert "bullpen-backup-key" in {doc["name"] for doc in found.json()}

    mlflow = _mlflow(stack)
    for path in (
        "/",
        "/api/2.0/mlflow/experiments/search?max_results=5",
        "/api/2.0/mlflow/registered-models/search",
        "/ajax-api/2.0/mlflow/registered-models/search",
        "/get-artifact?path=x&run_uuid=y",
    ):
        response = HTTP.get(mlflow + path)
        assert response.status_code == 401, (path, response.status_code)
        assert "experiment" not in response.text.lower()
    created = HTTP.post(
        mlflow + "/api/2.0/mlflow/registered-models/create", json={"name": "forged"}
    )
    assert created.status_code == 401
    login = (stack["MLFLOW_TRACKING_USERNAME"], stack["MLFLOW_TRACKING_PASSWORD"])
    ok = HTTP.get(mlflow + "/api/2.0/mlflow/experiments/search?max_results=5", auth=login)
    assert ok.status_code == 200 and "experiments" in ok.json()
    assert HTTP.get(mlflow + "/", auth=(login[0], "wrong")).status_code == 401


FLOW = """
from prefect import flow

@flow(name="auth-probe")
def probe() -> int:
    return 7

print("result", probe())
"""


def test_cli_and_flow_with_generated_credentials(stack: dict[str, str]) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", FLOW], env=stack, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "result 7" in ran.stdout
    user, password = stack["PREFECT_API_AUTH_STRING"].split(":", 1)
    runs = HTTP.post(
        f"{stack['PREFECT_API_URL']}/flow_runs/filter",
        json={"flows": {"name": {"any_": ["auth-probe"]}}},
        auth=(user, password),
    ).json()
    assert [run["state_type"] for run in runs] == ["COMPLETED"]
    pools = subprocess.run(
        [str(BIN / "prefect"), "work-pool", "inspect", "bullpen-pool"],
        env=stack,
        capture_output=True,
        text=True,
    )
    assert pools.returncode == 0 and "name='bullpen-pool'" in pools.stdout, pools.stdout


def test_wrong_credentials_fail_with_a_clear_message(stack: dict[str, str]) -> None:
    wrong = {**stack, "PREFECT_API_AUTH_STRING": "bullpen:not-the-password"}
    ran = subprocess.run(
        [sys.executable, "-c", FLOW], env=wrong, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode != 0
    assert "401" in ran.stderr or "Unauthorized" in ran.stderr
    # bullpen's own reader of saved blocks names the setting to fix.
    url = subprocess.run(
        [str(BIN / "bullpen"), "db", "url"], env=wrong, capture_output=True, text=True, timeout=120
    )
    assert url.returncode != 0
    assert "PREFECT_API_AUTH_STRING was refused" in url.stderr
    missing = {k: v for k, v in stack.items() if k != "PREFECT_API_AUTH_STRING"}
    url = subprocess.run(
        [str(BIN / "bullpen"), "db", "url"], env=missing, capture_output=True, text=True
    )
    assert url.returncode != 0 and "PREFECT_API_AUTH_STRING is not set" in url.stderr


def test_password_in_url_reaches_no_block_log_or_ps(stack: dict[str, str]) -> None:
    """The embedded server's real password given as ?password=: everything still connects (it
    moved to a 0600 pgpass file) and the password is in no block, log or command line."""
    from bullpen.db import urls

    home = Path(stack["BULLPEN_HOME"])
    server_url = subprocess.run(
        [str(BIN / "bullpen"), "db", "url"], env=stack, capture_output=True, text=True, check=True
    ).stdout.strip()
    info = urls.parts(server_url)
    password = Path(info["passfile"]).read_text().strip().rsplit(":", 1)[1]
    assert len(password) >= 16
    # The same server with the password in the query and no passfile.
    query = urlencode({"host": info["host"], "password": password})
    leaky = f"postgresql://{info['user']}@/{info['dbname']}?{query}"
    assert urls.password(leaky) == password and password not in urls.redact(leaky)
    env = {**stack, "BULLPEN_DATABASE_URL": leaky}
    saved = subprocess.run(
        [str(BIN / "bullpen"), "blocks", "bootstrap"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert password not in saved.stdout + saved.stderr
    user, auth = stack["PREFECT_API_AUTH_STRING"].split(":", 1)
    block = HTTP.get(
        f"{stack['PREFECT_API_URL']}/block_types/slug/sqlalchemy-connector/block_documents/name/"
        "bullpen-db",
        params={"include_secrets": "true"},
        auth=(user, auth),
    )
    assert block.status_code == 200
    assert password not in block.text
    assert "passfile" in block.text  # what it holds instead: the 0600 file's path
    # The block's URL still connects (libpq reads the passfile).
    resolved = subprocess.run(
        [str(BIN / "bullpen"), "db", "start"], env=stack, capture_output=True, text=True
    )
    assert resolved.returncode == 0, resolved.stderr
    assert password not in resolved.stdout + resolved.stderr

    # MLflow on that URL: the password is in no process's argv.
    port = _free_port()
    mlflow_env = {
        **env,
        "BULLPEN_MLFLOW_TRACKING_URI": urls.sqlalchemy_url(urls.with_database(leaky, "mlflow")),
    }
    server = subprocess.Popen(
        [str(BIN / "bullpen"), "mlflow", "ui", "--port", str(port)],
        env=mlflow_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                if HTTP.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(1)
        argv = {int(p.parent.name): _cmdline(p) for p in Path("/proc").glob("[0-9]*/cmdline")}
        assert not any(password.encode() in a for a in argv.values())
        ours = [a for pid, a in argv.items() if _pgid(pid) == server.pid]
        assert any(b"mlflow" in a and b"server" in a for a in ours), ours
        assert not any(b"postgresql" in a for a in ours), ours  # the URL is in no argv
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    for log in (home / "stack").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log


def _cmdline(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_exporter_and_status_read_the_authenticated_apis(stack: dict[str, str]) -> None:
    """The stack's own exporter and `bullpen status` send the generated credentials: the Prefect
    and MLflow probes succeed instead of reporting the 401 as the API being down."""
    port = stack["BULLPEN_STACK_METRICS_PORT"]
    text = ""
    for _ in range(30):
        text = HTTP.get(f"http://127.0.0.1:{port}/metrics", timeout=60).text
        if 'bullpen_probe_success{probe="prefect"}' in text:
            break
        time.sleep(1)
    assert 'bullpen_probe_success{probe="prefect"} 1.0' in text, text[-2000:]
    assert 'bullpen_probe_success{probe="mlflow"} 1.0' in text, text[-2000:]
    assert 'bullpen_work_pool_online_workers{pool="bullpen-pool"}' in text
    state = subprocess.run(
        [sys.executable, "-c", STATE], env=stack, capture_output=True, text=True, timeout=120
    )
    assert state.returncode == 0 and "deployments" in state.stdout, state.stderr[-2000:]
    wrong = {**stack, "PREFECT_API_AUTH_STRING": "bullpen:not-the-password"}
    refused = subprocess.run(
        [sys.executable, "-c", STATE], env=wrong, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "401" in refused.stderr


STATE = """
import os
from bullpen.ops import probes
state = probes.fetch_prefect_state(os.environ["PREFECT_API_URL"])
print(len(state.deployments), "deployments", state.online_workers)
"""
