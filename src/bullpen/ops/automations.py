"""Self-healing as code: bullpen's Prefect automations, applied idempotently by name.

The automations are plain documents in the shape of Prefect's automation API (what
`prefect automation create --from-json` takes); `prefect_process.apply_automations` validates
them against the installed Prefect and saves them, so this module stays free of Prefect.

- `bullpen-reschedule-crashed`: a flow run of a deployment that crashed on its first run
  (label `prefect.run-count` = 1), or before its flow started at all (run count 0: the worker
  could not start the process, the pull step failed), and saw no other state for
  `reschedule_after` (60 s) is set back to Scheduled; a second crash after a start stays
  Crashed. A run that crashes before it starts keeps run count 0, so the count cannot stop a
  loop there (and a paused deployment's scheduled runs are still handed to workers):
- `bullpen-stop-early-crash-loop`: a flow run's second crash at run count 0 within an hour sets
  it Cancelled at once, which the reschedule trigger counts as "touched", so it is rescheduled
  once only.
- `bullpen-pause-failing-deployment`: a deployment with `failures` Failed/Crashed runs within
  `window` is paused, and the event `bullpen.deployment.paused` is emitted (through a Webhook
  block posting to the Prefect API's own /events endpoint: automations have no "emit" action).
- `bullpen-crash-zombies`: a flow run whose heartbeats stop (the worker's machine died) is
  marked Crashed, which the first automation then reschedules. A run already in a terminal
  state is left alone: a last heartbeat can reach the server after the run's Completed event,
  and the action proposes Crashed without `force`, which Prefect's orchestration
  (HandleFlowTerminalStateTransitions) refuses for a terminal run. Needs
  PREFECT_FLOWS_HEARTBEAT_FREQUENCY (seconds, >= 30; formerly
  PREFECT_RUNNER_HEARTBEAT_FREQUENCY) in the workers' environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

RESCHEDULE_CRASHED = "bullpen-reschedule-crashed"
PAUSE_FAILING = "bullpen-pause-failing-deployment"
CRASH_ZOMBIES = "bullpen-crash-zombies"
STOP_EARLY_CRASH_LOOP = "bullpen-stop-early-crash-loop"
EVENTS_WEBHOOK_BLOCK = "bullpen-events"
PAUSED_EVENT = "bullpen.deployment.paused"

# Any of these after a Crashed state means someone (or something) already acted on the run.
_STATES_AFTER_A_CRASH = (
    "Scheduled",
    "Rescheduled",
    "AwaitingRetry",
    "Late",
    "Pending",
    "Running",
    "Retrying",
    "Completed",
    "Failed",
    "Cancelling",
    "Cancelled",
    "Paused",
    "Suspended",
)

# The posted body: a list with one event. Its id must be a fresh UUID: the triggering event's
# id with its hex digits reversed (unique per trigger firing, and valid as a 32-digit UUID).
_PAUSED_EVENT_TEMPLATE = (
    "[{\"id\": \"{{ (event.id | string).replace('-', '')[::-1] }}\", "
    '"occurred": "{{ event.occurred }}", '
    f'"event": "{PAUSED_EVENT}", '
    '"resource": {"prefect.resource.id": "prefect.deployment.{{ deployment.id }}", '
    '"prefect.resource.name": "{{ deployment.name }}"}, '
    '"related": [{"prefect.resource.id": "prefect.flow-run.{{ flow_run.id }}", '
    '"prefect.resource.role": "flow-run"}], '
    '"payload": {"reason": "{{ automation.name }}: too many failed runs", '
    '"last_failed_flow_run": "{{ flow_run.name }}"}}]'
)


def automations(
    webhook_block_id: Any,
    failures: int = 3,
    window: timedelta = timedelta(hours=24),
    heartbeat_grace: timedelta = timedelta(seconds=90),
    reschedule_after: timedelta = timedelta(seconds=60),
) -> list[dict[str, Any]]:
    """The automation documents (fields of prefect.automations.Automation), not yet saved."""
    final = [
        "prefect.flow-run.Completed",
        "prefect.flow-run.Failed",
        "prefect.flow-run.Cancelled",
        "prefect.flow-run.Crashed",
    ]
    return [
        {
            "name": RESCHEDULE_CRASHED,
            "description": (
                "Reschedule a deployment's flow run once when its first run crashed and nothing "
                f"else touched it within {reschedule_after}."
            ),
            # Proactive: fire when no other state follows the crash within `reschedule_after`.
            # Reacting at once loses a race: a process worker reports the crash twice (its
            # runner at once, the worker again after loading the flow's on_crashed hooks, ~20 s
            # on a busy host), and the late report would crash the rescheduled run again.
            "trigger": {
                "type": "event",
                "match": {
                    "prefect.resource.id": "prefect.flow-run.*",
                    # 0: crashed before the flow started (no Running state ever counted).
                    "prefect.run-count": ["0", "1"],
                },
                "match_related": {"prefect.resource.role": "deployment"},
                "after": ["prefect.flow-run.Crashed"],
                "expect": [f"prefect.flow-run.{state}" for state in _STATES_AFTER_A_CRASH],
                "for_each": ["prefect.resource.id"],
                "posture": "Proactive",
                "threshold": 1,
                "within": reschedule_after.total_seconds(),
            },
            "actions": [
                {
                    "type": "change-flow-run-state",
                    "state": "SCHEDULED",
                    "name": "Rescheduled",
                    "message": "bullpen: rescheduled once after a crash",
                }
            ],
        },
        {
            "name": STOP_EARLY_CRASH_LOOP,
            "description": (
                "Cancel a flow run that crashed twice before its flow started, so it is "
                "rescheduled once only."
            ),
            "trigger": {
                "type": "event",
                "match": {"prefect.resource.id": "prefect.flow-run.*", "prefect.run-count": "0"},
                "match_related": {"prefect.resource.role": "deployment"},
                "expect": ["prefect.flow-run.Crashed"],
                "for_each": ["prefect.resource.id"],
                "posture": "Reactive",
                "threshold": 2,
                "within": 3600,
            },
            "actions": [
                {
                    "type": "change-flow-run-state",
                    "state": "CANCELLED",
                    "message": "bullpen: crashed twice before its flow started; not rescheduled",
                }
            ],
        },
        {
            "name": PAUSE_FAILING,
            "description": (
                f"Pause a deployment after {failures} failed or crashed runs within {window}, "
                f"and emit {PAUSED_EVENT}."
            ),
            "trigger": {
                "type": "event",
                "match": {"prefect.resource.id": "prefect.flow-run.*"},
                "match_related": {"prefect.resource.role": "deployment"},
                "expect": ["prefect.flow-run.Failed", "prefect.flow-run.Crashed"],
                "for_each": ["related:deployment:prefect.resource.id"],
                "posture": "Reactive",
                "threshold": failures,
                "within": window.total_seconds(),
            },
            "actions": [
                {"type": "pause-deployment", "source": "inferred"},
                {
                    "type": "call-webhook",
                    "block_document_id": str(webhook_block_id),
                    "payload": _PAUSED_EVENT_TEMPLATE,
                },
            ],
        },
        {
            "name": CRASH_ZOMBIES,
            "description": (
                "Mark a flow run Crashed when its heartbeats stop (dead worker machine)."
            ),
            "trigger": {
                "type": "event",
                "match": {"prefect.resource.id": "prefect.flow-run.*"},
                "after": ["prefect.flow-run.heartbeat"],
                "expect": ["prefect.flow-run.heartbeat", *final],
                "for_each": ["prefect.resource.id"],
                "posture": "Proactive",
                "threshold": 1,
                "within": heartbeat_grace.total_seconds(),
            },
            "actions": [
                {
                    "type": "change-flow-run-state",
                    "state": "CRASHED",
                    "message": f"bullpen: no heartbeat for {heartbeat_grace}",
                    "force": False,  # never over a terminal state (see the module docstring)
                }
            ],
        },
    ]


def events_webhook(api_url: str) -> dict[str, Any]:
    """Fields of the Webhook block that posts events to this Prefect API."""
    return {
        "method": "POST",
        "url": f"{api_url.rstrip('/')}/events",
        "headers": {"Content-Type": "application/json"},
        "allow_private_urls": True,
    }
