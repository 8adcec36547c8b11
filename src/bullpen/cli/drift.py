"""`bullpen drift`: run the check-drift flow (Evidently) and show the stored checks."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from bullpen.cli.common import MODEL, run_flow, setup

app = typer.Typer(help="Drift checks of the champions (Evidently).", no_args_is_help=True)


@app.command()
def check(
    model: MODEL,
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
def list_checks(model: MODEL, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Stored drift checks, newest first."""
    from bullpen import runtime
    from bullpen.db import engine

    with engine.connect(runtime.database_url()) as conn:
        rows = conn.execute(
            "SELECT check_id, checked_at, window_start, window_end, champion_version, verdict,"
            " drift_share, prediction_drift, relative_gap, reasons FROM drift_checks"
            " WHERE model = %s ORDER BY checked_at DESC, check_id DESC LIMIT %s",
            (model.value, limit),
        ).fetchall()
    for cid, at, start, end, version, verdict, share, pred, gap, reasons in rows:
        gap_text = f"{gap:+.1%}" if gap is not None else "-"
        typer.echo(
            f"#{cid} {at:%Y-%m-%d %H:%M} v{version} {start}..{end} {verdict:<7} "
            f"drift {share:.0%} prediction_drift={pred} gap {gap_text}"
        )
        for reason in reasons:
            typer.echo(f"    {reason}")
