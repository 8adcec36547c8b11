"""`bullpen stack`: the local stack (infra/stack.py): Postgres, Prefect server + worker, MLflow,
S3 server and the metrics exporter, with pids and logs under .bullpen/stack/."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Start, stop and inspect the local stack (infra/stack.py).", no_args_is_help=True
)


def _stack() -> object:
    import importlib.util
    import sys

    from bullpen import runtime

    path = runtime.repo_root() / "infra" / "stack.py"
    spec = importlib.util.spec_from_file_location("bullpen_infra_stack", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


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
