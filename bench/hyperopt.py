"""Tuning benchmark: trials/min with and without pruning, 2 workers vs 1, and what tuning gains.

Data are the seasons in the bullpen database (BULLPEN_HOME's embedded server, or
BULLPEN_DATABASE_URL); studies go to a scratch database on the same server, dropped at the end.
Workers are threads, as in the flow's ThreadPoolTaskRunner. The quality part does what
optimize-models and train-models do for the evaluation season E: search on the folds before E - 1,
confirm the best trial on E - 1, adopt it only if it wins both. E is scored once per model,
after that: nothing in the search or the adoption looks at it.

    BULLPEN_HOME=/tmp/bp-hyperopt .venv/bin/bullpen collect-history   # once
    BULLPEN_HOME=/tmp/bp-hyperopt .venv/bin/python bench/hyperopt.py [--budget 30] [--trials 60]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import optuna
import pandas as pd

from bullpen import runtime
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.db.games import seasons_with_results
from bullpen.features.dataset import load_feature_frame
from bullpen.models import assess, train
from bullpen.models.evaluate import log_loss_per_game, score_probabilities
from bullpen.models.tuning import cv, report, search

SCRATCH = "bullpen_bench_hyperopt"
States = optuna.trial.TrialState


@contextmanager
def scratch_storage(database_url: str, name: str = SCRATCH) -> Iterator[str]:
    """Optuna storage in a fresh database `name` on the same server, dropped afterwards."""
    with engine.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    scratch = engine.ensure_database(database_url, name)
    runtime.prepare_database(scratch)
    try:
        yield search.optuna_storage_url(scratch)
    finally:
        with engine.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_study(
    storage_url: str,
    frame: pd.DataFrame,
    spec: train.ModelSpec,
    name: str,
    *,
    trials: int,
    workers: int,
    pruning: bool,
    seed: int,
    eval_season: int,
    threads: int | None = None,
    n_folds: int = 3,
    n_warmup_steps: int = cv.PRUNE_WARMUP_ROUNDS,
) -> tuple[search.StudyRef, float, float]:
    """A fresh study; returns it and the wall and CPU seconds of its trials (the defaults'
    scoring excluded). CPU seconds hardly depend on what other users run on the machine."""
    ref = search.prepare_study(
        storage_url, frame, spec, eval_season, n_folds, name=name, num_threads=2
    )
    threads = threads or search.threads_per_worker(workers)
    started = time.perf_counter()
    cpu_started = time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        futures = [
            pool.submit(
                search.run_trials,
                ref,
                frame,
                spec,
                share,
                worker=w,
                seed=seed,
                num_threads=threads,
                pruning=pruning,
                n_warmup_steps=n_warmup_steps,
            )  # fmt: skip
            for w, share in enumerate(search.split_trials(trials, workers))
        ]
        for future in futures:
            future.result()
    return ref, time.perf_counter() - started, time.process_time() - cpu_started


def _calibration_work(frame: pd.DataFrame) -> float:
    """A fixed CV workload (no Optuna, no database); returns its wall seconds."""
    folds = cv.season_folds(frame["season"], int(frame["season"].max()) + 1, 3)
    prepared = cv.prepare_folds(frame, train.MONEYLINE, folds)
    started = time.perf_counter()
    for _ in range(2):
        cv.cross_validate(prepared, train.MONEYLINE, {"learning_rate": 0.005}, cache={})
    return time.perf_counter() - started


def calibrate(frame: pd.DataFrame) -> None:
    """How much parallelism this machine gives right now (other users share the cores)."""
    one = _calibration_work(frame)
    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        list(pool.map(_calibration_work, [frame, frame]))
        threads = time.perf_counter() - started
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        started = time.perf_counter()
        list(pool.map(_calibration_work, [frame, frame]))
        processes = time.perf_counter() - started
    print(f"\n## Machine check: a fixed CV workload, 2 copies at once vs 1 (load "
          f"{os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"1 copy {one:.1f} s; 2 threads {threads:.1f} s ({2 * one / threads:.2f}x); "
          f"2 processes {processes:.1f} s ({2 * one / processes:.2f}x)")  # fmt: skip


def speed(storage_url: str, frame: pd.DataFrame, budget: int, seed: int, eval_season: int) -> None:
    """Each variant runs twice, in the order A..E then E..A, so that a drift in what other users
    take from the shared cores falls on every variant alike."""
    spec = train.MONEYLINE
    variants = [
        ("1 worker x 1 thread, no pruning", 1, False, 1),
        ("1 worker x 1 thread, pruning", 1, True, 1),
        ("1 worker x 2 threads, no pruning", 1, False, 2),
        ("2 workers x 1 thread, no pruning", 2, False, 1),
        ("2 workers x 1 thread, pruning", 2, True, 1),
    ]
    totals = {label: [0, 0.0, 0.0, 0, 1.0] for label, *_ in variants}  # n, s, cpu s, pruned, best
    for label, workers, pruning, threads in variants + variants[::-1]:
        ref, seconds, cpu = run_study(
            storage_url, frame, spec, f"bench-speed-{time.time_ns()}",
            trials=budget, workers=workers, pruning=pruning, seed=seed,
            eval_season=eval_season, threads=threads,
        )  # fmt: skip
        with search.open_study(storage_url, ref.name) as study:
            trials = study.get_trials(deepcopy=False)
            total = totals[label]
            total[0] += len(trials)
            total[1] += seconds
            total[2] += cpu
            total[3] += sum(t.state == States.PRUNED for t in trials)
            total[4] = min(total[4], study.best_value)
    print(f"\n## Speed: moneyline, {budget} trials per study, each variant twice (seed {seed})")
    print(f"{'variant':<34} {'trials':>6} {'seconds':>8} {'trials/min':>11} "
          f"{'trials/cpu-min':>15} {'pruned':>7} {'best CV':>9}")  # fmt: skip
    rates, cpu_rates = {}, {}
    for label, (n, seconds, cpu, pruned, best) in totals.items():
        rates[label], cpu_rates[label] = n / seconds * 60, n / cpu * 60
        print(f"{label:<34} {n:>6d} {seconds:>8.1f} {rates[label]:>11.1f} "
              f"{cpu_rates[label]:>15.1f} {pruned:>7d} {best:>9.5f}")  # fmt: skip
    labels = [v[0] for v in variants]
    print(
        "pruning speed-up: trials/min "
        f"{rates[labels[1]] / rates[labels[0]]:.2f}x (1 worker), "
        f"{rates[labels[4]] / rates[labels[3]]:.2f}x (2 workers); trials/cpu-min "
        f"{cpu_rates[labels[1]] / cpu_rates[labels[0]]:.2f}x, "
        f"{cpu_rates[labels[4]] / cpu_rates[labels[3]]:.2f}x"
    )
    print(
        "2 workers vs 1 (1 thread each), trials/min: "
        f"no pruning {rates[labels[3]] / rates[labels[0]]:.2f}x, "
        f"pruning {rates[labels[4]] / rates[labels[1]]:.2f}x; "
        f"2 workers x 1 thread vs 1 worker x 2 threads {rates[labels[3]] / rates[labels[2]]:.2f}x"
    )


def quality(
    storage_url: str,
    frame: pd.DataFrame,
    model: str,
    trials: int,
    seed: int,
    eval_season: int,
    n_folds: int,
) -> None:
    """What optimize-models and train-models do for `eval_season`, scored on it afterwards:
    search on the folds before the held-out season, confirm there, adopt or keep the defaults."""
    spec = train.SPECS[model]
    held_out = cv.held_out_season(eval_season)
    # One worker: with a seed, the same study every run (two workers interleave by timing).
    ref, seconds, _ = run_study(
        storage_url, frame, spec, f"bench-{model}-{time.time_ns()}",
        trials=trials, workers=1, pruning=True, seed=seed, eval_season=held_out,
        n_folds=n_folds,
    )  # fmt: skip
    with search.open_study(storage_url, ref.name) as study:
        tuned = report.confirm_on_held_out_season(frame, spec, report.summarise_study(study))
        optimistic = (
            np.mean(study.user_attrs["default_fold_best_log_loss"]),
            np.mean(study.best_trial.user_attrs["fold_best_log_loss"]),
        )
        complete = sorted(
            (t for t in study.get_trials(deepcopy=False) if t.state == States.COMPLETE),
            key=lambda t: float(t.value),  # type: ignore[arg-type]
        )
    seasons = ", ".join(str(s) for s in tuned.valid_seasons)
    print(f"\n## {model}: {trials} trials, 1 worker, pruning, seed {seed} ({seconds:.0f} s)")
    print(f"study: {tuned.n_complete} complete, {tuned.n_pruned} pruned; folds {seasons}")
    print(f"best params (trial #{tuned.best_trial}): {tuned.params}")
    print(f"mean CV log loss   defaults {tuned.default_cv_log_loss:.5f}   tuned "
          f"{tuned.cv_log_loss:.5f}   (tuned - defaults "
          f"{tuned.cv_log_loss - tuned.default_cv_log_loss:+.5f})")  # fmt: skip
    for season, d, t in zip(
        tuned.valid_seasons, tuned.default_fold_log_loss, tuned.fold_log_loss, strict=True
    ):
        print(f"  fold {season}: defaults {d:.5f}  tuned {t:.5f}  ({t - d:+.5f})")
    print(f"  (optimistic, rounds picked on the scored season: defaults {optimistic[0]:.5f}  "
          f"tuned {optimistic[1]:.5f})")  # fmt: skip
    assert tuned.confirm_log_loss is not None and tuned.default_confirm_log_loss is not None
    verdict = "adopted" if tuned.beats_defaults else "train-models keeps the defaults"
    gap = tuned.confirm_log_loss - tuned.default_confirm_log_loss
    print(f"held-out {held_out}: defaults {tuned.default_confirm_log_loss:.5f}  tuned "
          f"{tuned.confirm_log_loss:.5f}  ({gap:+.5f}): {verdict}")  # fmt: skip

    history = frame[frame["season"] < eval_season]
    games = assess.comparable_games(frame[frame["season"] == eval_season], spec)
    defaults, default_rounds, default_p = eval_log_loss(history, games, spec, None)
    tuned_loss, tuned_rounds, tuned_p = eval_log_loss(history, games, spec, tuned.params)
    # Paired standard error of the difference: the same games, scored by both models.
    y = games[spec.target].to_numpy(float)
    diff = log_loss_per_game(y, tuned_p) - log_loss_per_game(y, default_p)
    se = paired_se(diff)
    open_col, close_col = assess.MARKET_COLUMNS[spec.target]
    print(f"evaluation season {eval_season} ({len(games)} games), log loss:")
    print(f"  defaults       {defaults:.5f}  ({default_rounds} rounds)")
    print(f"  tuned          {tuned_loss:.5f}  ({tuned_rounds} rounds)  "
          f"tuned - defaults {tuned_loss - defaults:+.5f} (paired SE {se:.5f})")  # fmt: skip
    adopted = tuned_loss if tuned.beats_defaults else defaults
    print(f"  train-models   {adopted:.5f}  ({verdict})")
    print(f"  market open    {score_probabilities(y, games[open_col]).log_loss:.5f}")
    print(f"  market close   {score_probabilities(y, games[close_col]).log_loss:.5f}"
          "  (vig-free closing line)")  # fmt: skip
    # Chooses nothing: shows how far the evaluation score moves among near-equal CV scores.
    top = [eval_log_loss(history, games, spec, t.params)[0] for t in complete[:5]]
    print("  5 best CV trials on the evaluation season: " + "  ".join(f"{v:.5f}" for v in top))


def paired_se(diff: np.ndarray) -> float:
    """Standard error of the mean of per-game differences between two models on the same games."""
    return float(diff.std(ddof=1) / np.sqrt(len(diff)))


def eval_log_loss(
    history: pd.DataFrame, games: pd.DataFrame, spec: train.ModelSpec, params: dict | None
) -> tuple[float, int, np.ndarray]:
    """Train as train-models does (seasons before the evaluation season), score `games`."""
    fitted = train.train_model(history, spec, params)
    p = fitted.predict(games)
    return score_probabilities(games[spec.target], p).log_loss, fitted.num_rounds, p


def bench_features(eval_season: int, n_folds: int) -> tuple[str, pd.DataFrame]:
    """Quiet Optuna, then the database URL and its feature frame; exits with a clear message
    when the database cannot fill `n_folds` folds before `eval_season`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    settings = get_settings()
    url = runtime.database_url(settings)
    runtime.prepare_database(url)
    with engine.connect(url) as conn:
        seasons = seasons_with_results(conn)
    try:
        cv.season_folds(seasons, eval_season, n_folds)
    except cv.TooFewSeasons as exc:
        raise SystemExit(f"{exc}: load seasons first (`bullpen collect-history`)") from exc
    return url, load_feature_frame(url, settings.devig_method)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=30, help="trials per speed study")
    parser.add_argument("--trials", type=int, default=60, help="trials per quality study")
    parser.add_argument(
        "--models",
        nargs="*",
        default=["moneyline", "totals"],
        help="models for the quality part (none: speed only)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--eval-season", type=int, default=2019)
    parser.add_argument("--folds", type=int, default=3, help="validation seasons (quality part)")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    # The quality studies hold out the season before the evaluation season (as the flow does).
    url, frame = bench_features(cv.held_out_season(args.eval_season), args.folds)
    eval_season = args.eval_season
    print(f"# bullpen tuning benchmark ({platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"features: {len(frame)} games, seasons {frame['season'].min()}-"
          f"{frame['season'].max()}, built in {time.perf_counter() - started:.1f} s; "
          f"evaluation season {eval_season} (never seen by a study)")  # fmt: skip

    with scratch_storage(url) as storage_url:
        if not args.skip_speed:
            calibrate(frame[frame["season"] < eval_season])
            speed(storage_url, frame, args.budget, args.seed, eval_season)
        for model in args.models:
            quality(storage_url, frame, model, args.trials, args.seed, eval_season, args.folds)
    print(f"\ntotal {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
