"""Paired bootstrap of a per-game log-loss difference: a seeded confidence interval."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class BootstrapInterval:
    """Mean of (new - old) per-game log loss over n games and its percentile interval.

    Negative means the new source is better. `upper < 0` means better at `confidence`.
    """

    mean: float
    lower: float
    upper: float
    confidence: float
    n: int
    n_boot: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"mean diff {self.mean:+.5f}, {self.confidence:.0%} CI "
            f"[{self.lower:+.5f}, {self.upper:+.5f}] over {self.n} games"
        )


def paired_bootstrap(
    loss_new: npt.ArrayLike,
    loss_old: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> BootstrapInterval:
    """Percentile CI of mean(loss_new - loss_old), resampling games (pairs kept together).

    Both arrays hold per-game log losses on the same games in the same order; pairing removes
    the game-to-game noise both models share, which a comparison of two means would not.

    Raises:
        ValueError: on empty or mismatched inputs, non-finite losses or confidence outside (0, 1).
    """
    new = np.asarray(loss_new, dtype=float).ravel()
    old = np.asarray(loss_old, dtype=float).ravel()
    if new.size == 0 or new.size != old.size:
        raise ValueError(f"need equal, non-zero lengths; got {new.size} and {old.size}")
    if not (np.all(np.isfinite(new)) and np.all(np.isfinite(old))):
        raise ValueError("per-game losses must be finite")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    diff = new - old
    rng = np.random.default_rng(seed)
    # Resample in chunks: n_boot x n indices at once would take ~80 MB for a 5,000-game window.
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // diff.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, diff.size, size=(stop - start, diff.size))
        means[start:stop] = diff[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(means, [alpha, 1.0 - alpha])
    return BootstrapInterval(
        mean=float(diff.mean()),
        lower=float(lower),
        upper=float(upper),
        confidence=confidence,
        n=int(diff.size),
        n_boot=n_boot,
    )
