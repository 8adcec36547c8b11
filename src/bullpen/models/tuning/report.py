"""Publishing a study's best: summarise it, confirm it on the season the study held out, log it
to MLflow (metrics, every trial as CSV, history and importance plots) and upsert it into the
tuned-parameter store."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd

from bullpen.models.assess import comparable_games
from bullpen.models.evaluate import score_probabilities
from bullpen.models.train import DEFAULT_PARAMS, SPECS, ModelSpec, train_model
from bullpen.models.tuning.cv import TooFewSeasons
from bullpen.models.tuning.search import StudyRef, WorkerSummary, open_study
from bullpen.models.tuning.store import TunedParams, write_tuned_params

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

EXPERIMENT = "bullpen-hyperopt"


def confirm_on_held_out_season(
    frame: pd.DataFrame, spec: ModelSpec, tuned: TunedParams
) -> TunedParams:
    """Score the tuned and the default parameters on the season the study held out, each
    trained as train-models would train for that season (on every earlier season)."""
    season = tuned.eval_season
    history = frame[frame["season"] < season]
    games = comparable_games(frame[frame["season"] == season], spec)
    if games.empty:
        raise TooFewSeasons(f"no {spec.name} games with market lines in {season} to confirm on")

    def score(params: dict[str, Any] | None) -> float:
        fitted = train_model(history, spec, params)
        return score_probabilities(games[spec.target], fitted.predict(games)).log_loss

    return replace(
        tuned, confirm_log_loss=score(tuned.params), default_confirm_log_loss=score(None)
    )


def summarise_study(study: optuna.Study) -> TunedParams:
    """The best complete trial next to the defaults' CV score, from the study's records.

    Raises:
        ValueError: when no trial has completed yet.
    """
    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ValueError(f"study {study.study_name} has no complete trial")
    best = min(complete, key=lambda t: (float(t.value), t.number))  # type: ignore[arg-type]
    attrs = study.user_attrs
    return TunedParams(
        study=study.study_name,
        model=str(attrs["model"]),
        spec_signature=str(attrs["spec_signature"]),
        eval_season=int(attrs["eval_season"]),
        valid_seasons=tuple(int(s) for s in attrs["valid_seasons"]),
        best_trial=best.number,
        params=dict(best.params),
        cv_log_loss=float(best.value),  # type: ignore[arg-type]
        default_cv_log_loss=float(attrs["default_cv_log_loss"]),
        fold_log_loss=tuple(best.user_attrs.get("fold_log_loss", ())),
        default_fold_log_loss=tuple(attrs["default_fold_log_loss"]),
        n_complete=len(complete),
        n_pruned=states.count(optuna.trial.TrialState.PRUNED),
        n_failed=states.count(optuna.trial.TrialState.FAIL),
    )


def publish_best(
    ref: StudyRef, frame: pd.DataFrame, database_url: str, tracking_uri: str, experiment_id: str
) -> TunedParams:
    """Confirm the study's best trial on its held-out season (in `frame`), log it to MLflow and
    upsert it into `tuned_params`."""
    import tempfile

    with open_study(ref.storage_url, ref.name) as study, tempfile.TemporaryDirectory() as tmp:
        tuned = confirm_on_held_out_season(frame, SPECS[ref.model], summarise_study(study))
        run_id = log_study_to_mlflow(tracking_uri, experiment_id, study, tuned, Path(tmp))
    tuned = replace(tuned, mlflow_run_id=run_id)
    write_tuned_params(database_url, tuned)
    return tuned


def describe_run(
    study: str, workers: Sequence[WorkerSummary], tuned: TunedParams | None
) -> dict[str, Any]:
    """Small JSON-able summary of one flow run for one model; without `tuned` (a run that only
    adds trials and leaves publishing to another), just the trials it ran."""
    summary: dict[str, Any] = {
        "study": study,
        "trials_this_run": sum(len(w.trials) for w in workers),
        "workers": len(workers),
        "hosts": sorted({w.host for w in workers}),
        "seconds": round(max((w.seconds for w in workers), default=0.0), 1),
        "published": tuned is not None,
    }
    if tuned is None:
        return summary
    return {
        **summary,
        "n_complete": tuned.n_complete,
        "n_pruned": tuned.n_pruned,
        "best_trial": tuned.best_trial,
        "cv_log_loss": tuned.cv_log_loss,
        "default_cv_log_loss": tuned.default_cv_log_loss,
        "confirm_season": tuned.eval_season,
        "confirm_log_loss": tuned.confirm_log_loss,
        "default_confirm_log_loss": tuned.default_confirm_log_loss,
        "beats_defaults": tuned.beats_defaults,
        "mlflow_run_id": tuned.mlflow_run_id,
        "params": tuned.params,
    }


@dataclass(frozen=True)
class SharedStudyRun:
    """Trials that several runs added to one study: how many each host ran, and how fast."""

    study: str
    trials_by_host: dict[str, int]
    trials_by_run: dict[str, int]
    minutes: float  # first trial start to last trial end

    @property
    def trials(self) -> int:
        return sum(self.trials_by_run.values())

    @property
    def trials_per_minute(self) -> float:
        return self.trials / self.minutes if self.minutes > 0 else 0.0


def shared_study_run(storage_url: str, study: str, run_ids: Sequence[str]) -> SharedStudyRun:
    """What the runs `run_ids` (flow-run ids recorded on each trial) added to `study`."""
    runs = set(run_ids)
    with open_study(storage_url, study) as opened:
        mine = [t for t in opened.get_trials(deepcopy=False) if t.user_attrs.get("run") in runs]
    by_host: dict[str, int] = {}
    by_run: dict[str, int] = dict.fromkeys(run_ids, 0)
    for trial in mine:
        host = str(trial.user_attrs.get("host", ""))
        by_host[host] = by_host.get(host, 0) + 1
        by_run[trial.user_attrs["run"]] += 1
    starts = [t.datetime_start for t in mine if t.datetime_start]
    ends = [t.datetime_complete for t in mine if t.datetime_complete]
    minutes = (max(ends) - min(starts)).total_seconds() / 60 if starts and ends else 0.0
    return SharedStudyRun(study, by_host, by_run, minutes)


def log_study_to_mlflow(
    tracking_uri: str, experiment_id: str, study: optuna.Study, tuned: TunedParams, workdir: Path
) -> str:
    """One MLflow run per publication of a study: best params, CV metrics, history and
    parameter-importance plots and every trial as CSV. Returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    from bullpen.models import mlflow_store

    client = mlflow_store.client(tracking_uri)
    run = client.create_run(experiment_id, run_name=f"{tuned.study}-best")
    run_id = run.info.run_id
    try:
        metrics = {
            "cv_log_loss": tuned.cv_log_loss,
            "default_cv_log_loss": tuned.default_cv_log_loss,
            "cv_gain_vs_default": tuned.default_cv_log_loss - tuned.cv_log_loss,
            "n_complete": tuned.n_complete,
            "n_pruned": tuned.n_pruned,
            "n_failed": tuned.n_failed,
            "best_trial": tuned.best_trial,
        }
        if tuned.confirm_log_loss is not None and tuned.default_confirm_log_loss is not None:
            metrics["confirm_log_loss"] = tuned.confirm_log_loss
            metrics["default_confirm_log_loss"] = tuned.default_confirm_log_loss
        for season, loss, default in zip(
            tuned.valid_seasons, tuned.fold_log_loss, tuned.default_fold_log_loss, strict=False
        ):
            metrics[f"cv_log_loss_{season}"] = loss
            metrics[f"default_cv_log_loss_{season}"] = default
        params = {
            **{k: v for k, v in DEFAULT_PARAMS.items() if k not in tuned.params},
            **tuned.params,
            "study": tuned.study,
            "valid_seasons": ",".join(str(s) for s in tuned.valid_seasons),
            "eval_season": tuned.eval_season,
        }
        tags = {
            "bullpen.model": tuned.model,
            "bullpen.study": tuned.study,
            "bullpen.spec_signature": tuned.spec_signature,
            "bullpen.beats_defaults": str(tuned.beats_defaults).lower(),
        }
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for path in write_study_artifacts(study, workdir):
            client.log_artifact(run_id, str(path))
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def write_study_artifacts(study: optuna.Study, workdir: Path) -> list[Path]:
    """trials.csv (the whole history), optimization_history.png, param_importances.png."""
    workdir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    paths = [_write_trials_csv(trials, workdir / "trials.csv")]
    paths.append(_plot_history(trials, workdir / "optimization_history.png"))
    try:
        importances = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as exc:  # too few complete trials to judge
        log.info("no parameter importances for %s: %s", study.study_name, exc)
    else:
        paths.append(_plot_importances(importances, workdir / "param_importances.png"))
    return paths


