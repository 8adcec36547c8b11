"""Prefect in this process (the adapter the CLI, flows and tests share): local defaults, loading
a flow from flows/, the temporary server, the task retry condition, applying the automations."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from bullpen.config import Settings, get_settings
from bullpen.runtime import repo_root


def prefect_defaults(settings: Settings | None = None) -> None:
    """Local Prefect settings, unless the operator set them: state under home, no analytics,
    a start timeout that fits a 2-core machine, and bullpen's logs in the Prefect UI."""
    settings = settings or get_settings()
    defaults = {
        "PREFECT_HOME": str(settings.home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
        "PREFECT_UI_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect does not create its home's parents; a fresh BULLPEN_HOME must still work.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)


def load_flow(entrypoint: str) -> object:
    """A flow from flows/ by `file.py:function` (Prefect loads entrypoints by path)."""
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(str(repo_root() / "flows" / entrypoint))


def start_ephemeral_prefect() -> None:
    """Start the temporary Prefect server the first flow would start (none if an API is set)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        SubprocessASGIServer().start()


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: lost connections and timeouts, not bad data or bugs."""
    import psycopg

    return isinstance(exc, (psycopg.OperationalError, TimeoutError, ConnectionError))


def retry_transient(task: object, task_run: object, state: object) -> bool:
    """Prefect `retry_condition_fn`: retry only when the task failed with a transient error."""
    try:
        state.result()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - classifying the failure is the point
        return is_transient(exc)
    return False


def apply_automations(
    api_url: str,
    failures: int = 3,
    window: timedelta = timedelta(hours=24),
    reschedule_after: timedelta = timedelta(seconds=60),
    heartbeat_grace: timedelta = timedelta(seconds=90),
) -> list[str]:
    """Create or update every bullpen automation by name; return what was done per name."""
    from prefect.automations import Automation
    from prefect.blocks.webhook import Webhook

    from bullpen.ops import automations

    webhook = Webhook(**automations.events_webhook(api_url))
    webhook_id = webhook.save(automations.EVENTS_WEBHOOK_BLOCK, overwrite=True)
    documents = automations.automations(
        webhook_id,
        failures,
        window,
        heartbeat_grace=heartbeat_grace,
        reschedule_after=reschedule_after,
    )
    done = []
    for wanted in map(Automation.model_validate, documents):
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
