"""MLflow tracking and registry: log a training run, register a version, read aliases (they
move only through registry/transition.py, with an audit row)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightgbm as lgb
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
FINGERPRINT_TAG = "bullpen.training_fingerprint"
# The model's output is a correction to the logit of this column (see ModelSpec.base_margin).
BASE_MARGIN_TAG = "bullpen.base_margin"
# Pinned so MLflow does not spend seconds inferring requirements on every log_model.
PIP_REQUIREMENTS = ["lightgbm==4.7.0", "numpy", "pandas"]


def client(tracking_uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(tracking_uri: str, name: str, artifact_root: Path) -> str:
    """Experiment id for `name`, created with artifacts under `artifact_root` (not ./mlruns)."""
    mlflow_client = client(tracking_uri)
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    artifact_root.mkdir(parents=True, exist_ok=True)
    return mlflow_client.create_experiment(name, artifact_location=artifact_root.resolve().as_uri())


def log_training_run(
    *,
    tracking_uri: str,
    experiment_id: str,
    run_name: str,
    booster: lgb.Booster,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: list[Path],
) -> tuple[str, str]:
    """Log params, metrics, artifacts and the LightGBM model; return (run_id, model_uri)."""
    import mlflow
    import mlflow.lightgbm

    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        for path in artifacts:
            mlflow.log_artifact(str(path))
        info = mlflow.lightgbm.log_model(booster, name="model", pip_requirements=PIP_REQUIREMENTS)
    return run.info.run_id, info.model_uri


def find_version_by_fingerprint(
    tracking_uri: str, name: str, fingerprint: str
) -> ModelVersion | None:
    """An existing version trained on the same rows with the same settings, if any."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client(tracking_uri).search_model_versions(
            f"name = '{name}' and tags.`{FINGERPRINT_TAG}` = '{fingerprint}'"
        )
    except MlflowException:
        return None
    return min(versions, key=lambda v: int(v.version)) if versions else None


def register_version(
    tracking_uri: str, name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    mlflow_client = client(tracking_uri)
    try:
        mlflow_client.create_registered_model(name)
    except MlflowException as exc:  # already registered: the normal case after the first run
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
    return mlflow_client.create_model_version(name, model_uri, run_id=run_id, tags=tags)


def get_alias_version(tracking_uri: str, name: str, alias: str) -> ModelVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        return client(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_booster(tracking_uri: str, model_uri: str) -> lgb.Booster:
    import mlflow
    import mlflow.lightgbm

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.lightgbm.load_model(model_uri)


def base_margin_of(version: ModelVersion) -> str | None:
    """The base-margin column a registered version must be scored with (None: plain model)."""
    return (version.tags or {}).get(BASE_MARGIN_TAG) or None


def set_version_tags(tracking_uri: str, name: str, version: str, tags: dict[str, str]) -> None:
    mlflow_client = client(tracking_uri)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, value)
