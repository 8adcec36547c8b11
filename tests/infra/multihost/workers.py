"""Worker hosts: bullpen installed at the pinned commit from the server's git URL, then a Prefect
process worker on pool bullpen-pool started from the rendered environment file, as the
unprivileged account the role creates."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.multihost.fixture_api import TEST_KEY, FixtureApi
from tests.infra.multihost.hosts import Host
from tests.infra.multihost.services import PG_BIN, Server

POOL = "bullpen-pool"
WORKER_USER = "bullpen"
HOME = "/opt/bullpen"  # the role's prefect_worker_home; the host sees its own dir as /opt
VENV = f"{HOME}/venv"
CONFIG_DIR = "/opt/etc/bullpen"  # the role's prefect_worker_config_dir, inside the host's /opt
ENV_FILE = f"{CONFIG_DIR}/prefect-worker.env"
ADMIN_CHECKOUT = "/opt/admin/bullpen"  # the operator's clone on the host: the role comes from it
PLAYBOOK = """- name: A bullpen Prefect worker on this host (the lab's host, connection=local).
  hosts: all
  gather_facts: false
  roles:
    - prefect_worker
"""
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


@dataclass
class Worker:
    host: Host
    server: Server
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    install_seconds: float = 0.0
    apis: FixtureApi | None = None  # the recorded MLB Stats / Odds APIs on the server host

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

    def role_vars(self, backup_key: str) -> dict[str, object]:
        """What an operator puts in the inventory for this host (ansible/roles/prefect_worker)."""
        server = self.server
        return {
            "ansible_python_interpreter": "/opt/.sys/infra/bin/python",
            "prefect_worker_name": self.name,
            "prefect_worker_git_url": server.url("git"),
            "prefect_worker_git_commit": server.commit,
            "prefect_worker_python": f"{self.host.lab.python_prefix}/bin/python3",
            # The machine image carries the locked dependencies (prepare_venv); the project is
            # built from the checkout with setuptools from an offline wheelhouse.
            "prefect_worker_install_requirements": False,
            "prefect_worker_pip_extra_args": "--no-index --find-links /opt/.sys/wheelhouse",
            "prefect_worker_install_os_packages": False,
            "prefect_worker_manage_service": False,
            "prefect_worker_config_dir": CONFIG_DIR,
            "prefect_worker_api_url": server.url("prefect"),
            "prefect_worker_api_auth_string": server.secrets["prefect_auth"],
            "prefect_worker_db_host": server.address,
            "prefect_worker_db_password": server.secrets["pg_bullpen"],
            "prefect_worker_db_sslmode": "verify-full",
            "prefect_worker_db_ssl_ca": server.ca_pem,
            "prefect_worker_artifact_root": "s3://bullpen-artifacts/mlflow",
            "prefect_worker_s3_endpoint_url": server.url("s3"),
            "prefect_worker_s3_access_key_id": server.secrets["s3_access"],
            "prefect_worker_s3_secret_access_key": server.secrets["s3_secret"],
            "prefect_worker_environment": {
                "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # for bullpen-crash-zombies
                "PREFECT_WORKER_QUERY_SECONDS": "2",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "BULLPEN_PG_BIN_DIR": PG_BIN,  # pg_dump/pg_restore of the server's major
                "MLFLOW_DISABLE_TELEMETRY": "true",
                # The lab's hosts reach no outside API: both point at the server's recording.
                **(self.apis.worker_environment() if self.apis else {}),
            },
            "prefect_worker_secret_environment": {
                "BULLPEN_BACKUP_KEY": backup_key,
                **({"BULLPEN_ODDS_API_KEY": TEST_KEY} if self.apis else {}),
            },
        }

    def install_with_role(self, backup_key: str) -> str:
        """The operator's steps on a new worker host: clone the project (for its Ansible role),
        then run the role with connection=local; returns the playbook's output."""
        import json

        t0 = time.monotonic()
        self.prepare_venv()
        script = (
            f"git init -q {ADMIN_CHECKOUT} && cd {ADMIN_CHECKOUT} && "
            f"git fetch -q --depth 1 {self.server.url('git')} {self.server.commit} && "
            "git checkout -q FETCH_HEAD"
        )
        self.host.run(["sh", "-c", script], timeout=300)
        admin = self.host.dir / "admin"
        (admin / "worker.yml").write_text(PLAYBOOK)
        vars_file = admin / "vars.json"
        vars_file.write_text(json.dumps(self.role_vars(backup_key)))
        vars_file.chmod(0o600)
        env = self.host.env(
            {
                "ANSIBLE_CONFIG": f"{ADMIN_CHECKOUT}/ansible/ansible.cfg",
                "ANSIBLE_ROLES_PATH": f"{ADMIN_CHECKOUT}/ansible/roles",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCAL_TEMP": "/opt/admin/.ansible/tmp",
                "PIP_CONFIG_FILE": "/dev/null",  # the machine's pip.conf names indexes no host has
            }
        )
        done = self.host.run(
            ["/opt/.sys/infra/bin/python", "-m", "ansible.cli.playbook", "-i", "localhost,",
             "-c", "local", "-e", "@/opt/admin/vars.json", "/opt/admin/worker.yml"],
            env, timeout=600, check=False,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, (
            f"the prefect_worker role failed on {self.name}:\n{output[-5000:]}"
        )
        env_file = self.host.dir / ENV_FILE.removeprefix("/opt/")
        self.env = parse_env_file(env_file.read_text())
        self.install_seconds = time.monotonic() - t0
        return output

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
