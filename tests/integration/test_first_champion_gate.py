"""train-models' path hands out no first `champion` to a model that fails its behaviour checks:
`register_and_decide` against the real MLflow registry (on Postgres), with a real LightGBM model
that learned the market backwards, so it fails `market_monotone`. The rejection is audited, and
the version is left as `challenger` (never champion).

The frame below is a hand-built test input (random draws, named as such), not game data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bullpen.db import engine
from bullpen.models import assess, checks, mlflow_store, train
from bullpen.registry import audit, champion, transition


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
    bullpen_env: dict[str, str],
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
    uri = bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]  # MLflow on the real Postgres

    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"]) as conn:
        registration = champion.register_and_decide(
            conn,
            tracking_uri=uri,
            experiment_id=mlflow_store.ensure_experiment(
                uri, "gate", Path(bullpen_env["BULLPEN_HOME"]) / "artifacts"
            ),
            model=fitted,
            evaluation=evaluation,
            eval_games=games,
            fingerprint=train.training_fingerprint(history, spec, fitted.params),
        )
        rows = audit.list_audit(conn, "gate-test")

    assert registration.decision.promote is False
    assert registration.decision.stage == "behaviour"
    assert "market_monotone" in registration.decision.reason
    assert registration.champion_version is None
    assert mlflow_store.get_alias_version(uri, spec.registered_name, "champion") is None
    assert transition.read_aliases(uri, spec.registered_name) == {
        "champion": None, "challenger": registration.version, "previous-champion": None,
    }  # fmt: skip
    assert len(rows) == 1
    row = rows[0]
    assert (row.audit_id, row.action, row.stage, row.trigger) == (
        registration.audit_id, "rejected", "behaviour", "train-models",
    )  # fmt: skip
    assert row.reason.startswith("behaviour checks failed: market_monotone")
    assert (row.champion_before, row.champion_after) == (None, None)
    assert row.challenger_version == registration.version
    assert row.numbers["checks"]["market_monotone"]["passed"] is False
