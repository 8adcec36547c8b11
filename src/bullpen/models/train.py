"""Train LightGBM binary models (home win, over the closing total) on earlier seasons only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from bullpen.features.build import MONEYLINE_FEATURES, TOTALS_FEATURES


@dataclass(frozen=True)
class ModelSpec:
    """What a model predicts and from which columns."""

    name: str  # "moneyline" | "totals"
    target: str
    features: tuple[str, ...]
    # +1: the prediction may only rise with this feature (known direction).
    monotone: dict[str, int] = field(default_factory=dict)
    # A probability column whose logit is the starting score: the trees learn only a correction
    # to it (e.g. the market's vig-free price), and early stopping decides how much is real.
    base_margin: str | None = None
    # "binary" for 0/1 outcomes; "cross_entropy" for a probability target in [0, 1] (e.g. the
    # vig-free closing price), which LightGBM fits by the same log loss with soft labels.
    objective: str = "binary"

    @property
    def registered_name(self) -> str:
        return f"bullpen-{self.name}"


MONEYLINE = ModelSpec(
    "moneyline",
    "home_win",
    MONEYLINE_FEATURES,
    {"mkt_open_home_prob": 1, "elo_prob": 1},
    base_margin="mkt_open_home_prob",
)
TOTALS = ModelSpec("totals", "over_close", TOTALS_FEATURES, {"mkt_open_over_prob": 1})
SPECS = {spec.name: spec for spec in (MONEYLINE, TOTALS)}

# Small trees, strong regularisation: ~25k rows of noisy outcomes where the market feature
# already carries most of the signal.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.02,
    "num_leaves": 8,
    "min_data_in_leaf": 200,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "max_bin": 63,
    "num_boost_round": 2000,
    "early_stopping_rounds": 100,
}


@dataclass
class TrainedModel:
    spec: ModelSpec
    booster: lgb.Booster
    params: dict[str, Any]
    num_rounds: int
    train_seasons: list[int]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return predict_booster(self.booster, frame, self.spec.base_margin)


def base_margin_logit(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    """Logit of `column` (0.0, i.e. even odds, where it is missing); zeros without a column."""
    if column is None:
        return np.zeros(len(frame))
    p = np.clip(frame[column].to_numpy(float), 1e-6, 1 - 1e-6)
    return np.nan_to_num(np.log(p / (1 - p)), nan=0.0)


def predict_booster(
    booster: lgb.Booster, frame: pd.DataFrame, base_margin: str | None = None
) -> np.ndarray:
    """Probabilities from a booster, using the feature order stored in the booster itself."""
    features = booster.feature_name()
    raw = np.asarray(booster.predict(frame[features].to_numpy(float), raw_score=True), dtype=float)
    return 1.0 / (1.0 + np.exp(-(raw + base_margin_logit(frame, base_margin))))


def _lgb_params(spec: ModelSpec, params: dict[str, Any], seed: int) -> dict[str, Any]:
    core = {
        k: v for k, v in params.items() if k not in ("num_boost_round", "early_stopping_rounds")
    }
    core.update(
        metric="binary_logloss" if spec.objective == "binary" else "cross_entropy",
        verbosity=-1,
        seed=seed,
        deterministic=True,
        force_row_wise=True,
        num_threads=2,
        monotone_constraints=[spec.monotone.get(f, 0) for f in spec.features],
    )
    return core


def _dataset(frame: pd.DataFrame, spec: ModelSpec, params: dict[str, Any]) -> lgb.Dataset:
    return lgb.Dataset(
        frame[list(spec.features)].to_numpy(float),
        label=frame[spec.target].to_numpy(float),
        # No init_score without a base margin: zeros would switch off boost_from_average.
        init_score=base_margin_logit(frame, spec.base_margin) if spec.base_margin else None,
        feature_name=list(spec.features),
        params={"max_bin": params.get("max_bin", 255), "verbosity": -1},
        free_raw_data=False,
    )


def labelled(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    return frame[frame[spec.target].notna()]


def train_model(
    frame: pd.DataFrame, spec: ModelSpec, params: dict[str, Any] | None = None, seed: int = 7
) -> TrainedModel:
    """Fit on every labelled row of `frame`.

    The number of boosting rounds is chosen by early stopping with the last season in `frame`
    held out, then the model is refit on all seasons with that many rounds, so the caller's
    evaluation season is never used for any choice.
    """
    params = {**DEFAULT_PARAMS, "objective": spec.objective, **(params or {})}
    data = labelled(frame, spec)
    seasons = sorted(int(s) for s in data["season"].unique())
    lgb_params = _lgb_params(spec, params, seed)
    num_rounds = int(params["num_boost_round"])
    if len(seasons) > 1:
        inner_train = data[data["season"] < seasons[-1]]
        inner_valid = data[data["season"] == seasons[-1]]
        probe = lgb.train(
            lgb_params,
            _dataset(inner_train, spec, params),
            num_boost_round=num_rounds,
            valid_sets=[_dataset(inner_valid, spec, params)],
            callbacks=[lgb.early_stopping(int(params["early_stopping_rounds"]), verbose=False)],
        )
        num_rounds = max(1, int(probe.best_iteration))
    booster = lgb.train(lgb_params, _dataset(data, spec, params), num_boost_round=num_rounds)
    return TrainedModel(spec, booster, params, num_rounds, seasons)


def training_fingerprint(frame: pd.DataFrame, spec: ModelSpec, params: dict[str, Any]) -> str:
    """Hash of the training rows and settings: equal fingerprints mean an identical model."""
    data = labelled(frame, spec)
    digest = hashlib.sha256()
    settings = {"spec": spec.name, "features": spec.features, "base_margin": spec.base_margin}
    digest.update(json.dumps({**settings, "params": params}, sort_keys=True, default=str).encode())
    digest.update(
        pd.util.hash_pandas_object(data[[*spec.features, spec.target]], index=False)
        .to_numpy()
        .tobytes()
    )
    return digest.hexdigest()[:16]
