"""After a promotion, judge the new champion on the games settled since, against
previous-champion on the same games; roll back automatically when it is significantly worse."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.events import emit_event
from shared_tasks import build_features, prepare_database

from bullpen import runtime
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.events import MODEL_ROLLED_BACK, model_event
from bullpen.models.catalog import spec_named
from bullpen.registry import monitor


@task(cache_policy=NONE, task_run_name="judge-champion-{model}")
def judge_champion(
    frame: pd.DataFrame, model: str, min_games: int, confidence: float, n_boot: int, *,
    database_url: str, tracking_uri: str,
) -> monitor.MonitorResult:  # fmt: skip
    with engine.connect(database_url) as conn:
        return monitor.judge_champion(
            conn, tracking_uri, spec_named(model), frame,
            min_games=min_games, confidence=confidence, n_boot=n_boot,
        )  # fmt: skip


@task(cache_policy=NONE, task_run_name="rollback-{model}")
def rollback(
    model: str, result: monitor.MonitorResult, frame: pd.DataFrame, *,
    database_url: str, tracking_uri: str,
) -> int:  # fmt: skip
    with engine.connect(database_url) as conn:
        return monitor.rollback_champion(
            conn, tracking_uri, spec_named(model), stage="monitor",
            trigger="monitor-champion", reason=result.decision.reason, interval=result.interval,
            numbers={"n_settled": result.n_settled, "source": result.source},
            data_through=max(frame["game_date"]),
        )  # fmt: skip


@flow(name="monitor-champion", log_prints=True)
def monitor_champion(
    model: str = "moneyline", min_games: int = 100, confidence: float = 0.95, n_boot: int = 2000
) -> dict:
    """Returns `MonitorResult.as_dict()`: the comparison and whether it was rolled back."""
    settings = get_settings()
    database_url = runtime.database_url(settings)
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    prepare_database(database_url)
    frame = build_features(database_url, settings.devig_method)
    result = judge_champion(
        frame, model, min_games, confidence, n_boot,
        database_url=database_url, tracking_uri=tracking_uri,
    )  # fmt: skip
    if result.decision.rollback:
        audit_id = rollback(
            model, result, frame, database_url=database_url, tracking_uri=tracking_uri
        )
        result = replace(result, audit_id=audit_id)
        emit_event(
            **model_event(
                MODEL_ROLLED_BACK,
                model,
                from_version=result.champion,
                to_version=result.previous,
                reason=result.decision.reason,
            )
        )
    action = "rolled back" if result.audit_id is not None else "kept"
    line = f"champion v{result.champion} {action}: {result.decision.reason}"
    create_markdown_artifact(
        f"**{model}** {line}\n\nJudged on: {result.source_note}", key=f"monitor-{model}"
    )
    print(f"{model}: {line} [{result.source_note}]")
    return result.as_dict()


if __name__ == "__main__":
    monitor_champion()
