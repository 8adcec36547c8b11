"""`bullpen drift`: run the check-drift flow (Evidently) and show the stored checks."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from bullpen.cli.common import AUDITED_MODEL, run_flow, setup

app = typer.Typer(help="Drift checks of the champions (Evidently).", no_args_is_help=True)


@app.command()
def check(
    model: AUDITED_MODEL,
    window_days: Annotated[int, typer.Option(min=1, help="Days of games up to --as-of.")] = 30,
    as_of: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (default: the newest game loaded).")
    ] = None,
) -> None:
    """Compare the recent window with the champion's training reference (flow check-drift)."""
    setup()
    result = run_flow(
        "drift.py:check_drift",
        model=model.value,
        window_days=window_days,
        as_of=date.fromisoformat(as_of) if as_of else None,
    )
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command("list")
def list_checks(model: AUDITED_MODEL, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Stored drift checks, newest first."""
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.drift.store import list_drift_checks

    with engine.connect(runtime.database_url()) as conn:
        checks = list_drift_checks(conn, model.value, limit)
    for c in checks:
        gap_text = f"{c.relative_gap:+.1%}" if c.relative_gap is not None else "-"
        typer.echo(
            f"#{c.check_id} {c.checked_at:%Y-%m-%d %H:%M} v{c.champion_version} "
            f"{c.window_start}..{c.window_end} {c.verdict:<7} drift {c.drift_share:.0%} "
            f"prediction_drift={c.prediction_drift} gap {gap_text}"
        )
        for reason in c.reasons:
            typer.echo(f"    {reason}")
