"""Score games with a registered model version (by alias)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bullpen.models import mlflow_store
from bullpen.models.train import ModelSpec, predict_booster


def predict_with_alias(
    tracking_uri: str, spec: ModelSpec, games: pd.DataFrame, alias: str = mlflow_store.CHAMPION
) -> tuple[np.ndarray, str]:
    """(probabilities, version) of `spec`'s model under `alias`; LookupError if there is none."""
    version = mlflow_store.get_alias_version(tracking_uri, spec.registered_name, alias)
    if version is None:
        raise LookupError(
            f"{spec.registered_name} has no '{alias}' version: run train-models first"
        )
    booster = mlflow_store.load_booster(tracking_uri, f"models:/{spec.registered_name}@{alias}")
    p = predict_booster(booster, games, mlflow_store.base_margin_of(version))
    return p, str(version.version)
