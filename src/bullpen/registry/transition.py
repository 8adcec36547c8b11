"""Move registry aliases and write the audit row as one unit of work, or not at all.

MLflow aliases and the Postgres audit table cannot share a transaction, so the unit is built by
hand: the audit row is inserted in an open Postgres transaction, the aliases move, and only then
does the transaction commit. If anything fails after the first alias moved (including the
commit), every alias is put back as it was and the transaction rolls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import psycopg

from bullpen.models import mlflow_store
from bullpen.registry.audit import AuditEntry, write_audit

log = logging.getLogger(__name__)

CHAMPION = mlflow_store.CHAMPION
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"
ALIASES = (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)

AliasState = dict[str, str | None]


def read_aliases(tracking_uri: str, name: str) -> AliasState:
    """{alias: version or None} for champion, challenger and previous-champion."""
    state: AliasState = {}
    for alias in ALIASES:
        version = mlflow_store.get_alias_version(tracking_uri, name, alias)
        state[alias] = str(version.version) if version is not None else None
    return state


def apply_aliases(tracking_uri: str, name: str, target: AliasState) -> None:
    """Set (version) or delete (None) each alias in `target`."""
    client = mlflow_store.client(tracking_uri)
    for alias, version in target.items():
        if version is None:
            if mlflow_store.get_alias_version(tracking_uri, name, alias) is not None:
                client.delete_registered_model_alias(name, alias)
        else:
            client.set_registered_model_alias(name, alias, version)


def commit_transition(
    conn: psycopg.Connection,
    tracking_uri: str,
    name: str,
    target: AliasState,
    entry: AuditEntry,
    *,
    after_alias_move: Callable[[], None] | None = None,
) -> int:
    """Write `entry` and move the aliases to `target` together; return the audit id.

    `conn` must not be inside a transaction. `after_alias_move` runs between the alias move and
    the commit (a hook for failure-injection tests and for callers that need a last check).

    Raises:
        Whatever failed; the aliases and the audit table are then as they were before the call.
    """
    before = read_aliases(tracking_uri, name)
    moved = False
    try:
        with conn.transaction():
            audit_id = write_audit(conn, entry)
            moved = True
            apply_aliases(tracking_uri, name, target)
            if after_alias_move is not None:
                after_alias_move()
        log.info(
            "%s: %s, aliases %s -> %s (audit #%d)", name, entry.action, before, target, audit_id
        )
        return audit_id
    except BaseException:
        if moved:
            log.warning("%s: restoring aliases %s after a failed transition", name, before)
            apply_aliases(tracking_uri, name, before)
        raise


def promotion_target(before: AliasState, challenger_version: str) -> AliasState:
    """Challenger becomes champion, the old champion is kept as previous-champion."""
    return {
        CHAMPION: challenger_version,
        PREVIOUS_CHAMPION: before[CHAMPION] or before[PREVIOUS_CHAMPION],
        CHALLENGER: None,
    }


def rejection_target(challenger_version: str) -> AliasState:
    """The rejected version keeps `challenger` (for inspection); champion does not move."""
    return {CHALLENGER: challenger_version}


def rollback_target(before: AliasState) -> AliasState:
    """previous-champion becomes champion again; the rolled-back version keeps no alias."""
    if before[PREVIOUS_CHAMPION] is None:
        raise LookupError("no previous-champion to roll back to")
    return {CHAMPION: before[PREVIOUS_CHAMPION], PREVIOUS_CHAMPION: None}


def _stamped(
    entry: AuditEntry,
    action: str,
    before: AliasState,
    champion_after: str | None,
    challenger_version: str | None,
) -> AuditEntry:
    """The audit entry with what the move does, read from the aliases as they were."""
    return replace(
        entry,
        action=action,
        champion_before=before[CHAMPION],
        champion_after=champion_after,
        challenger_version=challenger_version,
    )


def promote(
    conn: psycopg.Connection,
    tracking_uri: str,
    name: str,
    challenger_version: str,
    entry: AuditEntry,
    *,
    after_alias_move: Callable[[], None] | None = None,
) -> int:
    """Make `challenger_version` champion (audit action 'promoted')."""
    before = read_aliases(tracking_uri, name)
    entry = _stamped(entry, "promoted", before, challenger_version, challenger_version)
    return commit_transition(
        conn, tracking_uri, name, promotion_target(before, challenger_version), entry,
        after_alias_move=after_alias_move,
    )  # fmt: skip


def reject(
    conn: psycopg.Connection,
    tracking_uri: str,
    name: str,
    challenger_version: str,
    entry: AuditEntry,
) -> int:
    """Record a rejected challenger (audit action 'rejected'); champion stays where it is."""
    before = read_aliases(tracking_uri, name)
    entry = _stamped(entry, "rejected", before, before[CHAMPION], challenger_version)
    return commit_transition(conn, tracking_uri, name, rejection_target(challenger_version), entry)


def rollback(
    conn: psycopg.Connection,
    tracking_uri: str,
    name: str,
    entry: AuditEntry,
    *,
    after_alias_move: Callable[[], None] | None = None,
) -> int:
    """Point champion back at previous-champion (audit action 'rolled_back').

    Raises:
        LookupError: there is no previous-champion.
    """
    before = read_aliases(tracking_uri, name)
    target = rollback_target(before)
    entry = _stamped(entry, "rolled_back", before, target[CHAMPION], entry.challenger_version)
    return commit_transition(
        conn, tracking_uri, name, target, entry, after_alias_move=after_alias_move
    )
