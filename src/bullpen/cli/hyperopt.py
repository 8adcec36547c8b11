"""`bullpen hyperopt`: run the optimize-models flow and show a study's best against the defaults."""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any

import typer

from bullpen import DEFAULT_EVAL_SEASON
from bullpen.cli.common import (
    Model,
    exit_for_missing_seasons,
    run_flow,
    seasons_with_results,
    setup,
)

app = typer.Typer(
    help="Hyper-parameter search (Optuna studies in the bullpen database).", no_args_is_help=True
)

MODEL = Annotated[Model, typer.Option("--model", help="Which model's study.")]
EVAL_SEASON = Annotated[
    int,
    typer.Option(
        help="Evaluation season E: the study searches seasons before E - 1 and confirms its "
        "best on E - 1; it never looks at E."
    ),
]


def _setup() -> None:
    import warnings

    import optuna

    setup()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is noise here
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@app.command()
def run(
    model: MODEL,
    trials: Annotated[int, typer.Option(min=1, help="Trials to add to the study.")] = 20,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Concurrent trial workers.")] = 2,
    seed: Annotated[int | None, typer.Option(help="TPE seed (worker k uses seed + k).")] = None,
    eval_season: EVAL_SEASON = DEFAULT_EVAL_SEASON,
    folds: Annotated[int, typer.Option(min=1, help="Walk-forward validation seasons.")] = 3,
    pruning: Annotated[bool, typer.Option(help="Median-prune unpromising trials.")] = True,
    runs: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="Submit this many runs of the optimize-models deployment (PREFECT_API_URL) "
            "that share the trials instead of running here: any worker on any host takes each "
            "(start workers with --limit 1 to spread them one per worker); --workers then "
            "counts trial slots within each run.",
        ),
    ] = 0,
    deployment: Annotated[
        str, typer.Option(help="The deployment that --runs submits.")
    ] = "optimize-models/weekly",
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the --runs runs.")
    ] = 3600,
    as_json: Annotated[bool, typer.Option("--json", help="Emit JSON.")] = False,
) -> None:
    """Add trials to the model's study (flow optimize-models), then log and save its best."""
    _setup()
    started = time.perf_counter()
    _require_seasons(eval_season, folds)
    if runs:
        common = {
            "models": [model.value],
            "workers": workers,
            "eval_season": eval_season,
            "n_folds": folds,
            "pruning": pruning,
        }
        _fan_out(model, trials, runs, deployment, timeout, seed, common, as_json)
        return
    result = run_flow(
        "hyperopt.py:optimize_models",
        models=(model.value,),
        n_trials=trials,
        workers=workers,
        seed=seed,
        eval_season=eval_season,
        n_folds=folds,
        pruning=pruning,
    )[model.value]
    elapsed = time.perf_counter() - started
    if as_json:
        typer.echo(json.dumps({**result, "wall_seconds": round(elapsed, 1)}, indent=2))
        return
    typer.echo(
        f"{model.value}: {result['trials_this_run']} trials on {result['workers']} workers in "
        f"{result['seconds']:.1f} s (command {elapsed:.1f} s); study {result['study']} now has "
        f"{result['n_complete']} complete, {result['n_pruned']} pruned"
    )
    typer.echo(_score_line(result["cv_log_loss"], result["default_cv_log_loss"]))
    typer.echo(
        _confirm_line(
            result["confirm_season"],
            result["confirm_log_loss"],
            result["default_confirm_log_loss"],
            result["beats_defaults"],
        )
    )
    typer.echo(f"MLflow run {result['mlflow_run_id']}; details: bullpen hyperopt best --model ...")


