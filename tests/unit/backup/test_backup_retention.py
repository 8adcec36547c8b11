"""Retention decisions: slots per hour/day/week/month, and never the last good backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bullpen.backup.retention import RetentionPolicy, StoredBackup, decide_retention

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _backup(hours_ago: float, complete: bool = True) -> StoredBackup:
    created = NOW - timedelta(hours=hours_ago)
    return StoredBackup(f"{created:%Y%m%dT%H%M%SZ}-hourly-000000", created, complete)


def test_decide_retention_keeps_one_per_slot_up_to_each_count() -> None:
    backups = [_backup(h) for h in range(0, 24 * 60)]  # hourly backups for 60 days
    policy = RetentionPolicy(hourly=24, daily=7, weekly=4, monthly=12)

    decision = decide_retention(backups, policy, NOW)

    kept = {b.id: b for b in backups if b.id in decision.keep}
    assert len(decision.keep) + len(decision.delete) == len(backups)
    assert sum("hourly" in r for r in decision.reasons.values()) == 24
    assert sum("daily" in r for r in decision.reasons.values()) == 7
    assert sum("weekly" in r for r in decision.reasons.values()) == 4
    assert sum("monthly" in r for r in decision.reasons.values()) == 3  # 60 days span 3 months
    assert backups[0].id in kept  # newest
    # daily slots keep the newest backup of each day, i.e. its 23:00 run (except today)
    dailies = [kept[i] for i, r in decision.reasons.items() if "daily" in r]
    assert all(b.created_at.hour == 23 for b in dailies if b.created_at.date() != NOW.date())


def test_zero_policy_still_keeps_the_newest_complete_backup() -> None:
    backups = [_backup(1), _backup(30), _backup(0.5, complete=False), _backup(500)]
    decision = decide_retention(backups, RetentionPolicy(0, 0, 0, 0), NOW)

    assert decision.keep == (backups[0].id, backups[2].id)
    assert decision.reasons[backups[0].id] == ("latest",)
    assert set(decision.delete) == {backups[1].id, backups[3].id}


def test_incomplete_backups_survive_only_their_grace_period() -> None:
    running, abandoned = _backup(1, complete=False), _backup(7, complete=False)
    decision = decide_retention([running, abandoned], RetentionPolicy(), NOW)

    assert decision.keep == (running.id,)
    assert decision.delete == (abandoned.id,)


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetentionPolicy(hourly=-1)


@given(
    ages=st.lists(st.tuples(st.floats(0, 24 * 400), st.booleans()), min_size=1, max_size=60),
    counts=st.tuples(*[st.integers(0, 5)] * 4),
)
def test_never_deletes_the_newest_complete_backup(
    ages: list[tuple[float, bool]], counts: tuple[int, int, int, int]
) -> None:
    backups = [
        StoredBackup(f"b{i}", NOW - timedelta(hours=age), complete)
        for i, (age, complete) in enumerate(ages)
    ]
    decision = decide_retention(backups, RetentionPolicy(*counts), NOW)

    complete = [b for b in backups if b.complete]
    assert set(decision.keep).isdisjoint(decision.delete)
    assert set(decision.keep) | set(decision.delete) == {b.id for b in backups}
    if complete:
        newest = max(complete, key=lambda b: b.created_at)
        assert newest.id in decision.keep
        assert any(b.id in decision.keep for b in complete)
