"""Every model bullpen trains, by the name the flows' `model` parameter takes, and what differs
for the closing-line model (its rows need both vig-free prices; no study tunes it)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bullpen.models import closing_line, train
from bullpen.models.train import ModelSpec

MODELS: dict[str, ModelSpec] = {**train.SPECS, closing_line.NAME: closing_line.CLOSING_LINE}


def spec_named(name: str) -> ModelSpec:
    """The spec of model `name`.

    Raises:
        ValueError: no such model (the message lists the known ones).
    """
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: one of {', '.join(MODELS)}") from None


def training_rows(spec: ModelSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows `spec` may learn from or be judged on: the closing-line model needs the open
    (its base margin) beside the label; the others take every row (unlabelled ones are dropped
    by training)."""
    return closing_line.usable_games(frame) if spec.name == closing_line.NAME else frame


def fixed_params(spec: ModelSpec) -> dict[str, Any] | None:
    """The parameters of a model no study tunes; None for the models studies tune."""
    return dict(closing_line.PARAMS) if spec.name == closing_line.NAME else None
