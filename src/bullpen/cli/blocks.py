"""`bullpen blocks`: create the stock Prefect blocks from settings (blocks/bootstrap.py)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Stock Prefect blocks (bullpen-db, bullpen-aws, ...).", no_args_is_help=True)


@app.command("bootstrap")
def bootstrap() -> None:
    """Save bullpen-db, bullpen-aws, bullpen-backups and the Secrets (idempotent)."""
    import importlib.util
    import sys

    from bullpen import runtime

    if not runtime.prefect_api_url():
        typer.echo("error: set PREFECT_API_URL: blocks live on a Prefect server", err=True)
        raise typer.Exit(2)
    path = runtime.repo_root() / "blocks" / "bootstrap.py"
    spec = importlib.util.spec_from_file_location("bullpen_blocks_bootstrap", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    for block, outcome in module.bootstrap():
        typer.echo(f"{block:<22} {outcome}")
