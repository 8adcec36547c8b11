"""optimize-models against real PostgreSQL (Optuna RDB storage), a real MLflow store and Prefect."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import optuna
import pytest

from bullpen.collect.history import replay
from bullpen.db import engine
from bullpen.features.dataset import load_feature_frame
from bullpen.models import mlflow_store, train
from bullpen.models.tuning import search, store
from bullpen.ops import prefect_process
from tests.integration.conftest import stage_seasons

SEASONS = [2012, 2013, 2014, 2015, 2016, 2017]
EVAL_SEASON = 2017  # never looked at by a study
HELD_OUT = 2016  # the flow's study for EVAL_SEASON validates on 2014, 2015 and confirms on 2016
N_FOLDS = 2
States = optuna.trial.TrialState
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


@pytest.fixture(scope="module")
def loaded(bullpen_env: dict[str, str]) -> dict[str, str]:
    data_dir = stage_seasons(Path(bullpen_env["BULLPEN_DATA_DIR"]), SEASONS)
    for files in replay.find_season_files(data_dir):
        replay.replay_season(bullpen_env["BULLPEN_DATABASE_URL"], files)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return bullpen_env


@pytest.fixture(scope="module")
def storage_url(loaded: dict[str, str]) -> str:
    return search.optuna_storage_url(loaded["BULLPEN_DATABASE_URL"])


def _trials(storage_url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    with search.open_study(storage_url, name) as study:
        return study.get_trials(deepcopy=False)


def test_optimize_models_runs_two_workers_and_resumes_the_study(
    loaded: dict[str, str], storage_url: str, prefect_server: None
) -> None:
    flow = prefect_process.load_flow("hyperopt.py:optimize_models")
    params = {"models": ("moneyline",), "workers": 2, "seed": 5, "eval_season": EVAL_SEASON}

    first = flow(n_trials=6, n_folds=N_FOLDS, **params)["moneyline"]  # type: ignore[operator]

    name = first["study"]
    trials = _trials(storage_url, name)
    assert len(trials) == first["trials_this_run"] == 6
    assert sorted(t.number for t in trials) == list(range(6))  # no duplicate numbers
    assert {t.state for t in trials} <= {States.COMPLETE, States.PRUNED}
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}
    assert _workers_overlapped(trials)
    assert trials[0].params == search.default_trial_params()  # the study starts from the defaults
    with search.open_study(storage_url, name) as study:
        assert study.best_trial.number == first["best_trial"]
        assert study.user_attrs["valid_seasons"] == [2014, 2015]
        assert study.user_attrs["eval_season"] == HELD_OUT
    assert first["cv_log_loss"] == min(t.value for t in trials if t.state == States.COMPLETE)
    assert first["confirm_season"] == HELD_OUT
    assert 0.6 < first["confirm_log_loss"] < 0.7 and 0.6 < first["default_confirm_log_loss"] < 0.7
    assert first["beats_defaults"] == (
        first["cv_log_loss"] < first["default_cv_log_loss"]
        and first["confirm_log_loss"] < first["default_confirm_log_loss"]
    )

    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        schemas = conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables"
            " WHERE table_name = 'trials'"
        ).fetchall()
        row = conn.execute(
            "SELECT best_trial, n_complete + n_pruned, mlflow_run_id, confirm_log_loss"
            " FROM tuned_params WHERE study = %s",
            (name,),
        ).fetchone()
    assert schemas == [(search.OPTUNA_SCHEMA,)]  # Optuna's tables stay out of the public schema
    assert row == (first["best_trial"], 6, first["mlflow_run_id"], first["confirm_log_loss"])

    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    run = mlflow_store.client(uri).get_run(first["mlflow_run_id"])
    assert run.data.tags["bullpen.study"] == name
    assert run.data.metrics["cv_log_loss"] == pytest.approx(first["cv_log_loss"])
    assert run.data.metrics["default_cv_log_loss"] > 0.6
    assert run.data.metrics["confirm_log_loss"] == pytest.approx(first["confirm_log_loss"])
    assert run.data.params["learning_rate"] == str(first["params"]["learning_rate"])
    artifacts = {a.path for a in mlflow_store.client(uri).list_artifacts(run.info.run_id)}
    assert {"trials.csv", "optimization_history.png", "param_importances.png"} <= artifacts

    second = flow(n_trials=2, n_folds=N_FOLDS, **params)["moneyline"]  # type: ignore[operator]

    assert second["study"] == name
    resumed = _trials(storage_url, name)
    assert sorted(t.number for t in resumed) == list(range(8))
    assert second["n_complete"] + second["n_pruned"] == 8
    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT count(*) FROM tuned_params WHERE study = %s", (name,))
        assert rows.fetchone() == (1,)  # upserted, not duplicated


def test_hyperopt_run_without_enough_seasons_says_so_and_starts_no_study(
    loaded: dict[str, str], storage_url: str
) -> None:
    from typer.testing import CliRunner

    from bullpen.cli import app

    before = optuna.get_all_study_names(search.make_storage(storage_url))
    ran = CliRunner().invoke(app, ["hyperopt", "run", "--model", "totals", "--eval-season", "2015"])

    assert ran.exit_code == 2, ran.output
    assert "3 folds need 5 seasons before 2014, found 2012, 2013 (and 2014 itself" in ran.stderr
    assert "bullpen collect-history" in ran.stderr
    assert "Traceback" not in ran.output
    assert optuna.get_all_study_names(search.make_storage(storage_url)) == before


def _workers_overlapped(trials: list[optuna.trial.FrozenTrial]) -> bool:
    """Some trial of worker 0 ran while a trial of worker 1 was running."""
    spans: dict[int, list[tuple[datetime, datetime]]] = {0: [], 1: []}
    for t in trials:
        assert t.datetime_start is not None and t.datetime_complete is not None
        spans[t.user_attrs["worker"]].append((t.datetime_start, t.datetime_complete))
    return any(a0 < b1 and b0 < a1 for a0, a1 in spans[0] for b0, b1 in spans[1])


def test_pruning_prunes_reckless_trials_on_postgres(
    loaded: dict[str, str], storage_url: str
) -> None:
    frame = load_feature_frame(loaded["BULLPEN_DATABASE_URL"], "shin")
    ref = search.prepare_study(
        storage_url, frame, train.MONEYLINE, EVAL_SEASON, N_FOLDS, name="pruning-check"
    )
    with search.open_study(storage_url, ref.name) as study:
        for learning_rate in (0.2, 0.15, 0.18):  # deep, fast, unregularised: chasing noise
            study.enqueue_trial(
                {**search.default_trial_params(), "learning_rate": learning_rate, "num_leaves": 64,
                 "min_data_in_leaf": 50, "lambda_l2": 1e-3, "max_bin": 255}
            )  # fmt: skip

    summary = search.run_trials(
        ref, frame, train.MONEYLINE, 4, seed=0, n_startup_trials=1, n_warmup_steps=0
    )

    assert summary.trials == (0, 1, 2, 3)
    trials = _trials(storage_url, ref.name)
    assert trials[0].state == States.COMPLETE  # the defaults
    pruned = [t for t in trials if t.state == States.PRUNED]
    assert len(pruned) >= 2
    assert all(t.last_step < trials[0].last_step for t in pruned)


def test_backtest_without_a_champion_says_so_before_any_flow_run(loaded: dict[str, str]) -> None:
    from typer.testing import CliRunner

    from bullpen.cli import app
    from bullpen.registry.challenger import champion_version

    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    assert champion_version(uri, train.MONEYLINE) is None  # the next test trains the first one

    ran = CliRunner().invoke(app, ["backtest", "--eval-season", str(EVAL_SEASON)])

    assert ran.exit_code == 2, ran.output
    assert "bullpen-moneyline has no champion yet: run `bullpen train`" in ran.stderr
    assert "Traceback" not in ran.output


def test_train_models_uses_tuned_params_only_for_later_seasons(
    loaded: dict[str, str], prefect_server: None
) -> None:
    url = loaded["BULLPEN_DATABASE_URL"]
    tuned = store.TunedParams(
        study="hand-made",
        model="moneyline",
        spec_signature=search.spec_signature(train.MONEYLINE),
        eval_season=HELD_OUT,
        valid_seasons=(2014, 2015),
        best_trial=0,
        params={**search.default_trial_params(), "learning_rate": 0.0123, "num_leaves": 5},
        cv_log_loss=0.5,  # better than any real study here, and the latest row
        default_cv_log_loss=0.6,
        fold_log_loss=(0.5, 0.5),
        default_fold_log_loss=(0.6, 0.6),
        n_complete=1,
        n_pruned=0,
        n_failed=0,
        confirm_log_loss=0.5,
        default_confirm_log_loss=0.6,
    )
    store.write_tuned_params(url, tuned)

    assert store.load_tuned_params(url, "moneyline", EVAL_SEASON) == tuned.params
    assert store.load_tuned_params(url, "moneyline", HELD_OUT) is None  # it confirmed on 2016
    assert store.load_tuned_params(url, "totals", EVAL_SEASON) is None  # studies are per model
    for lost in ({"cv_log_loss": 0.7}, {"confirm_log_loss": 0.7}, {"confirm_log_loss": None}):
        store.write_tuned_params(url, replace(tuned, **lost))  # type: ignore[arg-type]
        assert store.load_tuned_params(url, "moneyline", EVAL_SEASON) is None, lost
    store.write_tuned_params(url, tuned)

    flow = prefect_process.load_flow("train_models.py:train_models")
    result = flow(eval_season=EVAL_SEASON, models=("moneyline",))  # type: ignore[operator]

    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    version = mlflow_store.client(uri).get_model_version(
        "bullpen-moneyline", result["moneyline"]["version"]
    )
    run = mlflow_store.client(uri).get_run(version.run_id)
    assert run.data.params["learning_rate"] == "0.0123"
    assert run.data.params["num_leaves"] == "5"
    assert result["moneyline"]["comparison"]["model"]["n"] > 2000
