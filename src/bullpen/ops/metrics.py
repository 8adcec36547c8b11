"""Prometheus exporter: a custom collector that reads bullpen's real state at scrape time.

Every family comes from a probe (`bullpen.ops.probes`) run during the scrape. A probe that fails
leaves its families out and reports `bullpen_probe_success{probe=...} 0` with the error logged:
no value is ever invented. Families of unconfigured parts (S3, Prefect API, replicas) are absent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bullpen.betting import forward
from bullpen.collect import http
from bullpen.ops import probes
from bullpen.ops.targets import Targets

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464
DEFAULT_HOST = "127.0.0.1"


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


class BullpenCollector(Collector):
    """Reads the database, MLflow registry, S3, Prefect API and host on every `collect()`."""

    def __init__(self, targets: Targets, clock: Callable[[], float] = time.time) -> None:
        self.targets = targets
        self._clock = clock
        self._backup_target: Any = None
        self._lock = threading.Lock()
        import psutil

        psutil.cpu_percent(interval=None)  # the first reading is meaningless: start the window

    def describe(self) -> list[Metric]:
        return []  # unchecked collector: families depend on what is configured and reachable

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # one scrape at a time: probes open connections
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        success = _gauge(
            "bullpen_probe_success",
            "1 if the probe read its state at this scrape, else 0",
            ["probe"],
        )
        duration = _gauge(
            "bullpen_probe_duration_seconds", "Time the probe took at this scrape", ["probe"]
        )
        probes_to_run: list[tuple[str, Callable[[], list[Metric]]]] = [("host", self._host)]
        if self.targets.database_url:
            probes_to_run.append(("database", self._database))
            # Apart from "database": a ledger that cannot be read (migration 0008 not applied)
            # must not take the data-freshness families with it.
            probes_to_run.append(("bets", self._bets))
        if self.targets.tracking_uri:
            probes_to_run.append(("mlflow", self._mlflow))
        if self.targets.backup_target is not None:
            probes_to_run.append(("s3", self._backups))
        if self.targets.prefect_api_url:
            probes_to_run.append(("prefect", self._prefect))
        if self.targets.replica_url:
            probes_to_run.append(("replica", self._replica))
        for name, probe in probes_to_run:
            started = time.perf_counter()
            try:
                families = probe()
            except Exception as exc:  # noqa: BLE001 - a failed probe is reported, not raised
                log.warning("probe %s failed: %s", name, exc)
                families, ok = [], 0.0
            else:
                ok = 1.0
            success.add_metric([name], ok)
            duration.add_metric([name], time.perf_counter() - started)
            yield from families
        yield success
        yield duration

    # -- probes --------------------------------------------------------------------------------

    def _database(self) -> list[Metric]:
        assert self.targets.database_url
        now = self._clock()
        with probes.connect(self.targets.database_url) as conn:
            freshness = probes.read_freshness(conn)
            quarantine = probes.read_quarantine(conn)
            breakers = probes.read_breakers(conn)
            activity = probes.read_pg_activity(conn)
        age = _gauge(
            "bullpen_data_age_seconds",
            "Seconds since the newest row of each source (game date for replayed history, "
            "fetch or update time for live collectors); absent for a source with no rows",
            ["source"],
        )
        newest = _gauge(
            "bullpen_data_newest_timestamp_seconds",
            "Unix time of the newest row of each source",
            ["source"],
        )
        for source, stamp in freshness.items():
            if stamp is not None:
                age.add_metric([source], now - stamp.timestamp())
                newest.add_metric([source], stamp.timestamp())
        quarantined = _gauge(
            "bullpen_quarantine_records",
            "Quarantined records per source and reason",
            ["source", "reason"],
        )
        for (source, reason), n in sorted(quarantine.items()):
            quarantined.add_metric([source, reason], n)
        fails = _gauge(
            "bullpen_collector_consecutive_failures",
            "Archived 5xx answers in a row from each collector's source, newest first",
            ["source"],
        )
        state = _gauge(
            "bullpen_collector_circuit_state",
            "1 for the state the collector breaker is in, derived from archived answers "
            f"({http.BREAKER_FAILURE_THRESHOLD} failures in a row open it for "
            f"{http.BREAKER_RESET_SECONDS:.0f} s)",
            ["source", "state"],
        )
        now_dt = probes.utc_now()
        for view in breakers:
            fails.add_metric([view.source], view.consecutive_failures)
            current = view.state(now_dt)
            for name in ("closed", "open", "half-open"):
                state.add_metric([view.source, name], 1.0 if name == current else 0.0)
        conns = _gauge(
            "bullpen_postgres_connections",
            "Client backends on the bullpen Postgres server per database and state",
            ["database", "state"],
        )
        for (db, st), n in sorted(activity.connections.items()):
            conns.add_metric([db, st], n)
        max_conn = _gauge(
            "bullpen_postgres_max_connections", "The server's max_connections setting"
        )
        max_conn.add_metric([], activity.max_connections)
        families: list[Metric] = [age, newest, quarantined, fails, state, conns, max_conn]
        if activity.replicas:
            lag = _gauge(
                "bullpen_postgres_replica_lag_seconds",
                "pg_stat_replication.replay_lag of each streaming replica (0 when caught up)",
                ["replica", "state"],
            )
            for name, st, seconds in activity.replicas:
                lag.add_metric([name, st], seconds or 0.0)
            families.append(lag)
        return families

    def _bets(self) -> list[Metric]:
        """The forward record of each strategy version in the bets ledger (issue #17 item 5).

        CLV and ROI are absent for a strategy with no settled pick that ran, and the last-pick
        families for one with no pick: nothing is reported that the ledger does not hold."""
        assert self.targets.database_url
        now = self._clock()
        with probes.connect(self.targets.database_url) as conn:
            gauges = forward.strategy_gauges(conn)
        labels = ["strategy_version"]
        found = _gauge(
            "bullpen_bets_opportunities",
            "Picks the strategy recorded in the ledger, any state (an edge at the best price "
            "with a stake; candidates whose stake rounded to zero are not recorded)",
            labels,
        )
        open_ = _gauge("bullpen_bets_picks_open", "Open picks (not settled yet)", labels)
        risk = _gauge(
            "bullpen_bets_stake_at_risk", "Stake of the open picks, in bankroll units", labels
        )
        settled = _gauge(
            "bullpen_bets_picks_settled", "Picks settled won, lost or push (void apart)", labels
        )
        clv = _gauge(
            "bullpen_bets_forward_clv",
            "Mean closing-line value of the settled picks (vig-free close minus vig-free "
            "consensus at decision, probability; 0.01 = 1 point)",
            labels,
        )
        roi = _gauge(
            "bullpen_bets_forward_roi",
            "Profit / stake over the settled picks that ran (won, lost, push)",
            labels,
        )
        last = _gauge(
            "bullpen_bets_last_pick_timestamp_seconds",
            "Unix time the strategy's newest pick was opened",
            labels,
        )
        last_age = _gauge(
            "bullpen_bets_last_pick_age_seconds",
            "Seconds since the strategy's newest pick was opened",
            labels,
        )
        for g in gauges:
            key = [g.strategy_version]
            found.add_metric(key, g.opportunities)
            open_.add_metric(key, g.picks_open)
            risk.add_metric(key, g.stake_at_risk)
            settled.add_metric(key, g.picks_settled)
            if g.forward_clv_pp is not None:
                clv.add_metric(key, g.forward_clv_pp)
            if g.forward_roi is not None:
                roi.add_metric(key, g.forward_roi)
            if g.last_pick_at is not None:
                last.add_metric(key, g.last_pick_at.timestamp())
                last_age.add_metric(key, now - g.last_pick_at.timestamp())
        return [found, open_, risk, settled, clv, roi, last, last_age]

    def _replica(self) -> list[Metric]:
        assert self.targets.replica_url
        with probes.connect(self.targets.replica_url) as conn:
            in_recovery, delay = probes.read_replica_delay(conn)
        standby = _gauge(
            "bullpen_replica_in_recovery", "1 if the configured replica is a standby in recovery"
        )
        standby.add_metric([], 1.0 if in_recovery else 0.0)
        families: list[Metric] = [standby]
        if delay is not None:
            age = _gauge(
                "bullpen_replica_replay_age_seconds",
                "Seconds since the replica replayed its newest transaction's commit",
            )
            age.add_metric([], delay)
            families.append(age)
        return families

    def _mlflow(self) -> list[Metric]:
        assert self.targets.tracking_uri
        states = probes.read_model_aliases(self.targets.tracking_uri)
        version = _gauge(
            "bullpen_model_alias_version",
            "Registered version each alias points at (champion, challenger) per model",
            ["model", "alias"],
        )
        loss = _gauge(
            "bullpen_model_eval_log_loss",
            "Log loss on the evaluation season recorded when the aliased version was trained, "
            "for the model and the market baselines (source=market_close: vig-free close)",
            ["model", "alias", "source", "eval_season"],
        )
        gap = _gauge(
            "bullpen_model_eval_log_loss_vs_close",
            "Model log loss minus vig-free closing-line log loss on the evaluation season "
            "(positive: worse than the close)",
            ["model", "alias", "eval_season"],
        )
        for s in states:
            version.add_metric([s.model, s.alias], float(s.version))
            season = s.eval_season or ""
            for source, value in sorted(s.eval_log_loss.items()):
                loss.add_metric([s.model, s.alias, source, season], value)
            if "model" in s.eval_log_loss and "market_close" in s.eval_log_loss:
                gap.add_metric(
                    [s.model, s.alias, season],
                    s.eval_log_loss["model"] - s.eval_log_loss["market_close"],
                )
        return [version, loss, gap]

    def _backups(self) -> list[Metric]:
        assert self.targets.backup_target is not None
        if self._backup_target is None:
            self._backup_target = self.targets.backup_target()
        state = probes.read_backups(self._backup_target)
        count = _gauge("bullpen_backups", "Backups in the bucket by completeness", ["complete"])
        count.add_metric(["true"], state.complete_count)
        count.add_metric(["false"], state.incomplete_count)
        families: list[Metric] = [count]
        if state.newest_created_at is not None:
            age = _gauge(
                "bullpen_backup_age_seconds", "Seconds since the newest complete backup was made"
            )
            age.add_metric([], self._clock() - state.newest_created_at.timestamp())
            size = _gauge(
                "bullpen_backup_size_bytes", "Encrypted payload size of the newest complete backup"
            )
            size.add_metric([], state.newest_bytes)
            families += [age, size]
        return families

    def _prefect(self) -> list[Metric]:
        assert self.targets.prefect_api_url
        state = probes.fetch_prefect_state(self.targets.prefect_api_url)
        now = self._clock()
        recent = _gauge(
            "bullpen_flow_runs",
            "Flow runs of each deployment expected to start in the last 7 days, by state",
            ["deployment", "state"],
        )
        counts: dict[tuple[str, str], int] = {}
        for run in state.runs:
            counts[(run.deployment, run.state)] = counts.get((run.deployment, run.state), 0) + 1
        for (dep, st), n in sorted(counts.items()):
            recent.add_metric([dep, st], n)
        last_duration = _gauge(
            "bullpen_flow_run_last_duration_seconds",
            "Run time of each deployment's newest finished run",
            ["deployment", "state"],
        )
        last_end = _gauge(
            "bullpen_flow_run_last_end_age_seconds",
            "Seconds since each deployment's newest finished run ended",
            ["deployment", "state"],
        )
        last_success = _gauge(
            "bullpen_flow_run_last_success_age_seconds",
            "Seconds since each deployment's newest Completed run ended",
            ["deployment"],
        )
        failing = _gauge(
            "bullpen_deployment_consecutive_failures",
            "Finished runs in a row that Failed or Crashed, newest first",
            ["deployment"],
        )
        paused = _gauge(
            "bullpen_deployment_paused", "1 if the deployment is paused", ["deployment"]
        )
        seen_last: set[str] = set()
        seen_success: set[str] = set()
        for run in state.runs:  # newest first
            if run.state not in probes.FINAL_STATES or run.end_time is None:
                continue
            if run.deployment not in seen_last:
                seen_last.add(run.deployment)
                last_duration.add_metric([run.deployment, run.state], run.duration_seconds)
                last_end.add_metric([run.deployment, run.state], now - run.end_time.timestamp())
            if run.state == "COMPLETED" and run.deployment not in seen_success:
                seen_success.add(run.deployment)
                last_success.add_metric([run.deployment], now - run.end_time.timestamp())
        for dep in state.deployments:
            failing.add_metric([dep.name], probes.consecutive_failures(state.runs, dep.name))
            paused.add_metric([dep.name], 1.0 if dep.paused else 0.0)
        # A verified restore is a Completed run of the backup-verify flow (nothing else records it).
        # A pool without an online worker leaves every scheduled run Late, which no run-based
        # metric shows until the runs would have ended.
        online = _gauge(
            "bullpen_work_pool_online_workers",
            "Workers the Prefect server counts as ONLINE (recent heartbeat), by work pool",
            ["pool"],
        )
        for pool, count in sorted(state.online_workers.items()):
            online.add_metric([pool], count)
        families: list[Metric] = [
            recent, last_duration, last_end, last_success, failing, paused, online,
        ]  # fmt: skip
        verified = [
            r
            for r in state.runs
            if r.deployment.startswith("backup-verify/") and r.state == "COMPLETED" and r.end_time
        ]
        if verified:
            restore = _gauge(
                "bullpen_backup_last_verified_restore_age_seconds",
                "Seconds since the newest Completed backup-verify run (restore checked) ended",
            )
            restore.add_metric([], now - verified[0].end_time.timestamp())  # type: ignore[union-attr]
            families.append(restore)
        return families

    def _host(self) -> list[Metric]:
        host = probes.read_host(self.targets.disk_path)
        cpu = _gauge("bullpen_host_cpu_ratio", "Host CPU busy share since the previous scrape")
        cpu.add_metric([], host.cpu_percent / 100.0)
        load = _gauge("bullpen_host_load1", "1-minute load average")
        load.add_metric([], host.load1)
        cores = _gauge("bullpen_host_cpus", "Logical CPUs")
        cores.add_metric([], host.cpu_count)
        mem_total = _gauge("bullpen_host_memory_total_bytes", "Host memory")
        mem_total.add_metric([], host.memory_total)
        mem_avail = _gauge("bullpen_host_memory_available_bytes", "Host memory available")
        mem_avail.add_metric([], host.memory_available)
        disk_total = _gauge(
            "bullpen_host_disk_total_bytes", "Size of the disk holding bullpen's home", ["path"]
        )
        disk_total.add_metric([host.disk_path], host.disk_total)
        disk_free = _gauge("bullpen_host_disk_free_bytes", "Free space on that disk", ["path"])
        disk_free.add_metric([host.disk_path], host.disk_free)
        return [cpu, load, cores, mem_total, mem_avail, disk_total, disk_free]


def make_registry(targets: Targets) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BullpenCollector(targets))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def make_server(
    registry: CollectorRegistry,
    health: Callable[[], tuple[bool, list[dict[str, str]]]] | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> ThreadingHTTPServer:
    """An HTTP server answering /metrics (the registry) and /healthz (200 or 503 with JSON)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, status, ctype = render(registry), 200, CONTENT_TYPE_LATEST
            elif path == "/healthz" and health is not None:
                healthy, checks = health()
                body = json.dumps({"healthy": healthy, "checks": checks}, indent=1).encode()
                status, ctype = (200 if healthy else 503), "application/json"
            else:
                body, status, ctype = b"not found: try /metrics or /healthz\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s " + format, self.address_string(), *args)

    return ThreadingHTTPServer((host, port), Handler)
