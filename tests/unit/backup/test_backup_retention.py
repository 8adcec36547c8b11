"""Retention decisions: slots per hour/day/week/month, never the last good backups, never the
one just made, and nothing dated in the future counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bullpen.backup.retention import (
    CLOCK_SKEW,
    RetentionPolicy,
    StoredBackup,
    decide_retention,
)

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
    decision = decide_retention(backups, RetentionPolicy(0, 0, 0, 0, min_verified=1), NOW)

    assert decision.keep == (backups[0].id, backups[2].id)
    assert decision.reasons[backups[0].id] == ("latest",)
    assert set(decision.delete) == {backups[1].id, backups[3].id}


def test_incomplete_backups_survive_only_their_grace_period() -> None:
    running, abandoned = _backup(1, complete=False), _backup(7, complete=False)
    decision = decide_retention([running, abandoned], RetentionPolicy(), NOW)

    assert decision.keep == (running.id,)
    assert decision.delete == (abandoned.id,)


def test_zero_policy_keeps_the_newest_min_verified_complete_backups() -> None:
    backups = [_backup(h) for h in (1, 30, 500, 900)] + [_backup(0.5, complete=False)]
    decision = decide_retention(backups, RetentionPolicy(0, 0, 0, 0), NOW)  # min_verified=3

    assert RetentionPolicy().min_verified == 3
    assert decision.keep == (backups[0].id, backups[1].id, backups[2].id, backups[4].id)
    assert decision.reasons[backups[1].id] == ("minimum",)
    assert decision.delete == (backups[3].id,)


def test_the_backup_just_made_is_kept_whatever_the_policy() -> None:
    # A clock set back makes the new backup look older than the others; it is still kept.
    just_made, newer = _backup(48), [_backup(1), _backup(2)]
    policy = RetentionPolicy(0, 0, 0, 0, min_verified=1)
    decision = decide_retention([*newer, just_made], policy, NOW, protect=[just_made.id])

    assert just_made.id in decision.keep and decision.reasons[just_made.id] == ("just made",)
    assert decision.delete == (newer[1].id,)


def test_future_dated_backups_take_no_slot_and_are_not_deleted() -> None:
    """The attack: 24 'complete' backups dated in the future filled every hourly slot and the
    newest-backup slot, so the real ones were deleted."""
    forged = [_backup(-h) for h in range(1, 25)]
    real = [_backup(1), _backup(30)]
    decision = decide_retention([*forged, *real], RetentionPolicy(), NOW)

    assert decision.delete == ()
    assert decision.reasons[real[0].id][0] == "latest"
    assert all(decision.reasons[b.id] == ("future: ignored",) for b in forged)
    # Within the clock skew a backup is not 'from the future'.
    almost_now = StoredBackup("x", NOW + CLOCK_SKEW, True)
    assert decide_retention([almost_now], RetentionPolicy(), NOW).reasons["x"][0] == "latest"


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetentionPolicy(hourly=-1)
    with pytest.raises(ValueError, match="at least 1"):
        RetentionPolicy(min_verified=0)


@given(
    ages=st.lists(st.tuples(st.floats(-24 * 30, 24 * 400), st.booleans()), min_size=1, max_size=60),
    counts=st.tuples(*[st.integers(0, 5)] * 4),
    min_verified=st.integers(1, 6),
    protected=st.integers(0, 59),
)
def test_never_deletes_the_newest_complete_backups_the_future_or_the_protected(
    ages: list[tuple[float, bool]],
    counts: tuple[int, int, int, int],
    min_verified: int,
    protected: int,
) -> None:
    backups = [
        StoredBackup(f"b{i}", NOW - timedelta(hours=age), complete)
        for i, (age, complete) in enumerate(ages)
    ]
    protect = [f"b{protected}"]
    decision = decide_retention(backups, RetentionPolicy(*counts, min_verified), NOW, protect)

    future = {b.id for b in backups if b.created_at > NOW + CLOCK_SKEW}
    complete = sorted(
        (b for b in backups if b.complete and b.id not in future),
        key=lambda b: b.created_at,
        reverse=True,
    )
    assert set(decision.keep).isdisjoint(decision.delete)
    assert set(decision.keep) | set(decision.delete) == {b.id for b in backups}
    assert future <= set(decision.keep)
    assert {b.id for b in complete[:min_verified]} <= set(decision.keep)
    assert sum(b.id in decision.keep for b in complete) >= min(min_verified, len(complete))
    assert not set(protect) & set(decision.delete)
