"""`bullpen bets`: today's picks, the forward record since a date, its HTML report, and the
recommend-bets / settle-bets flows on demand."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from bullpen.cli.common import exit_on, run_flow, setup

app = typer.Typer(help="The bets ledger: picks, forward record, report.", no_args_is_help=True)

SINCE = Annotated[
    str | None, typer.Option(help="YYYY-MM-DD: games from this date on (default: every pick).")
]
STRATEGY = Annotated[
    str | None,
    typer.Option(help="Strategy version (default: the one of the newest pick)."),
]


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _ledger(since: date | None, strategy: str | None):  # type: ignore[no-untyped-def]
    from bullpen import runtime
    from bullpen.betting.forward import load_ledger, newest_strategy
    from bullpen.db import engine

    with engine.connect(runtime.database_url()) as conn:
        ledger = load_ledger(conn, since=since)
    chosen = strategy or newest_strategy(ledger)
    return ledger, chosen


@app.command()
def today(
    day: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD game date (default: today, ET).")
    ] = None,
    strategy: STRATEGY = None,
) -> None:
    """Picks on the day's games with prices and stakes."""
    import pandas as pd

    from bullpen.teams import GAME_TIMEZONE

    wanted = _day(day) or pd.Timestamp.now(tz=GAME_TIMEZONE).date()
    ledger, chosen = _ledger(wanted, strategy)
    picks = ledger[ledger["game_date"] == wanted] if len(ledger) else ledger
    if strategy is not None and len(picks):
        picks = picks[picks["strategy_version"] == strategy]
    if picks.empty:
        typer.echo(f"no picks on {wanted}")
        return
    total = 0.0
    typer.echo(f"picks on {wanted}:")
    for p in picks.sort_values("bet_id").itertuples():
        total += p.stake
        p_side = p.p_home if p.side == "home" else p.p_away
        typer.echo(
            f"#{p.bet_id} {p.away_team} @ {p.home_team} {p.side:<4} {p.book} "
            f"{p.price_american:+d} stake {p.stake:.2f} p_close {p_side:.3f} [{p.state}] "
            f"{p.strategy_version}"
        )
    typer.echo(f"{len(picks)} picks, staked {total:.2f}")


@app.command("list")
def list_record(
    since: SINCE = None,
    strategy: STRATEGY = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """The forward record: bets, mean CLV (SE), EV at close, ROI (bootstrap), bankroll, drawdown."""
    from bullpen.betting.forward import forward_record

    first = _day(since)
    ledger, chosen = _ledger(first, strategy)
    if chosen is None:
        typer.echo("no picks in the ledger" + (f" on games from {first}" if first else ""))
        return
    with exit_on(ValueError):
        record = forward_record(ledger, chosen)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "strategy_version": record.strategy_version,
                    "since": str(first) if first else None,
                    "starting_bankroll": record.starting_bankroll,
                    "bankroll": record.bankroll,
                    "open": record.n_open,
                    "at_risk": record.at_risk,
                    "void": record.n_void,
                    **record.summary.as_dict(),
                },
                indent=2,
            )
        )
        return
    for line in record.lines():
        typer.echo(line)


@app.command()
def report(
    since: SINCE = None,
    strategy: STRATEGY = None,
    out: Annotated[
        Path | None, typer.Option(help="HTML file (default: reports/forward_<date>.html).")
    ] = None,
) -> None:
    """Write the forward record as an HTML page with the bankroll and cumulative-CLV curves."""
    from bullpen.betting.forward import forward_record, write_forward_report
    from bullpen.config import get_settings

    first = _day(since)
    ledger, chosen = _ledger(first, strategy)
    if chosen is None:
        typer.echo("error: no picks in the ledger", err=True)
        raise typer.Exit(2)
    with exit_on(ValueError):
        record = forward_record(ledger, chosen)
    path = out or get_settings().reports_dir / f"forward_{datetime.now():%Y%m%d}.html"
    write_forward_report(path, record, since=first)
    for line in record.lines():
        typer.echo(line)
    typer.echo(f"report: {path}")


@app.command()
def recommend(
    bankroll: Annotated[float, typer.Option(min=0.01)] = 1000.0,
    max_odds_age_minutes: Annotated[float, typer.Option(min=1)] = 30.0,
) -> None:
    """Run recommend-bets now (picks for every game not started)."""
    setup()
    result = run_flow(
        "recommend_bets.py:recommend_bets",
        bankroll=bankroll,
        max_odds_age_minutes=max_odds_age_minutes,
    )
    typer.echo(json.dumps({k: result[k] for k in ("games", "written", "picks")}, indent=2))


@app.command()
def settle() -> None:
    """Run settle-bets now."""
    setup()
    typer.echo(json.dumps(run_flow("settle_bets.py:settle_bets"), indent=2))
