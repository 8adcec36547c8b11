"""`bullpen deployment pause|resume NAME`: what `prefect deployment resume` would be (Prefect 3.8
has none), for deployments paused by hand, by `make up` or by the automation
bullpen-pause-failing-deployment (bullpen.ops.deployments)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Pause or resume a deployment and its schedules.", no_args_is_help=True)

NAME = Annotated[str, typer.Argument(help="flow/deployment, e.g. collect-odds/every-15-min")]


def _require_api() -> None:
    from bullpen import profiles

    if not profiles.prefect_api_url():
        typer.echo("error: set PREFECT_API_URL: deployments live on a Prefect server", err=True)
        raise typer.Exit(2)


def _set(name: str, paused: bool) -> None:
    from bullpen.ops import deployments

    try:
        lines = deployments.set_paused(name, paused)
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for line in lines:
        typer.echo(line)


@app.command("pause")
def pause(name: NAME) -> None:
    """Pause the deployment and make each of its schedules inactive."""
    _require_api()
    _set(name, True)


@app.command("resume")
def resume(
    name: NAME,
    force: Annotated[
        bool, typer.Option(help="Resume even though its secret is missing here.")
    ] = False,
) -> None:
    """Resume the deployment and activate its schedules; refuses while a secret it needs (Odds
    API key, backup key) resolves neither from the environment nor from a saved block."""
    _require_api()
    from bullpen.ops import deployments

    why = deployments.missing_secret(name)
    if why is not None and not force:
        typer.echo(f"error: {name} stays paused: {why}", err=True)
        raise typer.Exit(2)
    _set(name, False)
