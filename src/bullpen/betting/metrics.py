"""Judge bets like a bettor: closing-line value, expected value at the close, ROI, drawdown.

Definitions (per bet, on the side bet):
- CLV (probability points) = vig-free closing probability - vig-free opening probability. It says
  how far the market moved towards the bet after it was placed.
- EV at close = decimal price taken * vig-free closing probability - 1: the bet's expected profit
  per unit staked if the closing line is the truth. Positive EV at close is the best public
  evidence of skill; realized ROI needs thousands of bets to separate skill from luck.
- ROI = profit / amount staked, with a percentile bootstrap interval over bets.

Standard errors are over bets (sample standard deviation / sqrt(n)); the 95 % interval of EV at
close is mean +- 1.96 SE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

Z_95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class BetSummary:
    """Bettor's figures for a set of settled bets (NaN where undefined, e.g. no bets)."""

    n: int
    mean_clv: float
    clv_se: float
    ev_at_close: float
    ev_se: float
    ev_ci: tuple[float, float]
    staked: float
    profit: float
    roi: float
    roi_ci: tuple[float, float]
    max_drawdown: float

    def as_dict(self) -> dict[str, object]:
        """JSON-able: NaN (undefined, e.g. no bets) becomes None, intervals become lists."""
        out = asdict(self)
        out["ev_ci"] = [_finite_or_none(v) for v in self.ev_ci]
        out["roi_ci"] = [_finite_or_none(v) for v in self.roi_ci]
        return {k: (_finite_or_none(v) if isinstance(v, float) else v) for k, v in out.items()}


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def mean_and_se(values: npt.ArrayLike) -> tuple[float, float]:
    """Mean and its standard error (sample sd / sqrt(n)); NaN SE below two values."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def bootstrap_roi_ci(
    stakes: npt.ArrayLike, profits: npt.ArrayLike, *, seed: int = 7, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ROI = sum(profit) / sum(stake), resampling bets."""
    s = np.asarray(stakes, dtype=float)
    p = np.asarray(profits, dtype=float)
    if s.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, s.size, size=(BOOTSTRAP_RESAMPLES, s.size))
    staked = s[idx].sum(axis=1)
    rois = np.where(staked > 0.0, p[idx].sum(axis=1) / np.where(staked > 0, staked, 1.0), 0.0)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(rois, tail)), float(np.quantile(rois, 1.0 - tail))


def max_drawdown(start: float, bankroll_after: Iterable[float]) -> float:
    """Largest fall from a running peak (start included), as a fraction of that peak."""
    values = np.concatenate([[start], np.asarray(list(bankroll_after), dtype=float)])
    peaks = np.maximum.accumulate(values)
    return float(np.max((peaks - values) / peaks))


def summarise_bets(bets: pd.DataFrame, starting_bankroll: float) -> BetSummary:
    """Figures for settled bets with columns stake, profit, clv_pp, ev_close, bankroll_after."""
    # Every figure is defined on no bets too: means and intervals NaN, sums 0, drawdown 0.
    mean_clv, clv_se = mean_and_se(bets["clv_pp"])
    ev, ev_se = mean_and_se(bets["ev_close"])
    staked = float(bets["stake"].sum())
    profit = float(bets["profit"].sum())
    return BetSummary(
        n=len(bets),
        mean_clv=mean_clv,
        clv_se=clv_se,
        ev_at_close=ev,
        ev_se=ev_se,
        ev_ci=(ev - Z_95 * ev_se, ev + Z_95 * ev_se),
        staked=staked,
        profit=profit,
        roi=profit / staked if staked > 0.0 else math.nan,
        roi_ci=bootstrap_roi_ci(bets["stake"], bets["profit"]),
        max_drawdown=max_drawdown(starting_bankroll, bets["bankroll_after"]),
    )


def r2_of_move(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    """Out-of-sample R^2 = 1 - SS_res / SS_tot of the open-to-close move (any scale).

    SS_tot is around the actual moves' own mean, so a model that only predicts the average move
    scores about 0 and one that predicts worse than that is negative.
    """
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if a.size != p.size or a.size < 2:
        raise ValueError(f"need two or more paired values, got {a.size} and {p.size}")
    ss_tot = float(np.sum((a - a.mean()) ** 2))
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(np.sum((a - p) ** 2)) / ss_tot


def logit(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(q / (1.0 - q))
