"""`bullpen drift`: run the check-drift flow (Evidently) and show the stored checks."""

from __future__ import annotations

import enum
import json
import logging
from datetime import date
from typing import Annotated

import typer

app = typer.Typer(help="Drift checks of the champions (Evidently).", no_args_is_help=True)


class Model(enum.StrEnum):
    moneyline = "moneyline"
    totals = "totals"


MODEL = Annotated[Model, typer.Option("--model", help="Which model.")]


@app.command()
def check(
    model: MODEL,
    window_days: Annotated[int, typer.Option(min=1, help="Days of games up to --as-of.")] = 30,
    as_of: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (default: the newest game loaded).")
    ] = None,
) -> None:
    """Compare the recent window with the champion's training reference (flow check-drift)."""
    from bullpen.config import get_settings
    from bullpen.runtime import load_flow, prefect_defaults

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    get_settings().home.mkdir(parents=True, exist_ok=True)
    prefect_defaults()
    flow = load_flow("drift.py:check_drift")
    result = flow(  # type: ignore[operator]
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
