"""Read bullpen's real operational state: data freshness, quarantine, champions, backups,
Postgres, flow runs and host. Shared by the metrics exporter, `bullpen health` and `status`.

Each reader takes explicit connections or URLs and raises on failure; callers decide whether a
failure means "unhealthy" or "metric family absent". Nothing here imports Prefect or MLflow: the
Prefect API and an MLflow server are read over HTTP, MLflow's SQL store with plain SQL, so a
scrape or `bullpen status` stays fast.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

from bullpen import profiles
from bullpen.collect.http import BREAKER_FAILURE_THRESHOLD, BREAKER_RESET_SECONDS

CONNECT_TIMEOUT_SECONDS = 3

# source -> SQL giving the newest timestamp of that source's rows (NULL when it has none).
FRESHNESS_SQL = {
    # Replayed history: the newest game date / the newest game date that has market lines.
    "games": "SELECT max(game_date)::timestamptz FROM games",
    "odds_history": "SELECT max(g.game_date)::timestamptz FROM odds o JOIN games g USING (game_id)",
    # Live collectors: when a game state / a price snapshot was last seen.
    "mlb_games": "SELECT max(seen_at) FROM mlb_games",
    "odds_snapshots": "SELECT max(last_update) FROM odds_snapshots",
    "raw_payloads_mlb_stats": "SELECT max(fetched_at) FROM raw_payloads WHERE source = 'mlb_stats'",
    "raw_payloads_odds_api": "SELECT max(fetched_at) FROM raw_payloads WHERE source = 'odds_api'",
}
LIVE_SOURCES = ("mlb_games", "odds_snapshots")


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


def human_age(seconds: float) -> str:
    """An age for people: "45 s", "12 min", "3.5 h", "4 days" (health reasons, status lines)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


# -- the bullpen database ----------------------------------------------------------------------


def read_freshness(conn: psycopg.Connection) -> dict[str, datetime | None]:
    """Newest row timestamp per source (None: the source has no rows yet)."""
    return {
        source: conn.execute(sql).fetchone()[0]  # type: ignore[index]
        for source, sql in FRESHNESS_SQL.items()
    }


_REASON_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|[-+]?\d+(?:\.\d+)?")


def reason_kind(reason: str) -> str:
    """A reason with its values replaced by `#` (a bounded label: one series per kind of
    problem, not per bad row): "sum to 0.697 < 1.0 (200, 175)" -> "sum to # < # (#, #)"."""
    return _REASON_VALUES.sub("#", reason)[:120]


