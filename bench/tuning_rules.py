"""When should train-models adopt tuned parameters? Two rules, scored on seasons no study saw.

- current: search on the 3 seasons before the evaluation season E; adopt when the best trial's
  CV log loss beats the defaults' (it always does: the best of N trials is scored on the folds
  that chose it).
- confirm: search on the 3 seasons before E - 1; adopt only when the best trial, trained as
  train-models trains, also beats the defaults on season E - 1, which the search never scored.

Each rule's parameters (or the defaults, when not adopted) are then trained on the seasons
before E and scored on E, as train-models would. Nothing here chooses anything by looking at E.

    BULLPEN_HOME=/tmp/bp-hyperopt .venv/bin/bullpen collect-history   # once
    BULLPEN_HOME=/tmp/bp-hyperopt .venv/bin/python bench/tuning_rules.py --eval-seasons 2018 2019
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from hyperopt import (  # bench/hyperopt.py, beside this
    bench_features,
    eval_log_loss,
    paired_se,
    run_study,
    scratch_storage,
)

from bullpen.models import assess, train
from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.tuning.cv import held_out_season
from bullpen.models.tuning.report import summarise_study
from bullpen.models.tuning.search import open_study
from bullpen.models.tuning.store import TunedParams


def tuned_params(
    storage_url: str,
    frame: pd.DataFrame,
    spec: train.ModelSpec,
    eval_season: int,
    trials: int,
    seed: int,
) -> TunedParams:
    """The best trial of a fresh study whose folds end the season before `eval_season`."""
    ref, _, _ = run_study(
        storage_url, frame, spec, f"rules-{spec.name}-{time.time_ns()}",
        trials=trials, workers=1, pruning=True, seed=seed, eval_season=eval_season,
    )  # fmt: skip
    with open_study(storage_url, ref.name) as study:
        return summarise_study(study)


def season_score(
    frame: pd.DataFrame, spec: train.ModelSpec, season: int, params: dict | None
) -> tuple[float, np.ndarray]:
    games = assess.comparable_games(frame[frame["season"] == season], spec)
    loss, _, p = eval_log_loss(frame[frame["season"] < season], games, spec, params)
    return loss, log_loss_per_game(games[spec.target].to_numpy(float), p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-seasons", type=int, nargs="+", default=[2018, 2019])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--models", nargs="+", default=["moneyline", "totals"])
    parser.add_argument("--trials", type=int, default=60)
    args = parser.parse_args()
    # The earliest study holds out min(E) - 1 and validates on the 3 seasons before it.
    url, frame = bench_features(held_out_season(min(args.eval_seasons)), 3)
    started = time.perf_counter()
    print(f"{args.trials} trials per study, 1 worker, pruning; differences are tuned - "
          "defaults on the evaluation season E (paired SE); 'confirm' adopts when better on "
          "E - 1")  # fmt: skip
    print(f"{'E':>4} {'model':<9} {'seed':>4} | {'current rule':>20} | "
          f"{'confirm on E-1':>16} {'adopt':>5} | {'confirm rule':>20}")  # fmt: skip
    rows = []
    with scratch_storage(url, "bullpen_bench_tuning_rules") as storage_url:
        for eval_season in args.eval_seasons:
            for model in args.models:
                spec = train.SPECS[model]
                default_loss, default_games = season_score(frame, spec, eval_season, None)
                held_out = held_out_season(eval_season)
                confirm_default, _ = season_score(frame, spec, held_out, None)
                for seed in args.seeds:
                    search = {"trials": args.trials, "seed": seed}
                    current = tuned_params(storage_url, frame, spec, eval_season, **search)
                    loss_a, games_a = season_score(frame, spec, eval_season, current.params)
                    early = tuned_params(storage_url, frame, spec, held_out, **search)
                    confirm_tuned, _ = season_score(frame, spec, held_out, early.params)
                    adopt = confirm_tuned < confirm_default
                    if adopt:
                        loss_b, games_b = season_score(frame, spec, eval_season, early.params)
                    else:
                        loss_b, games_b = default_loss, default_games
                    row = (eval_season, model, seed,
                           loss_a - default_loss, paired_se(games_a - default_games),
                           confirm_tuned - confirm_default, adopt,
                           loss_b - default_loss, paired_se(games_b - default_games))  # fmt: skip
                    rows.append(row)
                    print(f"{eval_season:>4} {model:<9} {seed:>4} | {row[3]:+.5f} ({row[4]:.5f}) | "
                          f"{row[5]:+16.5f} {'yes' if adopt else 'no':>5} | "
                          f"{row[7]:+.5f} ({row[8]:.5f})", flush=True)  # fmt: skip
    for model in args.models:
        mine = [r for r in rows if r[1] == model]
        print(f"{model}: mean tuned - defaults on E: current {np.mean([r[3] for r in mine]):+.5f}"
              f", confirm {np.mean([r[7] for r in mine]):+.5f}; adopted "
              f"{sum(r[6] for r in mine)}/{len(mine)}")  # fmt: skip
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
