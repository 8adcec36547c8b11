"""Shared data for the tuning tests: a synthetic feature frame and an in-memory Optuna study."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

from bullpen.models import train

SEASONS = [2014, 2015, 2016, 2017, 2018]


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="session")
def eval_season() -> int:
    """The last season of `frame`: studies and CV must never read it."""
    return SEASONS[-1]


@pytest.fixture(scope="session")
def reckless() -> dict[str, Any]:
    """An aggressive corner of the search space: deep, fast, unregularised trees that chase
    noise."""
    return {
        "learning_rate": 0.2,
        "num_leaves": 64,
        "min_data_in_leaf": 50,
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "lambda_l1": 1e-3,
        "lambda_l2": 1e-3,
        "max_bin": 255,
        "extra_trees": False,
    }


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Games whose outcomes follow the market price exactly: the features carry no signal."""
    rng = np.random.default_rng(3)
    n = 700
    parts = []
    for season in SEASONS:
        part = pd.DataFrame(
            rng.normal(size=(n, len(train.MONEYLINE_FEATURES))),
            columns=list(train.MONEYLINE_FEATURES),
        )
        part["mkt_open_home_prob"] = rng.uniform(0.3, 0.75, n)
        part["elo_prob"] = rng.uniform(0.4, 0.6, n)
        part["home_win"] = (rng.uniform(size=n) < part["mkt_open_home_prob"]).astype(float)
        part["season"] = season
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def memory_study() -> Callable[..., optuna.Study]:
    """A factory of in-memory studies (seeded TPE; no pruning unless a pruner is given)."""

    def make(pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
        return optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=0),
            pruner=pruner or optuna.pruners.NopPruner(),
        )

    return make
