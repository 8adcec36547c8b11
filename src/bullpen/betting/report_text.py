"""The opener strategy's season table as plain text (demo, CLI) and as JSON-able rows (flows)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bullpen.betting.opener import SeasonBets


def season_row(s: SeasonBets) -> dict:
    """One season's figures, JSON-able (NaN becomes None)."""
    return {
        "season": s.season,
        "r2_move": s.r2_move if math.isfinite(s.r2_move) else None,
        "threshold": s.params.threshold,
        "kelly_multiplier": s.params.kelly_multiplier,
        **s.summary.as_dict(),
        "final_bankroll": s.result.final_bankroll,
    }


def _num(value: float | None, spec: str, scale: float = 1.0) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return format(value * scale, spec)


HEADER = (
    f"{'season':>6}  {'R2 move':>7}  {'thr':>5}  {'kelly':>5}  {'bets':>5}  {'CLV pp (SE)':>13}  "
    f"{'EV@close [95% CI]':>24}  {'ROI [95% CI]':>24}  {'max DD':>6}"
)


def _line(label: str, row: dict) -> str:
    clv = f"{_num(row['mean_clv'], '+.2f', 100)} ({_num(row['clv_se'], '.2f', 100)})"
    low, high = row["ev_ci"]
    ev = f"{_num(row['ev_at_close'], '+.2%')} [{_num(low, '+.2%')}, {_num(high, '+.2%')}]"
    low, high = row["roi_ci"]
    roi = f"{_num(row['roi'], '+.1%')} [{_num(low, '+.1%')}, {_num(high, '+.1%')}]"
    r2, threshold = _num(row.get("r2_move"), ".3f"), _num(row.get("threshold"), ".3f")
    return (
        f"{label:>6}  {r2:>7}  {threshold:>5}  "
        f"{_num(row.get('kelly_multiplier'), '.2f'):>5}  {row['n']:>5d}  {clv:>13}  {ev:>24}  "
        f"{roi:>24}  {_num(row['max_drawdown'], '.1%'):>6}"
    )


def rows_table(rows: Sequence[dict], pooled: dict | None = None) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    lines.extend(_line(str(row["season"]), row) for row in rows)
    if pooled is not None:
        lines.append(_line("pooled", pooled))
    return "\n".join(lines)


def season_table(seasons: Sequence[SeasonBets]) -> str:
    return rows_table([season_row(s) for s in seasons])
