"""Confirming a study's best on the held-out season, summarising a study, its artifacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

from bullpen.models import train
from bullpen.models.tuning import report, search, store


def test_confirmation_scores_both_parameter_sets_as_train_models_would(
    reckless: dict[str, Any],
    frame: pd.DataFrame,
) -> None:
    from bullpen.models import assess
    from bullpen.models.evaluate import score_probabilities

    priced = frame.assign(p_open_home=frame["mkt_open_home_prob"], p_close_home=0.5)
    held_out = 2017
    tuned = store.TunedParams(
        study="s", model="moneyline", spec_signature="x", eval_season=held_out,
        valid_seasons=(2016,), best_trial=3, params=reckless, cv_log_loss=0.69,
        default_cv_log_loss=0.70, fold_log_loss=(), default_fold_log_loss=(), n_complete=4,
        n_pruned=0, n_failed=0,
    )  # fmt: skip

    confirmed = report.confirm_on_held_out_season(
        priced[priced["season"] <= held_out], train.MONEYLINE, tuned
    )

    games = assess.comparable_games(priced[priced["season"] == held_out], train.MONEYLINE)
    fitted = train.train_model(priced[priced["season"] < held_out], train.MONEYLINE, None)
    expected = score_probabilities(games["home_win"], fitted.predict(games)).log_loss
    assert confirmed.default_confirm_log_loss == pytest.approx(expected, abs=1e-12)
    assert confirmed.confirm_log_loss != confirmed.default_confirm_log_loss
    assert confirmed.beats_defaults == (
        confirmed.confirm_log_loss < confirmed.default_confirm_log_loss  # type: ignore[operator]
    )
    # A later season in the frame changes nothing: only seasons up to the held-out one count.
    again = report.confirm_on_held_out_season(priced, train.MONEYLINE, tuned)
    assert again.confirm_log_loss == confirmed.confirm_log_loss


def test_summarise_study_picks_the_best_complete_trial(
    memory_study: Callable[..., optuna.Study], tmp_path: Path
) -> None:
    study = memory_study()
    study.set_user_attr("model", "moneyline")
    study.set_user_attr("spec_signature", "abc")
    study.set_user_attr("eval_season", 2019)
    study.set_user_attr("valid_seasons", [2017, 2018])
    study.set_user_attr("default_cv_log_loss", 0.675)
    study.set_user_attr("default_fold_log_loss", [0.676, 0.674])
    for value in (0.6752, 0.6747, 0.6749):
        trial = study.ask()
        search.suggest_params(trial)
        trial.set_user_attr("fold_log_loss", [value, value])
        study.tell(trial, value)
    pruned = study.ask()
    search.suggest_params(pruned)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)

    tuned = report.summarise_study(study)

    assert tuned.best_trial == 1
    assert tuned.cv_log_loss == 0.6747
    assert tuned.params == study.trials[1].params
    assert (tuned.n_complete, tuned.n_pruned, tuned.n_failed) == (3, 1, 0)
    assert not tuned.beats_defaults  # better in CV, but not confirmed on the held-out season
    assert replace(tuned, confirm_log_loss=0.66, default_confirm_log_loss=0.67).beats_defaults
    artifacts = {p.name for p in report.write_study_artifacts(study, tmp_path)}
    assert {"trials.csv", "optimization_history.png"} <= artifacts
    assert len((tmp_path / "trials.csv").read_text().splitlines()) == 5


def test_summarise_study_without_complete_trials_fails(
    memory_study: Callable[..., optuna.Study],
) -> None:
    study = memory_study()
    with pytest.raises(ValueError, match="no complete trial"):
        report.summarise_study(study)
