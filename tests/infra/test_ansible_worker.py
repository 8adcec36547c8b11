"""A real run of the prefect_worker role (playbooks/workers.yml) on this machine, without apt and
systemd: it installs this repository at its HEAD commit from a git URL into a root-owned
checkout and venv (the locked dependencies come with the "machine image", a venv that sees
.venv's site-packages; bullpen itself is built from the checkout with an offline wheelhouse),
and renders TCP database URLs with verify-full, a 0600 pgpass of the worker account, the CA
and the Prefect API. A second run changes nothing; a weaker sslmode or an unpinned commit is
refused. The worker account can read its configuration and import the pull step, and cannot
write the code it runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.infra.conftest import ANSIBLE, INFRA_BIN, REPO

SITE = "lib/python3.11/site-packages"
CA = "-----BEGIN CERTIFICATE-----\nMIIBlab\n-----END CERTIFICATE-----"
DB_PASSWORD = "pa:ss\\word-9f3"
AUTH = "admin:auth-5e1c"
S3_SECRET = "s3-secret-77ab"


@dataclass
class Lab:
    root: Path
    user: str
    commit: str
    wheelhouse: Path

    @property
    def home(self) -> Path:
        return self.root / "opt"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    def variables(self, **override: object) -> dict[str, object]:
        return {
            "prefect_worker_user": self.user,
            "prefect_worker_home": str(self.home),
            "prefect_worker_config_dir": str(self.etc),
            "prefect_worker_git_url": str(REPO),
            "prefect_worker_git_commit": self.commit,
            "prefect_worker_install_os_packages": False,
            "prefect_worker_manage_service": False,
            "prefect_worker_install_requirements": False,
            "prefect_worker_pip_extra_args": f"--no-index --find-links {self.wheelhouse}",
            "prefect_worker_api_url": "http://10.77.0.1:4200/api",
            "prefect_worker_api_auth_string": AUTH,
            "prefect_worker_db_host": "db.lab.internal",
            "prefect_worker_db_password": DB_PASSWORD,
            "prefect_worker_db_ssl_ca": CA,
            "prefect_worker_artifact_root": "s3://bullpen-mlflow/artifacts",
            "prefect_worker_s3_endpoint_url": "http://10.77.0.1:9000",
            "prefect_worker_s3_access_key_id": "bullpenlab",
            "prefect_worker_s3_secret_access_key": S3_SECRET,
            **override,
        }


def _git_head() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    # Not pytest's tmp_path: it is 0700 under root and the worker account must traverse it.
    root = Path(tempfile.mkdtemp(prefix="bp-worker-", dir="/tmp"))
    root.chmod(0o755)
    wheelhouse = root / "wheelhouse"
    # The build backend bullpen's pyproject names, as an operator's offline wheelhouse holds it.
    got = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheelhouse),
         "setuptools>=69"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    lab = Lab(root, f"bpw{uuid.uuid4().hex[:6]}", _git_head(), wheelhouse)
    # The machine image: a venv of the system Python that sees the locked dependencies.
    venv = lab.home / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / SITE / "machine-deps.pth").write_text(f"{REPO / '.venv' / SITE}\n")
    try:
        yield lab
    finally:
        subprocess.run(["userdel", lab.user], capture_output=True, check=False)
        subprocess.run(["groupdel", lab.user], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _play(lab: Lab, variables: dict[str, object]) -> tuple[int, str, dict[str, int]]:
    inventory = lab.root / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "prefect_workers": {
                    "hosts": {"worker-lab": None},
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "/usr/bin/python3",
                        "ansible_become": False,  # already root
                    },
                }
            }
        )
    )
    extra = lab.root / "vars.json"
    extra.write_text(json.dumps(variables))
    extra.chmod(0o600)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        [str(INFRA_BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/workers.yml",
         "-e", f"@{extra}"],
        cwd=ANSIBLE, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = done.stdout + done.stderr
    recap = re.search(r"^worker-lab\s+:\s+(ok=.*)$", output, re.M)
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))} if recap else {}
    return done.returncode, output, counts


def _env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = json.loads(value)
    return env


def _as_worker(lab: Lab, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["su", "-s", "/bin/sh", lab.user, "-c", command],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_role_installs_the_pinned_commit_and_renders_tcp_urls(lab: Lab) -> None:
    code, output, recap = _play(lab, lab.variables())
    assert code == 0, output[-6000:]
    assert recap["failed"] == 0 and recap["changed"] > 0, recap
    for secret in (DB_PASSWORD, AUTH, S3_SECRET):  # no_log on every task that renders one
        assert secret not in output

    app, venv = lab.home / "app", lab.home / "venv"
    head = subprocess.run(
        ["git", "-C", str(app), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert head == lab.commit
    assert (venv / "bullpen-commit").read_text().strip() == lab.commit
    assert app.stat().st_uid == 0 and (app / "src").stat().st_uid == 0  # root's, not the worker's
    installed = subprocess.run(
        [str(venv / "bin/python"), "-c", "import bullpen.ops.checkout as c; print(c.__file__)"],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert installed.stdout.strip() == str(venv / SITE / "bullpen/ops/checkout.py"), installed

    env_file = lab.etc / "prefect-worker.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o640" and env_file.stat().st_uid == 0
    env = _env_file(env_file)
    ca, pgpass = lab.etc / "db-ca.crt", lab.etc / "pgpass"
    urls = (("BULLPEN_DATABASE_URL", "bullpen"), ("BULLPEN_MLFLOW_TRACKING_URI", "mlflow"))
    for name, dbname in urls:
        url = urlparse(env[name])
        assert (url.username, url.password, url.hostname, url.port, url.path) == (
            "bullpen",
            None,
            "db.lab.internal",
            5432,
            f"/{dbname}",
        )
        assert parse_qs(url.query) == {
            "sslmode": ["verify-full"],
            "sslrootcert": [str(ca)],
            "passfile": [str(pgpass)],
        }
    assert env["BULLPEN_MLFLOW_TRACKING_URI"].startswith("postgresql+psycopg://")
    assert env["PREFECT_API_URL"] == "http://10.77.0.1:4200/api"
    assert env["PREFECT_API_AUTH_STRING"] == AUTH
    assert env["BULLPEN_HOME"] == str(lab.home / ".bullpen")
    assert env["BULLPEN_ARTIFACT_ROOT"] == "s3://bullpen-mlflow/artifacts"
    assert env["BULLPEN_S3_ENDPOINT_URL"] == "http://10.77.0.1:9000"
    assert env["BULLPEN_S3_SECRET_ACCESS_KEY"] == S3_SECRET
    assert "MLFLOW_TRACKING_PASSWORD" not in env  # empty optional values stay unset
    assert ca.read_text() == CA + "\n"
    assert oct(pgpass.stat().st_mode & 0o777) == "0o600"
    assert pgpass.read_text() == "db.lab.internal:5432:*:bullpen:pa\\:ss\\\\word-9f3\n"

    # The worker account reads its configuration and imports the pull step; it cannot change
    # the code or the venv later runs start from.
    venv_python = venv / "bin/python"
    imports = f"cd / && {venv_python} -c 'import bullpen.ops.checkout'"
    reads = _as_worker(lab, f"cat {env_file} {pgpass} >/dev/null && {imports}")
    assert reads.returncode == 0, reads.stderr
    writes = _as_worker(lab, f"touch {app}/src/bullpen/x.py || touch {venv}/{SITE}/x.pth")
    assert writes.returncode != 0

    again_code, again, again_recap = _play(lab, lab.variables())
    assert again_code == 0, again[-4000:]
    assert again_recap["changed"] == 0, again[-6000:]  # idempotent


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"prefect_worker_db_sslmode": "require"}, "sslmode=verify-full"),
        ({"prefect_worker_git_commit": "main"}, "full 40-hex commit"),
        ({"prefect_worker_db_ssl_ca": ""}, "prefect_worker_db_ssl_ca"),
        ({"prefect_worker_git_url": ""}, "prefect_worker_git_url"),
    ],
)
def test_role_refuses_unverified_tls_and_unpinned_code(
    lab: Lab, override: dict[str, object], message: str
) -> None:
    code, output, recap = _play(lab, lab.variables(**override))
    assert code != 0 and recap.get("failed") == 1, output[-3000:]
    assert message in output
    assert recap.get("changed", 0) == 0  # refused before anything was touched


def test_tls_off_only_when_chosen(lab: Lab) -> None:
    chosen = lab.variables(
        prefect_worker_db_sslmode="disable", prefect_worker_db_allow_unverified=True
    )
    code, output, _ = _play(lab, chosen)
    assert code == 0, output[-4000:]
    env = _env_file(lab.etc / "prefect-worker.env")
    assert "sslmode=disable" in env["BULLPEN_DATABASE_URL"]
    assert "sslrootcert" not in env["BULLPEN_DATABASE_URL"]
