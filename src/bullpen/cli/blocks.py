"""`bullpen blocks`: create the stock Prefect blocks from settings (blocks/bootstrap.py)."""

from __future__ import annotations

import typer

from bullpen.cli.common import load_repo_script

app = typer.Typer(help="Stock Prefect blocks (bullpen-db, bullpen-aws, ...).", no_args_is_help=True)


@app.command("bootstrap")
def bootstrap() -> None:
    """Save bullpen-db, bullpen-aws, bullpen-backups and the Secrets (idempotent)."""
    from bullpen import profiles

    if not profiles.prefect_api_url():
        typer.echo("error: set PREFECT_API_URL: blocks live on a Prefect server", err=True)
        raise typer.Exit(2)
    module = load_repo_script("blocks/bootstrap.py", "bullpen_blocks_bootstrap")
    for block, outcome in module.bootstrap():
        typer.echo(f"{block:<22} {outcome}")