def _fan_out(
    model: Model,
    trials: int,
    runs: int,
    deployment: str,
    timeout: float,
    seed: int | None,
    common: dict[str, Any],
    as_json: bool,
) -> None:
    """N runs add the trials to one study (Postgres), then one more run publishes its best."""
    import os

    from bullpen import runtime
    from bullpen.models import train
    from bullpen.models.tuning import report, search
    from bullpen.models.tuning.store import fetch_tuned_params
    from bullpen.ops import deployments

    if not os.environ.get("PREFECT_API_URL"):
        typer.echo(
            "--runs submits deployment runs: set PREFECT_API_URL (`make up` prints it)",
            err=True,
        )
        raise typer.Exit(2)
    shares = search.split_trials(trials, runs)
    parameter_sets = [
        {**common, "n_trials": share, "publish": False,
         "seed": None if seed is None else seed + 1000 * k}
        for k, share in enumerate(shares)
    ]  # fmt: skip
    try:
        ids = deployments.submit_runs(deployment, parameter_sets)
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"submitted {len(ids)} runs of {deployment} ({', '.join(map(str, shares))} trials)")
    outcomes = deployments.wait_for_runs(ids, timeout)
    publish = deployments.wait_for_runs(
        deployments.submit_runs(deployment, [{**common, "n_trials": 0, "publish": True}]),
        timeout,
    )
    failed = [o for o in [*outcomes, *publish] if o.state != "COMPLETED"]
    for outcome in [*outcomes, *publish]:
        why = f" ({outcome.message})" if outcome.state != "COMPLETED" and outcome.message else ""
        typer.echo(f"  run {outcome.name} on worker {outcome.worker or '-'}: {outcome.state}{why}")
    if failed:
        typer.echo(f"{len(failed)} runs did not complete; the study keeps their trials", err=True)
        raise typer.Exit(1)
    database_url = runtime.database_url()
    tuned = fetch_tuned_params(database_url, train.SPECS[model.value], common["eval_season"])
    if tuned is None:  # the publishing run completed, so only a mismatched spec leads here
        typer.echo(f"no published study for {model.value} before {common['eval_season']}", err=True)
        raise typer.Exit(1)
    shared = report.shared_study_run(search.optuna_storage_url(database_url), tuned.study, ids)
    if as_json:
        payload = {
            "study": shared.study,
            "runs": [vars(o) for o in outcomes],
            "trials": shared.trials,
            "trials_by_host": shared.trials_by_host,
            "trials_by_run": shared.trials_by_run,
            "minutes": round(shared.minutes, 3),
            "trials_per_minute": round(shared.trials_per_minute, 2),
            "beats_defaults": tuned.beats_defaults,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    hosts = ", ".join(f"{host} {n}" for host, n in sorted(shared.trials_by_host.items()))
    typer.echo(
        f"{model.value}: {shared.trials} trials in {shared.minutes:.1f} min "
        f"({shared.trials_per_minute:.1f}/min) by host: {hosts}; study {shared.study} now has "
        f"{tuned.n_complete} complete, {tuned.n_pruned} pruned"
    )
    typer.echo(_score_line(tuned.cv_log_loss, tuned.default_cv_log_loss))
    typer.echo(
        _confirm_line(
            tuned.eval_season, tuned.confirm_log_loss, tuned.default_confirm_log_loss,
            tuned.beats_defaults,
        )
    )  # fmt: skip


@app.command()
def best(model: MODEL, eval_season: EVAL_SEASON = DEFAULT_EVAL_SEASON) -> None:
    """Show the best tuned parameters, their CV and held-out scores next to the defaults'."""
    logging.basicConfig(level=logging.WARNING)
    from bullpen import runtime
    from bullpen.models import train
    from bullpen.models.tuning.store import fetch_tuned_params

    spec = train.SPECS[model.value]
    tuned = fetch_tuned_params(runtime.database_url(), spec, eval_season)
    if tuned is None:
        typer.echo(
            f"no study for {model.value} before {eval_season} yet: "
            f"run `bullpen hyperopt run --model {model.value}`",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(
        f"{model.value}: study {tuned.study} (validation seasons "
        f"{', '.join(map(str, tuned.valid_seasons))}; {tuned.n_complete} complete, "
        f"{tuned.n_pruned} pruned trials); best trial #{tuned.best_trial}"
    )
    typer.echo(_score_line(tuned.cv_log_loss, tuned.default_cv_log_loss))
    # LightGBM's own defaults for the keys DEFAULT_PARAMS leaves out.
    defaults = {"lambda_l1": 0.0, "extra_trees": False, **train.DEFAULT_PARAMS}
    typer.echo(_params_table(tuned.params, defaults))
    typer.echo(
        _confirm_line(
            tuned.eval_season,
            tuned.confirm_log_loss,
            tuned.default_confirm_log_loss,
            tuned.beats_defaults,
        )
    )
    verdict = "tuned parameters" if tuned.beats_defaults else "the defaults"
    typer.echo(f"train-models (eval season {eval_season}) uses {verdict}")
    typer.echo(f"MLflow run: {tuned.mlflow_run_id}")


def _require_seasons(eval_season: int, folds: int) -> None:
    """Fail fast, before a flow run, when the database cannot fill the folds and the season
    held out to confirm the best trial."""
    from bullpen.models.tuning.cv import TooFewSeasons, held_out_season, season_folds

    seasons = seasons_with_results()
    held_out = held_out_season(eval_season)
    try:
        season_folds(seasons, held_out, folds)
    except TooFewSeasons as exc:
        exit_for_missing_seasons(f"{exc} (and {held_out} itself, to confirm the best)")
    if held_out not in seasons:
        exit_for_missing_seasons(f"season {held_out} confirms the best trial; it is missing")


def _score_line(tuned: float, default: float) -> str:
    return (
        f"mean CV log loss: tuned {tuned:.6f}  defaults {default:.6f}  "
        f"(tuned - defaults {tuned - default:+.6f})"
    )


def _confirm_line(season: int, tuned: float | None, default: float | None, adopted: bool) -> str:
    if tuned is None or default is None:
        return f"not confirmed on {season}: train-models ignores this study"
    verdict = "tuned wins" if adopted else "the defaults stay"
    return (
        f"held-out {season} (never scored by the study): tuned {tuned:.6f}  defaults "
        f"{default:.6f}  (tuned - defaults {tuned - default:+.6f}): {verdict}"
    )


def _params_table(params: dict[str, Any], defaults: dict[str, Any]) -> str:
    lines = [f"  {'parameter':<18} {'tuned':>12} {'default':>12}"]
    for key, value in params.items():
        lines.append(f"  {key:<18} {_fmt(value):>12} {_fmt(defaults.get(key, '-')):>12}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
