"""Event names and payloads bullpen emits; flows send them, automations match on them.

The resource id is the contract with `prefect.yaml` triggers and the automations in
`bullpen.ops.automations`, so it is built in one place.
"""

from __future__ import annotations

from typing import Any

MODEL_PROMOTED = "bullpen.model.promoted"
MODEL_ROLLED_BACK = "bullpen.model.rolled_back"
DRIFT_DETECTED = "bullpen.drift.detected"


def model_resource(model: str) -> dict[str, str]:
    return {"prefect.resource.id": f"bullpen.model.{model}", "prefect.resource.name": model}


def model_event(event: str, model: str, **payload: Any) -> dict[str, Any]:
    """Keyword arguments for `prefect.events.emit_event` about one model."""
    return {"event": event, "resource": model_resource(model), "payload": payload}
