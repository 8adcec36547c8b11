"""The champion's log loss against the market's number on the same settled games: the vig-free
closing line for a model of results; the vig-free opening line for the closing-line model, whose
label is the close itself (does it forecast the close better than "the open stays"?)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bullpen.models.evaluate import log_loss_per_game
from bullpen.registry.bootstrap import BootstrapInterval, paired_bootstrap


@dataclass(frozen=True)
class Benchmark:
    """The market number a model of `target` is judged against."""

    words: str  # as the verdict's reasons name it
    frame_column: str  # in the feature frame (re-scored history)
    forward_column: str | None  # in betting.forward.forward_predictions (stored picks)


BENCHMARKS: dict[str, Benchmark] = {
    "home_win": Benchmark("the closing line", "p_close_home", "close_home"),
    "over_close": Benchmark("the closing line", "p_close_over", None),
    "p_close_home": Benchmark("the opening line", "p_open_home", "consensus_home"),
}


@dataclass(frozen=True)
class Performance:
    n: int
    model_log_loss: float
    # The benchmark's (`benchmark`): the closing line's, or the opening line's for the
    # closing-line model; the name is the drift_checks column's.
    close_log_loss: float
    interval: BootstrapInterval  # mean(model - benchmark) per-game log loss
    benchmark: str = "the closing line"

    @property
    def relative_gap(self) -> float:
        """model / benchmark - 1: how much worse than the market's number, relatively."""
        return self.model_log_loss / self.close_log_loss - 1.0


def measure_performance(
    y: npt.ArrayLike,
    p_model: npt.ArrayLike,
    p_close: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray] = log_loss_per_game,
    benchmark: str = "the closing line",
) -> Performance | None:
    """None when there is no settled game (with a label and a benchmark price) yet. `loss` is
    per game; the closing-line model's label is a probability (cross-entropy)."""
    y_arr = np.asarray(y, dtype=float)
    model = np.asarray(p_model, dtype=float)
    close = np.asarray(p_close, dtype=float)
    known = ~(np.isnan(y_arr) | np.isnan(model) | np.isnan(close))
    if not known.any():
        return None
    loss_model = loss(y_arr[known], model[known])
    loss_close = loss(y_arr[known], close[known])
    return Performance(
        n=int(known.sum()),
        model_log_loss=float(loss_model.mean()),
        close_log_loss=float(loss_close.mean()),
        interval=paired_bootstrap(
            loss_model, loss_close, confidence=confidence, n_boot=n_boot, seed=seed
        ),
        benchmark=benchmark,
    )
