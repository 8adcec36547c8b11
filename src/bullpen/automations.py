"""Self-healing as code: bullpen's Prefect automations, applied idempotently by name.

Like runtime.py this module is Prefect glue (it builds Prefect's own automation models, so the
installed Prefect validates every field); the library never imports it.

- `bullpen-reschedule-crashed`: a flow run of a deployment that crashed on its first run
  (label `prefect.run-count` = 1) and saw no other state for `reschedule_after` (60 s) is set
  back to Scheduled; a second crash stays Crashed.
- `bullpen-pause-failing-deployment`: a deployment with `failures` Failed/Crashed runs within
  `window` is paused, and the event `bullpen.deployment.paused` is emitted (through a Webhook
  block posting to the Prefect API's own /events endpoint: automations have no "emit" action).
- `bullpen-crash-zombies`: a flow run whose heartbeats stop (the worker's machine died) is
  marked Crashed, which the first automation then reschedules. Needs
  PREFECT_FLOWS_HEARTBEAT_FREQUENCY (seconds, >= 30; formerly
  PREFECT_RUNNER_HEARTBEAT_FREQUENCY) in the workers' environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

RESCHEDULE_CRASHED = "bullpen-reschedule-crashed"
PAUSE_FAILING = "bullpen-pause-failing-deployment"
CRASH_ZOMBIES = "bullpen-crash-zombies"
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
) -> list[Any]:
    """The automations (prefect.automations.Automation), not yet saved."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import CallWebhook, ChangeFlowRunState, PauseDeployment
    from prefect.events.schemas.automations import EventTrigger, Posture

    final = {
        "prefect.flow-run.Completed",
        "prefect.flow-run.Failed",
        "prefect.flow-run.Cancelled",
        "prefect.flow-run.Crashed",
    }
    return [
        Automation(
            name=RESCHEDULE_CRASHED,
            description=(
                "Reschedule a deployment's flow run once when its first run crashed and nothing "
                f"else touched it within {reschedule_after}."
            ),
            # Proactive: fire when no other state follows the crash within `reschedule_after`.
            # Reacting at once loses a race: a process worker reports the crash twice (its
            # runner at once, the worker again after loading the flow's on_crashed hooks, ~20 s
            # on a busy host), and the late report would crash the rescheduled run again.
            trigger=EventTrigger(
                match={"prefect.resource.id": "prefect.flow-run.*", "prefect.run-count": "1"},
                match_related={"prefect.resource.role": "deployment"},
                after={"prefect.flow-run.Crashed"},
                expect={f"prefect.flow-run.{state}" for state in _STATES_AFTER_A_CRASH},
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=reschedule_after,
            ),
            actions=[
                ChangeFlowRunState(
                    state=StateType.SCHEDULED,
                    name="Rescheduled",
                    message="bullpen: rescheduled once after a crash",
                )
            ],
        ),
        Automation(
            name=PAUSE_FAILING,
            description=(
                f"Pause a deployment after {failures} failed or crashed runs within {window}, "
                f"and emit {PAUSED_EVENT}."
            ),
            trigger=EventTrigger(
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "deployment"},
                expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                for_each={"related:deployment:prefect.resource.id"},
                posture=Posture.Reactive,
                threshold=failures,
                within=window,
            ),
            actions=[
                PauseDeployment(source="inferred"),
                CallWebhook(block_document_id=webhook_block_id, payload=_PAUSED_EVENT_TEMPLATE),
            ],
        ),
        Automation(
            name=CRASH_ZOMBIES,
            description="Mark a flow run Crashed when its heartbeats stop (dead worker machine).",
            trigger=EventTrigger(
                match={"prefect.resource.id": "prefect.flow-run.*"},
                after={"prefect.flow-run.heartbeat"},
                expect={"prefect.flow-run.heartbeat", *final},
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=heartbeat_grace,
            ),
            actions=[
                ChangeFlowRunState(
                    state=StateType.CRASHED,
                    message=f"bullpen: no heartbeat for {heartbeat_grace}",
                )
            ],
        ),
    ]


def save_events_webhook(api_url: str) -> Any:
    """The Webhook block that posts events to this Prefect API; returns its document id."""
    from prefect.blocks.webhook import Webhook

    block = Webhook(
        method="POST",
        url=f"{api_url.rstrip('/')}/events",
        headers={"Content-Type": "application/json"},
        allow_private_urls=True,
    )
    return block.save(EVENTS_WEBHOOK_BLOCK, overwrite=True)


def apply(
    api_url: str,
    failures: int = 3,
    window: timedelta = timedelta(hours=24),
    reschedule_after: timedelta = timedelta(seconds=60),
) -> list[str]:
    """Create or update every bullpen automation by name; return what was done per name."""
    from prefect.automations import Automation

    webhook_id = save_events_webhook(api_url)
    done = []
    for wanted in automations(webhook_id, failures, window, reschedule_after=reschedule_after):
        try:
            existing = Automation.read(name=wanted.name)
        except ValueError:
            existing = None
        if existing is None:
            wanted.create()
            done.append(f"{wanted.name}: created")
        else:
            wanted.id = existing.id
            wanted.update()
            done.append(f"{wanted.name}: updated")
    return done
