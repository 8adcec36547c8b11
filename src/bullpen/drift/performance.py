"""The champion's log loss against the vig-free closing line on the same settled games."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bullpen.models.evaluate import log_loss_per_game
from bullpen.registry.bootstrap import BootstrapInterval, paired_bootstrap


@dataclass(frozen=True)
class Performance:
    n: int
    model_log_loss: float
    close_log_loss: float
    interval: BootstrapInterval  # mean(model - close) per-game log loss

    @property
    def relative_gap(self) -> float:
        """model / close - 1: how much worse than the closing line, relatively."""
        return self.model_log_loss / self.close_log_loss - 1.0


def measure_performance(
    y: npt.ArrayLike,
    p_model: npt.ArrayLike,
    p_close: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Performance | None:
    """None when there is no settled game (with a label and a closing price) yet."""
    y_arr = np.asarray(y, dtype=float)
    model = np.asarray(p_model, dtype=float)
    close = np.asarray(p_close, dtype=float)
    known = ~(np.isnan(y_arr) | np.isnan(model) | np.isnan(close))
    if not known.any():
        return None
    loss_model = log_loss_per_game(y_arr[known], model[known])
    loss_close = log_loss_per_game(y_arr[known], close[known])
    return Performance(
        n=int(known.sum()),
        model_log_loss=float(loss_model.mean()),
        close_log_loss=float(loss_close.mean()),
        interval=paired_bootstrap(
            loss_model, loss_close, confidence=confidence, n_boot=n_boot, seed=seed
        ),
    )
