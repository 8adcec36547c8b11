"""Do a model's features carry information the market price does not? A check without LightGBM.

Tuning can only beat the defaults if there is something beyond the market to learn. This fits a
ridge logistic regression that starts from the logit of a vig-free market price (an offset, as
the moneyline model's base margin) and adds the model's features, walk-forward by season as the
study's folds are laid out, and prints the change in log loss against the price alone on each
validation season: all features at once (three ridge strengths), then each feature alone. It
also prints how well calibrated the price is on the training seasons (intercept 0 and slope 1
mean it needs no correction). Nothing here looks at the evaluation season or anything after it.

The price: for moneyline the opening price, the model's base margin; for totals the closing
price of the over, because the label is settled against the closing total (and the totals
features include the closing total and its move from the opening one).

    BULLPEN_HOME=/tmp/bp-hyperopt .venv/bin/bullpen collect-history   # once
    BULLPEN_HOME=/tmp/bp-hyperopt .venv/bin/python bench/market_residual.py [--model totals]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from hyperopt import bench_features, paired_se  # bench/hyperopt.py, beside this

from bullpen.models import train
from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.tuning import cv

RIDGE_STRENGTHS = (1e-2, 1e-3, 1e-4)
MARKET_PRICE = {"moneyline": ("p_open_home", "opening"), "totals": ("p_close_over", "closing")}
# The same price under the name the model's feature list uses.
SAME_AS_PRICE = {"moneyline": "mkt_open_home_prob"}


def _probability(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))


def fit_offset_logistic(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, ridge: float
) -> np.ndarray:
    """Newton's method for mean log loss + ridge * |coefficients|^2; the intercept (column 0)
    is not penalised."""
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], 2 * ridge)
    penalty[0] = 0.0
    for _ in range(50):
        p = _probability(offset + x @ beta)
        gradient = x.T @ (p - y) / len(y) + penalty * beta
        hessian = (x.T * (p * (1 - p))) @ x / len(y) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def design(frame: pd.DataFrame, features: list[str], mean: pd.Series, sd: pd.Series) -> np.ndarray:
    """An intercept column and the features standardised on the training rows (missing: mean)."""
    z = ((frame[features] - mean) / sd).fillna(0.0).to_numpy(float)
    return np.column_stack([np.ones(len(frame)), z])


def residual_gain(
    train_rows: pd.DataFrame,
    valid_rows: pd.DataFrame,
    features: list[str],
    ridge: float,
    target: str,
    price: str,
) -> np.ndarray:
    """Per validation game: log loss of the price plus the fitted correction minus the price's."""
    mean = train_rows[features].mean()
    sd = train_rows[features].std().replace(0.0, 1.0).fillna(1.0)
    beta = fit_offset_logistic(
        design(train_rows, features, mean, sd),
        train_rows[target].to_numpy(float),
        train.base_margin_logit(train_rows, price),
        ridge,
    )
    offset = train.base_margin_logit(valid_rows, price)
    corrected = _probability(offset + design(valid_rows, features, mean, sd) @ beta)
    market = _probability(offset)
    y = valid_rows[target].to_numpy(float)
    return log_loss_per_game(y, corrected) - log_loss_per_game(y, market)


def _mean_se(diff: np.ndarray) -> str:
    return f"{diff.mean():+.5f} ({paired_se(diff):.5f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MARKET_PRICE), default="moneyline")
    parser.add_argument("--eval-season", type=int, default=2019)
    parser.add_argument("--folds", type=int, default=4, help="validation seasons before it")
    args = parser.parse_args()

    spec = train.SPECS[args.model]
    price, price_name = MARKET_PRICE[args.model]
    _, frame = bench_features(args.eval_season, args.folds)
    rows = frame[frame[spec.target].notna() & frame[price].notna()]
    rows = rows[rows["season"] < args.eval_season]
    folds = cv.season_folds(rows["season"].unique(), args.eval_season, args.folds)
    features = [f for f in spec.features if f != SAME_AS_PRICE.get(args.model)]
    print(f"{args.model}: {len(features)} features beside the vig-free {price_name} price; "
          f"validation seasons {', '.join(str(f.valid_season) for f in folds)}; log loss change "
          f"against the price alone (paired SE), negative = the features help")  # fmt: skip

    train_all = rows[rows["season"] < folds[-1].valid_season]
    x = np.column_stack([np.ones(len(train_all)), train.base_margin_logit(train_all, price)])
    calibration = fit_offset_logistic(
        x, train_all[spec.target].to_numpy(float), np.zeros(len(train_all)), ridge=0.0
    )
    p = _probability(x @ calibration)
    slope_se = float(np.sqrt(np.linalg.inv((x.T * (p * (1 - p))) @ x)[1, 1]))
    print(f"\n{price_name} price calibration on seasons before {folds[-1].valid_season}: "
          f"intercept {calibration[0]:+.3f}, slope {calibration[1]:.3f} "
          f"(SE {slope_se:.3f})")  # fmt: skip

    def split(fold: cv.Fold) -> tuple[pd.DataFrame, pd.DataFrame]:
        fold_train = rows[rows["season"].isin(fold.train_seasons)]
        return fold_train, rows[rows["season"] == fold.valid_season]

    label = (spec.target, price)
    print("\nall features at once")
    print(
        f"{'ridge':>8}  " + "  ".join(f"{f.valid_season:>20}" for f in folds) + f"  {'pooled':>20}"
    )
    for ridge in RIDGE_STRENGTHS:
        gains = [residual_gain(*split(fold), features, ridge, *label) for fold in folds]
        print(f"{ridge:>8g}  " + "  ".join(f"{_mean_se(g):>20}" for g in gains)
              + f"  {_mean_se(np.concatenate(gains)):>20}")  # fmt: skip

    print(f"\neach feature alone (ridge {RIDGE_STRENGTHS[-1]:g}), pooled over the validation "
          "seasons, best first")  # fmt: skip
    singles = []
    for feature in features:
        gain = np.concatenate(
            [residual_gain(*split(fold), [feature], RIDGE_STRENGTHS[-1], *label) for fold in folds]
        )
        singles.append((gain.mean(), feature, _mean_se(gain)))
    for _, feature, text in sorted(singles):
        print(f"  {feature:<24} {text}")


if __name__ == "__main__":
    main()
