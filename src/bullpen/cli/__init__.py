"""`bullpen` command line: parses arguments, resolves resources, runs flows or library calls.

Heavy libraries (Prefect, MLflow, LightGBM, pandas) are imported inside the commands that need
them, so `bullpen --help` answers at once.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from bullpen import DEFAULT_EVAL_SEASON
from bullpen.cli.common import EVAL_SEASON, require_evaluable, run_flow, setup
from bullpen.cli.demo import demo

app = typer.Typer(
    help="bullpen: MLB betting models on Prefect, judged against the market.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich's markdown renderer costs ~0.4 s
)
db_app = typer.Typer(
    help="The bullpen database (embedded PostgreSQL by default).", no_args_is_help=True
)
quarantine_app = typer.Typer(
    help="Records that could not be trusted, with the reason.", no_args_is_help=True
)
mlflow_app = typer.Typer(
    help="MLflow tracking server over bullpen's registry.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(mlflow_app, name="mlflow")


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (if used) and apply migrations."""
    from bullpen import runtime
    from bullpen.db.urls import redact

    url = runtime.database_url()
    applied = runtime.prepare_database(url)
    typer.echo(f"database ready ({len(applied)} migrations applied now): {redact(url)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server."""
    from bullpen.config import get_settings
    from bullpen.db.engine import stop_embedded

    typer.echo("stopped" if stop_embedded(get_settings().pgdata) else "not running")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (password redacted)."""
    from bullpen import runtime
    from bullpen.db.urls import redact

    typer.echo(redact(runtime.database_url()))


@app.command("collect-history")
def collect_history(data_dir: Annotated[Path | None, typer.Option()] = None) -> None:
    """Replay the bundled seasons into the database (flow collect-history)."""
    setup()
    for summary in run_flow(
        "collect_history.py:collect_history", data_dir=str(data_dir) if data_dir else None
    ):
        typer.echo(summary)


@app.command()
def train(eval_season: EVAL_SEASON = DEFAULT_EVAL_SEASON) -> None:
    """Train, evaluate, register and maybe promote both models (flow train-models)."""
    setup()
    require_evaluable(eval_season)
    typer.echo(
        json.dumps(run_flow("train_models.py:train_models", eval_season=eval_season), indent=2)
    )


@app.command()
def backtest(eval_season: EVAL_SEASON = DEFAULT_EVAL_SEASON) -> None:
    """Backtest the moneyline champion and write the HTML report (flow backtest)."""
    setup()
    require_evaluable(eval_season)
    from bullpen import runtime
    from bullpen.models.train import MONEYLINE
    from bullpen.registry.challenger import champion_version

    if champion_version(runtime.mlflow_tracking_uri(), MONEYLINE) is None:
        typer.echo(
            f"error: {MONEYLINE.registered_name} has no champion yet: run `bullpen train`", err=True
        )
        raise typer.Exit(2)
    typer.echo(
        json.dumps(run_flow("backtest.py:backtest_champion", eval_season=eval_season), indent=2)
    )


app.command()(demo)  # cli/demo.py


@app.command()
def evaluate(
    odds_file: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="SBR-format season file (.csv or .csv.gz)"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Emit JSON instead of a table.")] = False,
) -> None:
    """Score the current champions on a season file the database may never have seen."""
    import zlib

    logging.basicConfig(level=logging.WARNING)
    from bullpen import runtime
    from bullpen.config import get_settings
    from bullpen.models.evaluate import format_comparison
    from bullpen.models.score_file import evaluate_odds_file

    settings = get_settings()
    try:
        result = evaluate_odds_file(
            odds_file,
            database_url=runtime.database_url(settings),
            tracking_uri=runtime.mlflow_tracking_uri(settings),
            devig_method=settings.devig_method,
        )
    except (LookupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (OSError, EOFError, zlib.error) as exc:
        # A corrupt or truncated gzip, or a path that cannot be read: one line, not a traceback.
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        typer.echo(f"error: cannot read {odds_file}: {reason or type(exc).__name__}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2))
        return
    typer.echo(
        f"{odds_file.name}: season {result.season}, {result.games_in_file} games in file, "
        f"{result.quarantined} quarantined records"
    )
    for note in result.notes:
        typer.echo(f"note: {note}")
    for name, evaluation in result.evaluations.items():
        typer.echo(f"\n{name} (champion v{result.versions[name]})")
        typer.echo(format_comparison(evaluation.comparison))
    if result.strategy is not None:
        from bullpen.betting.report_text import season_table

        typer.echo(
            f"\nopener strategy (closing-line champion v{result.versions['closing-line']}; "
            f"{result.strategy.why})"
        )
        typer.echo(season_table([result.strategy]))


@quarantine_app.command("list")
def quarantine_list(limit: int = 50, source: str | None = None) -> None:
    """Show quarantined records, newest first."""
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.db.quarantine import list_quarantine

    with engine.connect(runtime.database_url()) as conn:
        listing = list_quarantine(conn, source=source, limit=limit)
    for row in listing.rows:
        typer.echo(f"{row.source:<10} {row.file:<22} row {row.row_number:>5}  {row.reason}")
    typer.echo(f"({len(listing.rows)} shown, {listing.total} in quarantine)")


@mlflow_app.command("ui")
def mlflow_ui(port: int = 5000, host: str = "127.0.0.1") -> None:
    """Serve the MLflow UI over bullpen's tracking store and artifacts."""
    from bullpen import runtime
    from bullpen.config import get_settings
    from bullpen.registry.mlflow_server import serve

    settings = get_settings()
    typer.echo(f"MLflow UI on http://{host}:{port}")
    raise typer.Exit(
        serve(runtime.mlflow_tracking_uri(settings), settings.artifact_root, host, port)
    )


@app.command()
def health(
    as_json: Annotated[bool, typer.Option("--json", help="Emit JSON instead of lines.")] = False,
) -> None:
    """Check database, replica, S3, Prefect API, MLflow, disk and data; exit 1 if any fails."""
    from bullpen.ops.health import is_healthy, run_checks
    from bullpen.ops.targets import locate

    targets, problem = locate()
    checks = run_checks(targets, database_problem=problem)
    healthy = is_healthy(checks)
    if as_json:
        typer.echo(json.dumps({"healthy": healthy, "checks": [c.as_dict() for c in checks]}))
    else:
        for check in checks:
            typer.echo(f"{check.status.upper():<5} {check.name:<11} {check.reason}")
        typer.echo("healthy" if healthy else "UNHEALTHY")
    raise typer.Exit(0 if healthy else 1)


@app.command()
def status() -> None:
    """One screen: deployments and last runs, champion models and quality, backups, data age."""
    from bullpen.ops.status import render_status
    from bullpen.ops.targets import locate

    targets, problem = locate()
    typer.echo(render_status(targets, problem))


# Sub-command groups, one module per area (each imports its heavy libraries lazily).
_AREAS = ("backup", "collect", "hyperopt", "metrics", "blocks", "stack", "automations", "players")
for _area in (*_AREAS, "model", "drift"):
    app.add_typer(importlib.import_module(f"bullpen.cli.{_area}").app, name=_area)
app.add_typer(importlib.import_module("bullpen.cli.bets").app, name="bets")
app.add_typer(importlib.import_module("bullpen.cli.deployment").app, name="deployment")
