"""`bullpen stack`: the local stack (infra/stack.py): Postgres, Prefect server + worker, MLflow,
S3 server and the metrics exporter, with pids and logs under .bullpen/stack/."""

from __future__ import annotations

import typer

from bullpen.cli.common import load_repo_script

app = typer.Typer(
    help="Start, stop and inspect the local stack (infra/stack.py).", no_args_is_help=True
)


def _stack() -> object:
    return load_repo_script("infra/stack.py", "bullpen_infra_stack")


@app.command("up")
def up() -> None:
    """Start every service that is not running (idempotent); print where each listens."""
    raise typer.Exit(_stack().main(["up"]))  # type: ignore[attr-defined]


@app.command("down")
def down() -> None:
    """Stop every service this stack started (by recorded pid); data stays."""
    raise typer.Exit(_stack().main(["down"]))  # type: ignore[attr-defined]


@app.command("status")
def status() -> None:
    """Which services run, with pid, address and log file."""
    raise typer.Exit(_stack().main(["status"]))  # type: ignore[attr-defined]


@app.command("credentials")
def credentials() -> None:
    """Print the stack's generated Prefect and MLflow credentials (kept 0600 under the home)."""
    raise typer.Exit(_stack().main(["credentials"]))  # type: ignore[attr-defined]


@app.command("secrets")
def secrets() -> None:
    """What scheduled runs need (run by `stack up`): a backup key, generated into
    <home>/stack/backup.key (0600) and saved as the block bullpen-backup-key when none is set;
    deployments whose secret is missing here (no Odds API key: collect-odds/every-15-min) are
    paused, one line each saying why and how to save it."""
    from bullpen import profiles
    from bullpen.config import get_settings
    from bullpen.ops import deployments

    if not profiles.prefect_api_url():
        typer.echo("error: set PREFECT_API_URL: blocks and deployments live on a Prefect server")
        raise typer.Exit(2)
    key_file = get_settings().home.resolve() / "stack" / "backup.key"
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    typer.echo(deployments.ensure_backup_key(key_file))
    for line in deployments.pause_without_secrets():
        typer.echo(line)
