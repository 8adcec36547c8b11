"""The model audit trail: every promotion, rejected challenger, stopped retraining and rollback."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg

ACTIONS = ("promoted", "rejected", "stopped", "rolled_back")


@dataclass(frozen=True)
class AuditEntry:
    model: str
    action: str  # one of ACTIONS
    stage: str  # data_quality, behaviour, bootstrap, first, monitor, manual
    trigger: str  # why the run happened (the --reason / drift reason / schedule)
    reason: str  # why the decision went this way
    champion_before: str | None = None
    champion_after: str | None = None
    challenger_version: str | None = None
    forced: bool = False
    ci_lower: float | None = None
    ci_upper: float | None = None
    confidence: float | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    data_through: date | None = None


@dataclass(frozen=True)
class AuditRow(AuditEntry):
    audit_id: int = 0
    created_at: datetime | None = None


_COLUMNS = [f for f in AuditEntry.__dataclass_fields__]


def write_audit(conn: psycopg.Connection, entry: AuditEntry) -> int:
    """Insert one row in the caller's transaction (so the caller decides when it counts)."""
    values = asdict(entry)
    values["numbers"] = json.dumps(values["numbers"], default=float)
    placeholders = ", ".join(f"%({c})s" for c in _COLUMNS)
    row = conn.execute(
        f"INSERT INTO model_audit ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
        " RETURNING audit_id",
        values,
    ).fetchone()
    assert row is not None
    return int(row[0])


def list_audit(conn: psycopg.Connection, model: str, limit: int = 100) -> list[AuditRow]:
    """Newest first."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(_COLUMNS)}, audit_id, created_at FROM model_audit"
            " WHERE model = %s ORDER BY created_at DESC, audit_id DESC LIMIT %s",
            (model, limit),
        )
        names = [d.name for d in cur.description or ()]
        return [AuditRow(**dict(zip(names, row, strict=True))) for row in cur.fetchall()]


def last_promotion(conn: psycopg.Connection, model: str) -> AuditRow | None:
    """The newest 'promoted' row (the one monitor-champion judges), if any."""
    rows = [
        r for r in list_audit(conn, model, limit=1000) if r.action in ("promoted", "rolled_back")
    ]
    return rows[0] if rows and rows[0].action == "promoted" else None


def format_history(rows: list[AuditRow]) -> str:
    """One block per row: when, what, versions, reason, behaviour checks, interval."""
    if not rows:
        return "(no audit rows)"
    lines = []
    for r in rows:
        when = r.created_at.strftime("%Y-%m-%d %H:%M:%S") if r.created_at else "?"
        action = f"{r.action}{' (forced)' if r.forced else ''}"
        versions = f"champion {r.champion_before or '-'} -> {r.champion_after or '-'}"
        if r.challenger_version:
            versions += f", challenger v{r.challenger_version}"
        lines.append(f"#{r.audit_id} {when}  {action:<18} [{r.stage}] {versions}")
        lines.append(f"    trigger: {r.trigger}")
        lines.append(f"    reason:  {r.reason}")
        checks = r.numbers.get("checks") if isinstance(r.numbers, dict) else None
        if checks:
            # Why a first champion took the alias: no champion to beat, and these checks passed.
            lines.append(
                "    checks:  "
                + ", ".join(
                    f"{name} {'passed' if c.get('passed') else 'FAILED'}"
                    for name, c in checks.items()
                )
            )
        if r.ci_lower is not None and r.ci_upper is not None:
            lines.append(
                f"    {r.confidence or 0:.0%} CI of log-loss diff (new - old): "
                f"[{r.ci_lower:+.5f}, {r.ci_upper:+.5f}]"
            )
    return "\n".join(lines)
