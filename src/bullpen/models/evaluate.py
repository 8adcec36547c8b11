"""Score binary win probabilities: log loss, Brier, accuracy, calibration (ECE) and comparisons."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

_EPS = 1e-15


@dataclass(frozen=True)
class Metrics:
    """Scores of one probability source over n games (lower is better except accuracy)."""

    log_loss: float
    brier: float
    accuracy: float
    ece: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationBin:
    """One equal-width bin [lower, upper) of predicted probability (the last bin includes 1.0)."""

    lower: float
    upper: float
    mean_predicted: float
    observed_rate: float
    count: int


def score_probabilities(y_true: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> Metrics:
    """Score predicted probabilities of the positive class against 0/1 outcomes.

    Log loss clips p to [1e-15, 1 - 1e-15]; Brier uses p as given. Accuracy predicts 1 when
    p > 0.5, so an exact 0.5 counts as a prediction of 0 (as scikit-learn's `predict` does).
    ECE is the count-weighted mean |mean predicted - observed rate| over equal-width bins.

    Raises:
        ValueError: on empty or mismatched inputs, labels other than 0/1, or p outside [0, 1].
    """
    y, prob = _validate(y_true, p)
    table = calibration_table(y, prob, bins=bins)
    ece = sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in table) / y.size
    return Metrics(
        log_loss=float(log_loss_per_game(y, prob).mean()),
        brier=float(np.mean((prob - y) ** 2)),
        accuracy=float(np.mean((prob > 0.5) == (y == 1.0))),
        ece=float(ece),
        n=int(y.size),
    )


def score_soft_probabilities(target: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> Metrics:
    """Score predicted probabilities against a probability target (e.g. the vig-free close).

    log_loss is the cross-entropy with the target as a soft label; brier the mean squared
    difference; accuracy the share of games whose side of 0.5 agrees with the target's; ece the
    count-weighted |mean predicted - mean target| over equal-width bins of the prediction.
    """
    t = np.asarray(target, dtype=np.float64).ravel()
    prob = np.asarray(p, dtype=np.float64).ravel()
    if t.size == 0 or t.size != prob.size:
        raise ValueError(f"need equal, non-zero lengths; got target={t.size}, p={prob.size}")
    if not (np.all((t >= 0.0) & (t <= 1.0)) and np.all((prob >= 0.0) & (prob <= 1.0))):
        raise ValueError("target and p must be probabilities in [0, 1] (NaN is not allowed)")
    clipped = np.clip(prob, _EPS, 1.0 - _EPS)
    index = np.minimum((prob * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    gap = np.abs(
        np.bincount(index, weights=prob, minlength=bins)
        - np.bincount(index, weights=t, minlength=bins)
    )
    return Metrics(
        log_loss=float(soft_log_loss_per_game(t, clipped).mean()),
        brier=float(np.mean((prob - t) ** 2)),
        accuracy=float(np.mean((prob > 0.5) == (t > 0.5))),
        ece=float(gap[counts > 0].sum() / t.size),
        n=int(t.size),
    )


def soft_log_loss_per_game(target: npt.ArrayLike, p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Per-game cross-entropy of p against a probability target, p clipped like log loss."""
    t = np.asarray(target, dtype=np.float64).ravel()
    clipped = np.clip(np.asarray(p, dtype=np.float64).ravel(), _EPS, 1.0 - _EPS)
    return -(t * np.log(clipped) + (1.0 - t) * np.log1p(-clipped))


def calibration_table(
    y_true: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10
) -> list[CalibrationBin]:
    """Reliability table over `bins` equal-width bins on [0, 1]; empty bins are omitted."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    y, prob = _validate(y_true, p)
    index = np.minimum((prob * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    sum_p = np.bincount(index, weights=prob, minlength=bins)
    sum_y = np.bincount(index, weights=y, minlength=bins)
    return [
        CalibrationBin(
            lower=i / bins,
            upper=(i + 1) / bins,
            mean_predicted=float(sum_p[i] / counts[i]),
            observed_rate=float(sum_y[i] / counts[i]),
            count=int(counts[i]),
        )
        for i in range(bins)
        if counts[i] > 0
    ]


def log_loss_per_game(y: npt.ArrayLike, p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Per-game negative log-likelihood, with p clipped to [1e-15, 1 - 1e-15]."""
    y_arr, prob = _validate(y, p)
    clipped = np.clip(prob, _EPS, 1.0 - _EPS)
    return -(y_arr * np.log(clipped) + (1.0 - y_arr) * np.log1p(-clipped))


def format_comparison(rows: dict[str, Metrics]) -> str:
    """Fixed-width text table (source, n, log_loss, brier, accuracy, ece) in insertion order."""
    width = max([len("source"), *(len(name) for name in rows)])
    header = (
        f"{'source':<{width}}  {'n':>7}  {'log_loss':>8}  {'brier':>8}  {'accuracy':>8}  {'ece':>8}"
    )
    lines = [header, "-" * len(header)]
    for name, m in rows.items():
        lines.append(
            f"{name:<{width}}  {m.n:>7d}  {_fmt(m.log_loss)}  {_fmt(m.brier)}  "
            f"{_fmt(m.accuracy)}  {_fmt(m.ece)}"
        )
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:>8.4f}" if math.isfinite(value) else f"{'nan':>8}"


def _validate(
    y_true: npt.ArrayLike, p: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    prob = np.asarray(p, dtype=np.float64).ravel()
    if y.size == 0 or y.size != prob.size:
        raise ValueError(f"need equal, non-zero lengths; got y={y.size}, p={prob.size}")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("y_true must contain only 0 and 1")
    if not np.all((prob >= 0.0) & (prob <= 1.0)):
        raise ValueError("p must be probabilities in [0, 1] (NaN is not allowed)")
    return y, prob
