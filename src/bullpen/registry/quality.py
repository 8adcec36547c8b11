"""Gate 1 of retraining: is the training window's data complete, valid, fresh and big enough?"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

PRICE_COLUMNS = (
    "home_open_ml", "away_open_ml", "home_close_ml", "away_close_ml",
    "open_over_price", "open_under_price", "close_over_price", "close_under_price",
)  # fmt: skip
MAX_RUNS = 40  # more runs than any MLB team has scored in a game since 1897


@dataclass(frozen=True)
class QualityThresholds:
    min_train_games: int = 2000  # labelled training rows (~one season)
    min_eval_games: int = 300  # labelled, priced evaluation rows
    min_complete_share: float = 0.90  # rows with label and the market feature
    max_invalid_share: float = 0.01  # rows with impossible prices or scores
    max_staleness_days: int = 14  # newest evaluation game vs as_of
    max_gap_days: int = 366  # last training game -> first evaluation game: no season skipped


@dataclass(frozen=True)
class QualityReport:
    passed: bool
    reasons: list[str]
    numbers: dict[str, float | int | str] = field(default_factory=dict)


def _invalid_rows(frame: pd.DataFrame) -> np.ndarray:
    bad = np.zeros(len(frame), dtype=bool)
    for column in PRICE_COLUMNS:
        if column in frame:
            price = frame[column].to_numpy(float)
            # American odds live in (-inf, -100] U [100, inf); NaN is missing, not invalid.
            bad |= ~np.isnan(price) & (np.abs(price) < 100)
    for column in ("home_score", "away_score"):
        score = frame[column].to_numpy(float)
        bad |= ~np.isnan(score) & ((score < 0) | (score > MAX_RUNS) | (score % 1 != 0))
    return bad


def check_training_data(
    train: pd.DataFrame,
    evaluation: pd.DataFrame,
    *,
    target: str,
    market_column: str,
    as_of: date,
    thresholds: QualityThresholds = QualityThresholds(),
) -> QualityReport:
    """Completeness, validity, freshness and volume of the rows a challenger would see.

    `train` and `evaluation` are feature-frame rows (see features.build); `as_of` is the date the
    data should be current to (for a replay: the newest game loaded).
    """
    t = thresholds
    reasons: list[str] = []
    both = pd.concat([train, evaluation])
    usable = both[target].notna() & both[market_column].notna()
    train_labelled = int(train[target].notna().sum())
    eval_usable = int((evaluation[target].notna() & evaluation[market_column].notna()).sum())
    complete = float(usable.mean()) if len(both) else 0.0
    invalid = float(_invalid_rows(both).mean()) if len(both) else 0.0
    numbers: dict[str, float | int | str] = {
        "train_rows": len(train),
        "train_labelled": train_labelled,
        "eval_usable": eval_usable,
        "complete_share": round(complete, 4),
        "invalid_share": round(invalid, 4),
    }
    if train_labelled < t.min_train_games:
        reasons.append(f"volume: {train_labelled} labelled training games < {t.min_train_games}")
    if eval_usable < t.min_eval_games:
        reasons.append(f"volume: {eval_usable} usable evaluation games < {t.min_eval_games}")
    if complete < t.min_complete_share:
        reasons.append(
            f"completeness: {complete:.1%} of rows have a label and {market_column} "
            f"(< {t.min_complete_share:.0%})"
        )
    if invalid > t.max_invalid_share:
        reasons.append(
            f"validity: {invalid:.2%} of rows have impossible prices or scores "
            f"(> {t.max_invalid_share:.0%})"
        )
    if len(evaluation) and len(train):
        newest = max(evaluation["game_date"])
        stale = (as_of - newest).days
        gap = (min(evaluation["game_date"]) - max(train["game_date"])).days
        numbers.update(newest_game=str(newest), staleness_days=stale, train_eval_gap_days=gap)
        if stale > t.max_staleness_days:
            reasons.append(f"freshness: newest game {newest} is {stale} days before {as_of}")
        if gap > t.max_gap_days:
            reasons.append(f"freshness: {gap} days between training and evaluation games")
    return QualityReport(not reasons, reasons, numbers)
