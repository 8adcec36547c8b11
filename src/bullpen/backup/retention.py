"""Which backups to keep: hourly/daily/weekly/monthly slots, never the newest good one (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    """How many of the newest distinct hours, days, ISO weeks and months keep one backup each.

    Like `restic forget --keep-hourly/--keep-daily/...`: a slot keeps the newest complete backup
    in it. Incomplete backups (no manifest) older than `incomplete_grace` are removed.
    """

    hourly: int = 24
    daily: int = 7
    weekly: int = 4
    monthly: int = 12
    incomplete_grace: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        if min(self.hourly, self.daily, self.weekly, self.monthly) < 0:
            raise ValueError("retention counts cannot be negative")


@dataclass(frozen=True)
class StoredBackup:
    id: str
    created_at: datetime
    complete: bool  # manifest present: the upload finished


@dataclass(frozen=True)
class RetentionDecision:
    keep: tuple[str, ...]
    delete: tuple[str, ...]
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kept id -> slots


_SLOTS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar())[:2],
    "monthly": lambda t: (t.year, t.month),
}


def decide_retention(
    backups: Sequence[StoredBackup], policy: RetentionPolicy, now: datetime
) -> RetentionDecision:
    """Split `backups` into keep and delete.

    The newest complete backup is always kept, whatever the policy says, so retention can never
    leave the bucket without a good backup. Incomplete ones inside the grace period are kept: an
    upload may still be running.
    """
    complete = sorted((b for b in backups if b.complete), key=lambda b: b.created_at, reverse=True)
    reasons: dict[str, list[str]] = {}
    if complete:
        reasons[complete[0].id] = ["latest"]
    for slot, count in (
        ("hourly", policy.hourly),
        ("daily", policy.daily),
        ("weekly", policy.weekly),
        ("monthly", policy.monthly),
    ):
        period = _SLOTS[slot]
        taken: list[tuple[int, ...]] = []
        for backup in complete:
            if len(taken) >= count:
                break
            key = period(backup.created_at)
            if key not in taken:
                taken.append(key)
                reasons.setdefault(backup.id, []).append(slot)
    for backup in backups:
        if not backup.complete and now - backup.created_at < policy.incomplete_grace:
            reasons.setdefault(backup.id, []).append("in progress")
    keep = tuple(b.id for b in backups if b.id in reasons)
    delete = tuple(b.id for b in backups if b.id not in reasons)
    return RetentionDecision(keep, delete, {k: tuple(v) for k, v in reasons.items()})
