"""MLflow tracking and registry: log a training run, register a version, read aliases (they
move only through registry/transition.py, with an audit row)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from bullpen.config import S3_SCHEME

if TYPE_CHECKING:
    import lightgbm as lgb
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

CHAMPION = "champion"
FINGERPRINT_TAG = "bullpen.training_fingerprint"
# The model's output is a correction to the logit of this column (see ModelSpec.base_margin).
BASE_MARGIN_TAG = "bullpen.base_margin"
# Pinned so MLflow does not spend seconds inferring requirements on every log_model.
PIP_REQUIREMENTS = ["lightgbm==4.7.0", "numpy", "pandas"]


def client(tracking_uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


class ArtifactStoreError(RuntimeError):
    """A model's files are somewhere this host cannot read (another machine's folder)."""


def _root_uri(artifact_root: str | Path) -> str:
    if isinstance(artifact_root, Path):
        return artifact_root.resolve().as_uri()
    return artifact_root.rstrip("/")


def _local_path(uri: str) -> Path | None:
    """The folder of a file:// URI (or a bare absolute path); None for any other scheme."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(uri) if not parsed.scheme and uri.startswith("/") else None


def ensure_experiment(tracking_uri: str, name: str, artifact_root: str | Path) -> str:
    """Experiment id for `name`, created with artifacts under `artifact_root` (a Path, a file://
    URI or s3://bucket/prefix; not ./mlruns).

    An experiment's artifact location is fixed when it is created. When the root is S3 and
    `name` exists with a local (file://) location, that experiment is renamed
    `<name>.local-<id>` (its runs, versions and files stay where they are, readable on the host
    that wrote them) and `name` is created again in S3, so new runs land where every host can
    read them. Anything else that exists is used as it is.
    """
    from mlflow.exceptions import MlflowException

    root = _root_uri(artifact_root)
    mlflow_client = client(tracking_uri)
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        if not (root.startswith(S3_SCHEME) and _local_path(existing.artifact_location)):
            return str(existing.experiment_id)
        retired = f"{name}.local-{existing.experiment_id}"
        log.warning(
            "experiment %s keeps artifacts in %s, a folder of one host: renamed %s; new runs "
            "go to %s (models registered before stay loadable only on that host)",
            name,
            existing.artifact_location,
            retired,
            root,
        )
        with contextlib.suppress(MlflowException):  # another worker renamed it first
            mlflow_client.rename_experiment(existing.experiment_id, retired)
    local = _local_path(root)
    if local is not None:
        local.mkdir(parents=True, exist_ok=True)
    try:
        return str(mlflow_client.create_experiment(name, artifact_location=root))
    except MlflowException as exc:  # created meanwhile by another worker
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
        again = mlflow_client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


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


REPORTS_EXPERIMENT = "bullpen-reports"


def log_report(
    tracking_uri: str,
    artifact_root: str | Path,
    path: Path,
    run_name: str,
    tags: dict[str, str] | None = None,
) -> str:
    """Store a report file in the artifact store, as a run of experiment `bullpen-reports`, and
    return its URI (s3://... with a shared store): readable from every host and the MLflow UI,
    not only on the worker that wrote it."""
    mlflow_client = client(tracking_uri)
    experiment_id = ensure_experiment(tracking_uri, REPORTS_EXPERIMENT, artifact_root)
    run = mlflow_client.create_run(experiment_id, run_name=run_name, tags=tags or {})
    try:
        mlflow_client.log_artifact(run.info.run_id, str(path))
    except BaseException:
        mlflow_client.set_terminated(run.info.run_id, status="FAILED")
        raise
    mlflow_client.set_terminated(run.info.run_id)
    return f"{run.info.artifact_uri}/{path.name}"


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
    """The LightGBM model at `model_uri` (models:/name@alias, models:/name/version, runs:/...).

    Raises:
        ArtifactStoreError: its files are in a local folder this host does not have (a model
            logged with a file:// artifact root on another machine), instead of MLflow's bare
            "No such file or directory".
    """
    import mlflow
    import mlflow.lightgbm

    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.lightgbm.load_model(model_uri)
    except Exception as exc:
        location = _model_location(tracking_uri, model_uri)
        local = _local_path(location) if location else None
        if local is None or local.exists():
            raise
        raise ArtifactStoreError(
            f"{model_uri} is stored at {location}, a folder of the host that logged it, which "
            "this host cannot read: log models to a shared store (BULLPEN_ARTIFACT_ROOT="
            "s3://bucket/prefix on every host, docs/multihost.md) and register them again"
        ) from exc


def _model_location(tracking_uri: str, model_uri: str) -> str | None:
    """Where a registered version's files are (None when `model_uri` names no version)."""
    from mlflow.exceptions import MlflowException

    if not model_uri.startswith("models:/"):
        return None
    name, _, ref = model_uri[len("models:/") :].partition("@")
    mlflow_client = client(tracking_uri)
    try:
        if ref:
            version = mlflow_client.get_model_version_by_alias(name, ref)
        else:
            name, _, number = name.rpartition("/")
            version = mlflow_client.get_model_version(name, number)
        return str(mlflow_client.get_model_version_download_uri(version.name, version.version))
    except MlflowException:
        return None


def base_margin_of(version: ModelVersion) -> str | None:
    """The base-margin column a registered version must be scored with (None: plain model)."""
    return (version.tags or {}).get(BASE_MARGIN_TAG) or None


def set_version_tags(tracking_uri: str, name: str, version: str, tags: dict[str, str]) -> None:
    mlflow_client = client(tracking_uri)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, value)
