"""One "host" of the artifact-store tests, run as its own process with its own BULLPEN_HOME:

    python -m tests.integration.artifact_host train     # fit, register, promote; print JSON
    python -m tests.integration.artifact_host predict   # load the champion; print JSON

Both read everything from BULLPEN_* settings, as a worker on another machine would: the shared
database, the MLflow tracking database and the artifact root (BULLPEN_ARTIFACT_ROOT).
"""

from __future__ import annotations

import json
import sys

from bullpen import runtime
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.features.dataset import load_feature_frame
from bullpen.models import assess, mlflow_store, train
from bullpen.models.predict import predict_with_alias
from bullpen.registry import champion

EVAL_SEASON = 2018
EXPERIMENT = "artifact-store-tests"


def main(command: str) -> dict[str, object]:
    settings = get_settings()
    url, uri = runtime.database_url(settings), runtime.mlflow_tracking_uri(settings)
    frame = load_feature_frame(url, "shin")
    games = assess.comparable_games(frame[frame["season"] == EVAL_SEASON], train.MONEYLINE)
    if command == "predict":
        probabilities, version = predict_with_alias(uri, train.MONEYLINE, games)
        return {"version": version, "p": probabilities.tolist()}
    history = frame[frame["season"] < EVAL_SEASON]
    fitted = train.train_model(history, train.MONEYLINE)
    evaluation = assess.evaluate_season(
        games,
        train.MONEYLINE,
        fitted.predict(games),
        assess.base_rate(history, train.MONEYLINE),
        EVAL_SEASON,
    )
    experiment_id = mlflow_store.ensure_experiment(uri, EXPERIMENT, settings.artifact_root)
    with engine.connect(url) as conn:  # receives the promotion's audit row
        registration = champion.register_and_decide(
            conn,
            tracking_uri=uri,
            experiment_id=experiment_id,
            model=fitted,
            evaluation=evaluation,
            eval_games=games,
            fingerprint=train.training_fingerprint(history, train.MONEYLINE, fitted.params),
        )
    location = mlflow_store.client(uri).get_experiment(experiment_id).artifact_location
    return {
        "version": registration.version,
        "promoted": registration.decision.promote,
        "experiment_location": location,
        "p": fitted.predict(games).tolist(),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
