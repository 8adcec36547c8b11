"""`bullpen collect games|odds`: run the live collection flows (docs/collectors.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from bullpen.cli.common import exit_on, run_flow, setup

app = typer.Typer(
    help="Live collection: MLB Stats API games and The Odds API odds (docs/collectors.md).",
    no_args_is_help=True,
)

START = Annotated[
    datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="First (or only) MLB date, YYYY-MM-DD."),
]
END = Annotated[
    datetime | None,
    typer.Option("--end-date", formats=["%Y-%m-%d"], help="Last MLB date, YYYY-MM-DD."),
]


def _run_flow(entrypoint: str, **params: Any) -> Any:
    """Run a flow of flows/collect_live.py; a refused collection exits 2 with its reason."""
    from bullpen.collect.http import SourceError

    setup(progress=True)
    with exit_on(SourceError, ConnectionError, ValueError):
        return run_flow(f"collect_live.py:{entrypoint}", **params)


@app.command("games")
def games(
    date: START = None,
    end_date: END = None,
) -> None:
    """Schedule, status and results (flow collect-games; default: yesterday and today, ET)."""
    summary = _run_flow(
        "collect_games",
        start_date=date.date() if date else None,
        end_date=end_date.date() if end_date else None,
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command("odds")
def odds(
    odds_format: Annotated[str, typer.Option(help="american or decimal.")] = "american",
    markets: Annotated[str, typer.Option(help="Comma-separated markets.")] = "h2h,totals,spreads",
    regions: Annotated[str, typer.Option(help="Comma-separated bookmaker regions.")] = "us",
) -> None:
    """One snapshot of current odds (flow collect-odds; costs markets x regions of the quota)."""
    summary = _run_flow("collect_odds", regions=regions, markets=markets, odds_format=odds_format)
    typer.echo(json.dumps(summary, indent=2, default=str))
