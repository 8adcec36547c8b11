"""`bullpen automations`: self-healing Prefect automations as code (bullpen.ops.automations)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Self-healing Prefect automations.", no_args_is_help=True)


@app.command("apply")
def apply(
    failures: Annotated[int, typer.Option(help="Failed runs that pause a deployment.")] = 3,
    window_hours: Annotated[float, typer.Option(help="Window those failures fall in.")] = 24,
    reschedule_after: Annotated[
        float, typer.Option(help="Seconds a crashed run waits before it is rescheduled (>= 10).")
    ] = 60,
    heartbeat_grace: Annotated[
        float, typer.Option(help="Seconds without a heartbeat before a run is marked Crashed.")
    ] = 90,
) -> None:
    """Create or update the automations (idempotent, by name) on PREFECT_API_URL."""
    from datetime import timedelta

    from bullpen import profiles
    from bullpen.ops import prefect_process

    api = profiles.prefect_api_url()
    if not api:
        typer.echo("error: set PREFECT_API_URL: automations live on a Prefect server", err=True)
        raise typer.Exit(2)
    for line in prefect_process.apply_automations(
        api,
        failures,
        timedelta(hours=window_hours),
        timedelta(seconds=reschedule_after),
        timedelta(seconds=heartbeat_grace),
    ):
        typer.echo(line)