def read_quarantine(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    """Quarantined records per (source, kind of reason)."""
    rows = conn.execute("SELECT source, reason, count(*) FROM quarantine GROUP BY 1, 2").fetchall()
    counts: dict[tuple[str, str], int] = {}
    for source, reason, n in rows:
        key = (source, reason_kind(reason))
        counts[key] = counts.get(key, 0) + int(n)
    return counts


@dataclass(frozen=True)
class BreakerView:
    """A collector breaker as the archive shows it: failed answers in a row, newest first."""

    source: str
    consecutive_failures: int
    last_failure: datetime | None

    def state(self, now: datetime) -> str:
        if self.consecutive_failures < BREAKER_FAILURE_THRESHOLD or self.last_failure is None:
            return "closed"
        if (now - self.last_failure).total_seconds() < BREAKER_RESET_SECONDS:
            return "open"
        return "half-open"


def read_breakers(conn: psycopg.Connection) -> list[BreakerView]:
    """Per source, the trailing run of 5xx answers in raw_payloads (retried answers are archived).

    The collectors' breakers live in each flow-run process; the archive is what survives them.
    Transport errors (timeouts, refused connections) leave no payload and are not counted.
    """
    rows = conn.execute(
        """
        WITH ranked AS (
            SELECT source, fetched_at, http_status >= 500 AS failed,
                   row_number() OVER (PARTITION BY source ORDER BY fetched_at DESC) AS n
            FROM raw_payloads
            WHERE http_status <> 429
        ), first_ok AS (
            SELECT source, min(n) FILTER (WHERE NOT failed) AS n_ok, max(n) AS n_all
            FROM ranked GROUP BY source
        )
        SELECT f.source, coalesce(f.n_ok, f.n_all + 1) - 1 AS failures,
               (SELECT max(fetched_at) FROM ranked r WHERE r.source = f.source AND r.failed)
        FROM first_ok f ORDER BY f.source
        """
    ).fetchall()
    return [BreakerView(source, int(failures), last) for source, failures, last in rows]


@dataclass(frozen=True)
class PgActivity:
    connections: dict[tuple[str, str], int]  # (database, state) -> backends
    max_connections: int
    replicas: list[tuple[str, str, float | None]]  # (application_name, state, replay lag s)
    in_recovery: bool


def read_pg_activity(conn: psycopg.Connection) -> PgActivity:
    """Client backends per database and state; streaming replicas and their replay lag."""
    rows = conn.execute(
        "SELECT coalesce(datname, ''), coalesce(state, 'unknown'), count(*)"
        " FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2"
    ).fetchall()
    max_conn = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
    replicas = conn.execute(
        "SELECT coalesce(application_name, ''), coalesce(state, ''),"
        " extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication"
    ).fetchall()
    in_recovery = bool(conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])  # type: ignore[index]
    return PgActivity(
        {(db, state): int(n) for db, state, n in rows},
        max_conn,
        [(name, state, lag) for name, state, lag in replicas],
        in_recovery,
    )


def read_replica_delay(conn: psycopg.Connection) -> tuple[bool, float | None]:
    """On a standby: (in recovery, seconds since the last replayed transaction's commit).

    The delay grows on an idle primary too; it is "how old is what the replica shows".
    """
    in_recovery, delay = conn.execute(
        "SELECT pg_is_in_recovery(),"
        " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
    ).fetchone()  # type: ignore[misc]
    return bool(in_recovery), delay


# -- MLflow registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAliasState:
    """A registered model's alias and what its version recorded when it was registered."""

    model: str
    alias: str
    version: str
    eval_season: str | None
    # Log losses on the evaluation season, from the version's training run (model, market_open,
    # market_close, ...); the tag eval_log_loss when the run's metrics are not readable.
    eval_log_loss: dict[str, float] = field(default_factory=dict)


_MLFLOW_SQL = """
SELECT a.name, a.alias, a.version::text, mv.run_id,
       (SELECT value FROM model_version_tags t
         WHERE t.name = a.name AND t.version = a.version AND t.key = 'eval_season'),
       (SELECT value FROM model_version_tags t
         WHERE t.name = a.name AND t.version = a.version AND t.key = 'eval_log_loss')
FROM registered_model_aliases a
JOIN model_versions mv ON mv.name = a.name AND mv.version = a.version
ORDER BY a.name, a.alias
"""
_RUN_LOSS_SQL = "SELECT key, value FROM latest_metrics WHERE run_uuid = {p} AND key LIKE {p}"


def read_model_aliases(tracking_uri: str, timeout: float = 5.0) -> list[ModelAliasState]:
    """Every alias in the MLflow registry with its version's recorded evaluation log losses.

    Reads a SQL store (postgresql / sqlite URIs) with plain SQL and an MLflow server over its
    REST API; a file store is not supported (raises ValueError).
    """
    scheme = urlparse(tracking_uri).scheme.split("+")[0]
    if scheme in ("http", "https"):
        return _aliases_over_rest(tracking_uri, timeout)
    if scheme in ("postgresql", "postgres"):
        libpq = urlparse(tracking_uri)._replace(scheme="postgresql").geturl()
        with connect(libpq) as conn:
            return _aliases_from_rows(conn.execute(_MLFLOW_SQL).fetchall(), conn, "%s")
    if scheme == "sqlite":
        path = tracking_uri.split("sqlite:///", 1)[1]
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout) as conn:
            return _aliases_from_rows(conn.execute(_MLFLOW_SQL).fetchall(), conn, "?")
    raise ValueError(f"cannot read the registry of tracking URI scheme {scheme!r}")


