"""The first model (no champion yet) must pass the behaviour checks like any challenger.

Both places that can hand out the first `champion` alias are covered: `decide_promotion`
(retrain-models) and `register_and_decide` (train-models, which the demo runs first). The last
test runs `register_and_decide` against a real MLflow registry (SQLite file in tmp_path) with a
real LightGBM model that learned the market backwards, so it fails `market_monotone`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bullpen.models import assess, checks, train
from bullpen.registry import champion, mlflow_store
from bullpen.registry.promotion import decide_champion, decide_promotion

FAILED = ["market_monotone: 12 of 300 games get a lower probability for a bigger favourite"]


def test_first_model_with_failed_checks_is_not_promoted_by_decide_promotion() -> None:
    decision = decide_promotion(None, FAILED)
    assert decision.promote is False
    assert decision.stage == "behaviour"
    assert decision.reason.startswith("behaviour checks failed: market_monotone")


def test_first_model_with_failed_checks_is_not_promoted_even_when_forced() -> None:
    decision = decide_promotion(None, FAILED, force=True)
    assert decision.promote is False and decision.forced is False


def test_first_model_that_passes_is_promoted_and_force_is_recorded() -> None:
    assert decide_promotion(None, []).stage == "first"
    assert decide_promotion(None, [], force=True).forced is True


def test_decide_champion_refuses_a_first_model_with_failed_checks() -> None:
    decision = decide_champion(0.60, None, failed_checks=FAILED)
    assert decision.promote is False
    assert decision.reason.startswith("behaviour checks failed")
    assert decide_champion(0.60, None, failed_checks=[]).promote is True


def test_decide_champion_refuses_a_better_model_with_failed_checks() -> None:
    assert decide_champion(0.60, 0.70, failed_checks=FAILED).promote is False


def _backwards_market_frame(seed: int) -> pd.DataFrame:
    """Two seasons where the home side wins *less* often the more the market favours it."""
    rng = np.random.default_rng(seed)
    n = 3000
    market = rng.uniform(0.3, 0.7, n)
    home_win = (rng.uniform(size=n) < 1.0 - market).astype(float)
    close = np.clip(market + rng.normal(0, 0.01, n), 0.05, 0.95)
    return pd.DataFrame(
        {
            "game_id": np.arange(n),
            "season": np.repeat([2017, 2018], n // 2),
            "game_date": pd.Timestamp("2018-04-01").date(),
            "mkt_open_home_prob": market,
            "noise": rng.normal(size=n),
            "home_win": home_win,
            "p_open_home": market,
            "p_close_home": close,
        }
    )


def test_register_and_decide_does_not_crown_a_first_model_that_fails_its_checks(
    tmp_path: Path,
) -> None:
    spec = train.ModelSpec("gate-test", "home_win", ("mkt_open_home_prob", "noise"))
    frame = _backwards_market_frame(0)
    history, games = frame[frame["season"] == 2017], frame[frame["season"] == 2018]
    fitted = train.train_model(
        history, spec, {"num_boost_round": 40, "min_data_in_leaf": 50, "early_stopping_rounds": 10}
    )
    market = "mkt_open_home_prob"
    assert checks.failed(checks.run_behaviour_checks(fitted.predict, games, market))
    evaluation = assess.evaluate_season(games, spec, fitted.predict(games), 0.5, 2018)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    registration = champion.register_and_decide(
        tracking_uri=uri,
        experiment_id=mlflow_store.ensure_experiment(uri, "gate", tmp_path / "artifacts"),
        model=fitted,
        evaluation=evaluation,
        eval_games=games,
        fingerprint=train.training_fingerprint(history, spec, fitted.params),
    )

    assert registration.decision.promote is False
    assert "market_monotone" in registration.decision.reason
    assert registration.champion_version is None
    assert mlflow_store.get_alias_version(uri, spec.registered_name, "champion") is None
