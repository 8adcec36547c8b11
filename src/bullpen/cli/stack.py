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