def _write_trials_csv(trials: Sequence[optuna.trial.FrozenTrial], path: Path) -> Path:
    names = sorted({name for t in trials for name in t.params})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["number", "state", "value", "seconds", "last_step", "host", "run", "worker", *names]
        )
        for t in trials:
            seconds = (
                (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start
                else ""
            )
            writer.writerow(
                [t.number, t.state.name, "" if t.value is None else t.value, seconds,
                 "" if t.last_step is None else t.last_step, t.user_attrs.get("host", ""),
                 t.user_attrs.get("run", ""), t.user_attrs.get("worker", ""),
                 *(t.params.get(name, "") for name in names)]
            )  # fmt: skip
    return path


def _plot_history(trials: Sequence[optuna.trial.FrozenTrial], path: Path) -> Path:
    figure = _new_figure()
    axes = figure.subplots()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    numbers = [t.number for t in done]
    values = [float(t.value) for t in done]  # type: ignore[arg-type]
    axes.scatter(numbers, values, s=14, label="complete trial")
    if values:
        axes.step(numbers, np.minimum.accumulate(values), where="post", color="tab:red",
                  label="best so far")  # fmt: skip
    pruned = [t.number for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    for number in pruned:
        axes.axvline(number, color="grey", alpha=0.15)
    axes.set(xlabel="trial", ylabel="mean CV log loss",
             title=f"Optimisation history ({len(pruned)} pruned trials shaded)")  # fmt: skip
    axes.legend(loc="upper right")
    return _save(figure, path)


def _plot_importances(importances: dict[str, float], path: Path) -> Path:
    figure = _new_figure()
    axes = figure.subplots()
    names = list(importances)[::-1]
    axes.barh(names, [importances[n] for n in names], color="tab:blue")
    axes.set(xlabel="importance (PED-ANOVA, normalised)", title="Parameter importances")
    return _save(figure, path)


def _new_figure() -> Figure:
    # Figure without pyplot: no global state, safe beside other threads drawing plots.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(7, 4.5), dpi=100, layout="tight")


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, format="png")
    return path
