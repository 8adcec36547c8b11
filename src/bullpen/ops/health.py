"""Health checks: database, replica, S3, Prefect API, MLflow, disk, data freshness, collectors.

Each check returns a status (ok / warn / fail / skip) and a one-line reason. Only `fail` makes the
whole report unhealthy; `warn` flags something an operator should look at (stale live data, a
backup older than the RPO) and `skip` says a part is not configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bullpen.ops import probes
from bullpen.ops.targets import Targets

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass(frozen=True)
class Thresholds:
    min_disk_free_ratio: float = 0.10  # fail below
    warn_disk_free_ratio: float = 0.20
    max_live_data_age: dict[str, timedelta] | None = None  # per live source; None: defaults
    backup_rpo: timedelta = timedelta(hours=1, minutes=15)  # hourly backups + slack
    max_replica_delay: timedelta = timedelta(minutes=5)

    def live_age(self, source: str) -> timedelta:
        defaults = {"mlb_games": timedelta(hours=36), "odds_snapshots": timedelta(hours=2)}
        return (self.max_live_data_age or defaults).get(source, timedelta(hours=36))


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def is_healthy(checks: list[Check]) -> bool:
    return all(c.status != FAIL for c in checks)


def where(url: str | None) -> str:
    """A URL as shown in a reason: scheme, host, port and path, never user info or a query
    (a password may hide in either)."""
    if not url:
        return "?"
    parsed = urlsplit(url)
    if not parsed.netloc and not parsed.scheme:
        return url
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}"


def _guard(name: str, probe: Callable[[], Check], url: str | None = None) -> Check:
    """Run `probe`; a failure names the component and the URL it was reached at, so "S3
    failed" is never the report of a Prefect API that is down."""
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reason
        reason = " ".join(str(exc).split()) or type(exc).__name__
        at = f"{name} at {where(url)}: " if url else ""
        return Check(name, FAIL, f"{at}{type(exc).__name__}: {reason[:300]}")


def run_checks(
    targets: Targets,
    thresholds: Thresholds | None = None,
    database_problem: str | None = None,
) -> list[Check]:
    """Run every check; `database_problem` reports a database that could not even be located
    (e.g. the embedded server is not running) without trying to start it."""
    t = thresholds or Thresholds()
    checks: list[Check] = []
    db_ok = False
    if database_problem is not None or not targets.database_url:
        checks.append(Check("database", FAIL, database_problem or "no database configured"))
    else:
        check = _guard(
            "database", lambda: _database(targets.database_url or ""), targets.database_url
        )
        checks.append(check)
        db_ok = check.status == OK
    if targets.replica_url:
        checks.append(
            _guard("replica", lambda: _replica(targets.replica_url or "", t), targets.replica_url)
        )
    else:
        checks.append(
            Check("replica", SKIP, "no replica configured (BULLPEN_REPLICA_DATABASE_URL)")
        )
    if targets.backup_target is not None:
        checks.append(_s3_check(targets, t))
    else:
        checks.append(
            Check("s3", SKIP, "S3 not configured (BULLPEN_S3_* or block bullpen-backups)")
        )
    if targets.prefect_api_url:
        url = targets.prefect_api_url
        checks.append(
            _guard("prefect", lambda: Check("prefect", OK, probes.check_prefect(url)), url)
        )
    else:
        checks.append(Check("prefect", SKIP, "PREFECT_API_URL not set (flows run in-process)"))
    if targets.tracking_uri:
        uri = targets.tracking_uri
        checks.append(_guard("mlflow", lambda: _mlflow(uri), uri))
    else:
        checks.append(Check("mlflow", SKIP, "no tracking URI"))
    if targets.artifact_store is not None:
        checks.append(_artifacts_check(targets.artifact_store))
    checks.append(_guard("disk", lambda: _disk(targets, t)))
    if db_ok:
        url = targets.database_url or ""
        checks.append(_guard("freshness", lambda: _freshness(url, t)))
        checks.append(_guard("collectors", lambda: _collectors(url)))
    else:
        checks.append(Check("freshness", SKIP, "database unavailable"))
        checks.append(Check("collectors", SKIP, "database unavailable"))
    return checks


def _database(url: str) -> Check:
    with probes.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        applied = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchone()[0]  # type: ignore[index]
        if not applied:
            return Check("database", FAIL, f"PostgreSQL {version} up, but no migrations applied")
        n = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]  # type: ignore[index]
    return Check("database", OK, f"PostgreSQL {version}, {n} migrations applied")


def _replica(url: str, t: Thresholds) -> Check:
    with probes.connect(url) as conn:
        in_recovery, delay = probes.read_replica_delay(conn)
    if not in_recovery:
        return Check("replica", FAIL, "the replica is not in recovery (promoted or a primary)")
    if delay is None:
        return Check("replica", OK, "standby in recovery, nothing replayed yet")
    status = WARN if delay > t.max_replica_delay.total_seconds() else OK
    return Check(
        "replica", status, f"standby, newest replayed commit {probes.human_age(delay)} old"
    )


