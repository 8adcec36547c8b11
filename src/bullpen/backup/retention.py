"""Which backups to keep: hourly/daily/weekly/monthly slots, never the newest good ones (pure).

Only backups whose manifest verified with the backup key count as complete here (s3.py checks
that before calling): anyone who can write to the bucket can upload objects named like backups,
so a name or a date alone must never decide what is kept or deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Backup ids dated later than now plus this are ignored: a backup cannot come from the future,
# and a forged future date would otherwise win every "newest" slot. Five minutes covers clocks
# kept by NTP on two hosts (the one that made the backup and the one listing it).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RetentionPolicy:
    """How many of the newest distinct hours, days, ISO weeks and months keep one backup each.

    Like `restic forget --keep-hourly/--keep-daily/...`: a slot keeps the newest complete backup
    in it. Whatever the slots say, the newest `min_verified` complete backups are kept, so
    retention never leaves fewer than that many good backups. Incomplete backups (no manifest)
    older than `incomplete_grace` are removed.
    """

    hourly: int = 24
    daily: int = 7
    weekly: int = 4
    monthly: int = 12
    # Three: one bad backup (a dump of a database already damaged) still leaves two to go back to.
    min_verified: int = 3
    incomplete_grace: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        if min(self.hourly, self.daily, self.weekly, self.monthly) < 0:
            raise ValueError("retention counts cannot be negative")
        if self.min_verified < 1:
            raise ValueError("min_verified must be at least 1: retention keeps a good backup")


@dataclass(frozen=True)
class StoredBackup:
    id: str
    created_at: datetime
    complete: bool  # manifest verified with the key, payload of the size it records


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
    backups: Sequence[StoredBackup],
    policy: RetentionPolicy,
    now: datetime,
    protect: Collection[str] = (),
) -> RetentionDecision:
    """Split `backups` into keep and delete.

    The newest `policy.min_verified` complete backups and every id in `protect` (the backup just
    made) are always kept, whatever the slots say. Backups dated after `now + CLOCK_SKEW` are
    kept and take no slot: they cannot be real, so they neither count nor push real ones out.
    Incomplete ones inside the grace period are kept: an upload may still be running.
    """
    future = {b.id for b in backups if b.created_at > now + CLOCK_SKEW}
    complete = sorted(
        (b for b in backups if b.complete and b.id not in future),
        key=lambda b: b.created_at,
        reverse=True,
    )
    reasons: dict[str, list[str]] = {}
    for backup_id in future:
        reasons[backup_id] = ["future: ignored"]
    for backup_id in protect:
        reasons.setdefault(backup_id, []).append("just made")
    for rank, backup in enumerate(complete[: policy.min_verified]):
        reasons.setdefault(backup.id, []).append("latest" if rank == 0 else "minimum")
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