def _aliases_from_rows(rows: Iterable[Any], conn: Any, placeholder: str) -> list[ModelAliasState]:
    states = []
    for name, alias, version, run_id, season, tag_loss in rows:
        losses: dict[str, float] = {}
        if run_id:
            for key, value in conn.execute(
                _RUN_LOSS_SQL.format(p=placeholder), (run_id, "%log_loss")
            ).fetchall():
                losses[key.removesuffix("_log_loss")] = float(value)
        if "model" not in losses and tag_loss:
            losses["model"] = float(tag_loss)
        states.append(ModelAliasState(name, alias, str(version), season, losses))
    return states


def _aliases_over_rest(base: str, timeout: float) -> list[ModelAliasState]:
    import httpx

    states = []
    # The same credentials MLflow's own client sends to a server with basic auth.
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    auth = (user, password) if user and password else None
    with httpx.Client(base_url=base.rstrip("/"), timeout=timeout, auth=auth) as client:
        found = client.get("/api/2.0/mlflow/registered-models/search", params={"max_results": 1000})
        found.raise_for_status()
        for model in found.json().get("registered_models", []):
            for entry in model.get("aliases", []):
                mv = client.get(
                    "/api/2.0/mlflow/model-versions/get",
                    params={"name": model["name"], "version": entry["version"]},
                )
                mv.raise_for_status()
                version = mv.json()["model_version"]
                tags = {t["key"]: t["value"] for t in version.get("tags", [])}
                losses: dict[str, float] = {}
                if version.get("run_id"):
                    run = client.get(
                        "/api/2.0/mlflow/runs/get", params={"run_id": version["run_id"]}
                    )
                    if run.status_code == 200:
                        for metric in run.json()["run"]["data"].get("metrics", []):
                            if metric["key"].endswith("_log_loss"):
                                losses[metric["key"].removesuffix("_log_loss")] = metric["value"]
                if "model" not in losses and tags.get("eval_log_loss"):
                    losses["model"] = float(tags["eval_log_loss"])
                states.append(
                    ModelAliasState(
                        model["name"],
                        entry["alias"],
                        str(entry["version"]),
                        tags.get("eval_season"),
                        losses,
                    )
                )
    return states


def check_mlflow(tracking_uri: str, timeout: float = 5.0) -> str:
    """A one-line description of a reachable tracking store; raises when it is not."""
    scheme = urlparse(tracking_uri).scheme.split("+")[0]
    if scheme in ("http", "https"):
        import httpx

        response = httpx.get(tracking_uri.rstrip("/") + "/health", timeout=timeout)
        response.raise_for_status()
        return f"server answers /health ({response.text.strip()[:20]})"
    models = read_model_aliases(tracking_uri, timeout)
    return f"registry readable, {len(models)} aliases"


# -- backups on S3 -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupState:
    newest_id: str | None
    newest_created_at: datetime | None
    newest_bytes: int
    complete_count: int
    incomplete_count: int


def read_backups(target: Any) -> BackupState:
    """The newest complete backup in the bucket (by id, i.e. creation time) and counts."""
    from bullpen.backup import s3

    listed = s3.list_backups(target)
    complete = [b for b in listed if b.complete]
    newest = complete[0] if complete else None
    return BackupState(
        newest.id if newest else None,
        newest.created_at if newest else None,
        newest.payload_bytes if newest else 0,
        len(complete),
        len(listed) - len(complete),
    )


# -- Prefect API (REST, no Prefect import) -----------------------------------------------------


@dataclass(frozen=True)
class FlowRunView:
    deployment: str  # "<flow>/<deployment>"
    state: str  # COMPLETED, FAILED, CRASHED, ...
    start_time: datetime | None
    end_time: datetime | None
    duration_seconds: float  # Prefect's total_run_time