def _s3_check(targets: Targets, t: Thresholds) -> Check:
    """Locating the bucket reads the saved S3 blocks from the Prefect API when one is set: a
    failure there is the Prefect API's, and is reported as such, not as S3 being down."""
    assert targets.backup_target is not None
    try:
        target = targets.backup_target()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reason
        source = (
            f"Prefect API at {where(targets.prefect_api_url)} (S3 blocks)"
            if targets.prefect_api_url
            else "the BULLPEN_S3_* settings"
        )
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return Check("s3", FAIL, f"bucket not located: {source}: {type(exc).__name__}: {reason}")
    endpoint = getattr(getattr(getattr(target, "client", None), "meta", None), "endpoint_url", None)
    bucket = getattr(target, "bucket", "?")
    return _guard("s3", lambda: _s3(target, t), f"{endpoint}/{bucket}" if endpoint else None)


def _s3(target: object, t: Thresholds) -> Check:
    state = probes.read_backups(target)
    if state.newest_created_at is None:
        return Check(
            "s3",
            WARN,
            f"bucket reachable, no complete backup ({state.incomplete_count} incomplete)",
        )
    age = (probes.utc_now() - state.newest_created_at).total_seconds()
    status = WARN if age > t.backup_rpo.total_seconds() else OK
    return Check(
        "s3",
        status,
        f"newest backup {state.newest_id} is {probes.human_age(age)} old "
        f"({state.newest_bytes} bytes; RPO {probes.human_age(t.backup_rpo.total_seconds())})",
    )


def _artifacts_check(locate: Callable[[], Any]) -> Check:
    """Where models and reports go must be reachable from this host: a model trained anywhere
    is loaded from there."""
    try:
        store = locate()
    except Exception as exc:  # noqa: BLE001 - a bad root is the check's reason
        return Check("artifacts", FAIL, f"artifact root not usable: {type(exc).__name__}: {exc}")
    if isinstance(store, Path):
        if store.is_dir():
            return Check("artifacts", OK, f"folder {store} (this host only)")
        return Check("artifacts", WARN, f"folder {store} does not exist yet (nothing logged)")
    return _guard("artifacts", lambda: _s3_artifacts(store), store.uri)


def _s3_artifacts(store: Any) -> Check:
    listed = store.client.list_objects_v2(
        Bucket=store.bucket, Prefix=f"{store.prefix}/" if store.prefix else "", MaxKeys=1
    )
    some = "objects" if listed.get("KeyCount", 0) else "no objects yet"
    return Check("artifacts", OK, f"{store.uri} reachable ({some})")


def _disk(targets: Targets, t: Thresholds) -> Check:
    host = probes.read_host(targets.disk_path)
    ratio = host.disk_free / host.disk_total if host.disk_total else 0.0
    reason = (
        f"{host.disk_free / 2**30:.1f} GiB free of {host.disk_total / 2**30:.1f} GiB "
        f"({ratio:.0%}) at {host.disk_path}"
    )
    if ratio < t.min_disk_free_ratio:
        return Check("disk", FAIL, reason)
    return Check("disk", WARN if ratio < t.warn_disk_free_ratio else OK, reason)


def _freshness(url: str, t: Thresholds) -> Check:
    with probes.connect(url) as conn:
        newest = probes.read_freshness(conn)
    now = probes.utc_now()
    parts, stale = [], []
    for source in probes.LIVE_SOURCES:
        stamp = newest[source]
        if stamp is None:
            continue
        age = (now - stamp).total_seconds()
        parts.append(f"{source} {probes.human_age(age)} old")
        if age > t.live_age(source).total_seconds():
            stale.append(source)
    history = newest["games"]
    tail = f"; replayed history up to {history.date()}" if history else "; no games yet"
    if not parts:
        return Check("freshness", SKIP, "no live collection has run yet" + tail)
    status = WARN if stale else OK
    return Check(
        "freshness",
        status,
        ", ".join(parts) + (f" (stale: {', '.join(stale)})" if stale else "") + tail,
    )


def _collectors(url: str) -> Check:
    with probes.connect(url) as conn:
        breakers = probes.read_breakers(conn)
    if not breakers:
        return Check("collectors", SKIP, "no collector has fetched anything yet")
    now = probes.utc_now()
    states = [(b, b.state(now)) for b in breakers]
    text = ", ".join(
        f"{b.source} {state} ({b.consecutive_failures} failures in a row)" for b, state in states
    )
    status = WARN if any(state != "closed" for _, state in states) else OK
    return Check("collectors", status, text)


def _mlflow(uri: str) -> Check:
    try:
        return Check("mlflow", OK, probes.check_mlflow(uri))
    except Exception as exc:
        text = str(exc)
        # A store that was never written to (before the first `bullpen train`) is not an outage.
        if ('database "mlflow" does not exist' in text) or ("registered_model_aliases" in text):
            return Check("mlflow", WARN, "no MLflow store yet (the first `bullpen train` makes it)")
        raise
