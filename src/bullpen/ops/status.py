"""`bullpen status`: one screen of deployments, last runs, champions, backups and data age."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bullpen.ops import probes
from bullpen.ops.targets import Targets


def _section(title: str, body: Callable[[], list[str]]) -> list[str]:
    try:
        return [title, *(f"  {line}" for line in body())]
    except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
        return [title, f"  unavailable: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"]


def render_status(targets: Targets, database_problem: str | None = None) -> str:
    now = probes.utc_now()

    def deployments() -> list[str]:
        if not targets.prefect_api_url:
            return ["PREFECT_API_URL not set: no deployments (flows run in-process)"]
        state = probes.fetch_prefect_state(targets.prefect_api_url)
        out = []
        for dep in state.deployments:
            last = next(
                (r for r in state.runs if r.deployment == dep.name and r.state != "SCHEDULED"),
                None,
            )
            when = ""
            if last is not None and (last.end_time or last.start_time):
                stamp = last.end_time or last.start_time
                when = f" {probes.human_age((now - stamp).total_seconds())} ago"  # type: ignore[operator]
            last_text = f"{last.state}{when} ({last.duration_seconds:.0f} s)" if last else "no runs"
            flags = " PAUSED" if dep.paused else ""
            fails = probes.consecutive_failures(state.runs, dep.name)
            failing = f", {fails} failed in a row" if fails else ""
            out.append(f"{dep.name:<36} {last_text}{failing}{flags}")
        return out or ["no deployments (prefect deploy --all)"]

    def models() -> list[str]:
        if not targets.tracking_uri:
            return ["no tracking store (database unavailable)"]
        states = probes.read_model_aliases(targets.tracking_uri)
        out = []
        for s in states:
            loss = s.eval_log_loss
            quality = " ".join(
                f"{k}={loss[k]:.4f}" for k in ("model", "market_open", "market_close") if k in loss
            )
            season = f" on {s.eval_season}" if s.eval_season else ""
            out.append(f"{s.model}@{s.alias} v{s.version}: log loss{season} {quality}")
        return out or ["no aliased models yet (bullpen train)"]

    def backups() -> list[str]:
        if targets.backup_target is None:
            return ["S3 not configured (BULLPEN_S3_* or block bullpen-backups)"]
        state = probes.read_backups(targets.backup_target())
        if state.newest_created_at is None:
            return [f"no complete backup ({state.incomplete_count} incomplete)"]
        age = probes.human_age((now - state.newest_created_at).total_seconds())
        return [
            f"newest {state.newest_id}, {age} ago, {state.newest_bytes} bytes; "
            f"{state.complete_count} complete, {state.incomplete_count} incomplete"
        ]

    def data() -> list[str]:
        if not targets.database_url:
            return [database_problem or "no database"]
        with probes.connect(targets.database_url) as conn:
            newest = probes.read_freshness(conn)
            quarantined = sum(probes.read_quarantine(conn).values())
        out = [
            f"{source:<24} {'no rows' if stamp is None else stamp.isoformat(timespec='seconds')}"
            for source, stamp in newest.items()
        ]
        return [*out, f"quarantined records: {quarantined}"]

    sections = [
        ("Deployments (last run)", deployments),
        ("Models", models),
        ("Backups", backups),
        ("Data (newest row)", data),
    ]
    # The parts wait on different servers (Prefect API, MLflow store, S3, Postgres): overlap them.
    with ThreadPoolExecutor(max_workers=len(sections)) as pool:
        rendered = list(pool.map(lambda item: _section(*item), sections))
    return "\n".join(line for part in rendered for line in part)
