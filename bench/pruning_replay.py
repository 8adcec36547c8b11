"""Replay the median pruning rule on complete CV learning curves: what each warm-up would save
and whether it would have cut the best trials.

A study without pruning records every trial's curve from round 10 on; the rule is then replayed
in trial order (a trial is compared with the earlier trials the replay let complete). Cost is
counted in lock-step boosting rounds plus a fixed per-trial overhead. TPE would have proposed
other trials had it seen the pruned ones, so this compares rules, it does not forecast a study.
Studies go to a scratch database, dropped at the end; the evaluation season is never loaded.

    .venv/bin/python bench/pruning_replay.py [--model moneyline] [--trials 60]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import optuna
from hyperopt import bench_features, run_study, scratch_storage  # bench/hyperopt.py, beside

from bullpen.models import train
from bullpen.models.tuning import search

SCRATCH = "bullpen_bench_pruning"
# A trial's fixed cost (TPE, storage, boosters' set-up) in rounds of 4 lock-step boosters:
# ~0.2 s at ~13 ms a round, measured on this machine.
OVERHEAD_ROUNDS = 15


@dataclass(frozen=True)
class Replay:
    speedup: float  # cost of all trials complete / cost with the rule
    pruned: int
    best_gap: float  # best CV among trials the rule keeps - best CV of all trials
    top5_kept: int


def replay(curves: list[tuple[dict[int, float], float]], warmup: int, startup: int) -> Replay:
    """Median rule (as search.SnapshotMedianPruner) over `(intermediate values, CV)` in order."""
    kept: list[tuple[dict[int, float], float]] = []
    full = cost = 0.0
    for values, final in curves:
        steps = sorted(values)
        full += steps[-1] + OVERHEAD_ROUNDS
        stop = None
        if len(kept) >= startup:
            best = np.inf
            for step in steps:
                best = min(best, values[step])
                at_step = [v[step] for v, _ in kept if step in v]
                if step >= warmup and at_step and best > np.median(at_step):
                    stop = step
                    break
        cost += (stop if stop is not None else steps[-1]) + OVERHEAD_ROUNDS
        if stop is None:
            kept.append((values, final))
    finals = sorted(final for _, final in curves)
    top5 = finals[min(4, len(finals) - 1)]
    return Replay(
        full / cost,
        len(curves) - len(kept),
        min(final for _, final in kept) - finals[0],
        sum(final <= top5 for _, final in kept),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="moneyline", choices=sorted(train.SPECS))
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--eval-season", type=int, default=2019)
    args = parser.parse_args()
    url, frame = bench_features(args.eval_season, 3)
    frame = frame[frame["season"] < args.eval_season]
    spec = train.SPECS[args.model]
    with scratch_storage(url, SCRATCH) as storage_url:
        ref, seconds, _ = run_study(
            storage_url, frame, spec, "replay", trials=args.trials, workers=2, pruning=False,
            seed=args.seed, eval_season=args.eval_season, n_warmup_steps=10,
        )  # fmt: skip
        with search.open_study(storage_url, ref.name) as study:
            complete = [
                t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE and t.intermediate_values
            ]  # fmt: skip
            defaults = study.user_attrs["default_cv_log_loss"]

    curves = [(dict(t.intermediate_values), float(t.value)) for t in complete]  # type: ignore[arg-type]
    last = [max(values) for values, _ in curves]
    print(f"# {args.model}: {len(curves)} complete trials without pruning in {seconds:.0f} s "
          f"(2 workers, seed {args.seed}); best CV {min(f for _, f in curves):.5f}, "
          f"defaults {defaults:.5f}")  # fmt: skip
    print(f"rounds per trial: median {np.median(last):.0f}, min {min(last)}, max {max(last)}")
    print(f"{'warm-up':>8} {'startup':>8} {'speed-up':>9} {'pruned':>7} {'best lost':>10} "
          f"{'top 5 kept':>11}")  # fmt: skip
    for warmup in (10, 20, 30, 40):
        for startup in (3, 5):
            r = replay(curves, warmup, startup)
            print(f"{warmup:>8} {startup:>8} {r.speedup:>8.2f}x {r.pruned:>7} "
                  f"{r.best_gap:>10.5f} {r.top5_kept:>11}")  # fmt: skip


if __name__ == "__main__":
    main()