@dataclass(frozen=True)
class DeploymentView:
    name: str  # "<flow>/<deployment>"
    paused: bool
    status: str | None  # READY / NOT_READY
    schedules: int


@dataclass
class PrefectState:
    deployments: list[DeploymentView]
    runs: list[FlowRunView]  # newest first, within the window asked for
    online_workers: dict[str, int] = field(default_factory=dict)  # work pool -> ONLINE workers


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def fetch_prefect_state(
    api_url: str, since: timedelta = timedelta(days=7), limit: int = 200, timeout: float = 5.0
) -> PrefectState:
    """Deployments and the flow runs of deployments that started within `since`."""
    import httpx

    headers = profiles.prefect_auth_headers()
    with httpx.Client(
        base_url=api_url.rstrip("/") + "/", timeout=timeout, headers=headers
    ) as client:
        flows = client.post("flows/filter", json={"limit": 200})
        flows.raise_for_status()
        flow_names = {f["id"]: f["name"] for f in flows.json()}
        deps = client.post("deployments/filter", json={"limit": 200})
        deps.raise_for_status()
        dep_names: dict[str, str] = {}
        deployments = []
        for dep in deps.json():
            full = f"{flow_names.get(dep['flow_id'], '?')}/{dep['name']}"
            dep_names[dep["id"]] = full
            deployments.append(
                DeploymentView(
                    full, bool(dep.get("paused")), dep.get("status"), len(dep.get("schedules", []))
                )
            )
        after = (utc_now() - since).isoformat()
        runs = client.post(
            "flow_runs/filter",
            json={
                "sort": "EXPECTED_START_TIME_DESC",
                "limit": limit,
                "flow_runs": {
                    "expected_start_time": {"after_": after},
                    "deployment_id": {"is_null_": False},
                },
            },
        )
        runs.raise_for_status()
        online_workers: dict[str, int] = {}
        pools = client.post("work_pools/filter", json={"limit": 200})
        pools.raise_for_status()
        for pool in pools.json():
            workers = client.post(f"work_pools/{pool['name']}/workers/filter", json={"limit": 200})
            workers.raise_for_status()
            online = [w for w in workers.json() if w.get("status") == "ONLINE"]
            online_workers[pool["name"]] = len(online)
    views = [
        FlowRunView(
            dep_names.get(run["deployment_id"], run["deployment_id"]),
            run.get("state_type") or "UNKNOWN",
            _parse_time(run.get("start_time")),
            _parse_time(run.get("end_time")),
            float(run.get("total_run_time") or 0.0),
        )
        for run in runs.json()
    ]
    return PrefectState(sorted(deployments, key=lambda d: d.name), views, online_workers)


def check_prefect(api_url: str, timeout: float = 5.0) -> str:
    import httpx

    response = httpx.get(
        api_url.rstrip("/") + "/health", timeout=timeout, headers=profiles.prefect_auth_headers()
    )
    if response.status_code == 401:
        raise RuntimeError(profiles.unauthorized_message(api_url))
    response.raise_for_status()
    return "API answers /health"


FINAL_STATES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def consecutive_failures(runs: list[FlowRunView], deployment: str) -> int:
    """Finished runs of `deployment` that failed or crashed in a row, newest first."""
    count = 0
    for run in runs:
        if run.deployment != deployment or run.state not in FINAL_STATES:
            continue
        if run.state not in ("FAILED", "CRASHED"):
            break
        count += 1
    return count


# -- host --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostState:
    cpu_percent: float
    cpu_count: int
    load1: float
    memory_total: int
    memory_available: int
    disk_path: str
    disk_total: int
    disk_free: int


def read_host(path: Path) -> HostState:
    """CPU (since the previous call in this process), memory and the disk holding `path`."""
    import psutil

    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(existing))
    return HostState(
        psutil.cpu_percent(interval=None),
        psutil.cpu_count() or 1,
        psutil.getloadavg()[0],
        int(memory.total),
        int(memory.available),
        str(existing),
        int(disk.total),
        int(disk.free),
    )
