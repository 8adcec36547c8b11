"""`bullpen players`: how SBR's listed starters were linked to Retrosheet ids."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Listed starting pitchers linked to Retrosheet ids, and the ones left unmatched.",
    no_args_is_help=True,
)


@app.command("unmatched")
def unmatched(
    season: Annotated[int | None, typer.Option(help="Only this season.")] = None,
    limit: int = 50,
) -> None:
    """Listed starters that no rule could link, with the reason (never guessed)."""
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.players.linking import HOME, unmatched_starters

    with engine.connect(runtime.database_url()) as conn:
        rows = unmatched_starters(conn, season=season, limit=limit)
    for r in rows:
        side = "home" if r.side == HOME else "away"
        typer.echo(f"{r.game_date} {r.away_team}@{r.home_team} {side} {r.sbr_name!r}: {r.reason}")
    typer.echo(f"({len(rows)} shown)")


@app.command("rates")
def rates() -> None:
    """Per season: named listed starters, how many were linked, and late scratches."""
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.players.linking import stored_link_counts

    with engine.connect(runtime.database_url()) as conn:
        counts = stored_link_counts(conn)
    typer.echo(f"{'season':>6}  {'named':>6}  {'linked':>7}  {'late scratches':>14}")
    for c in counts:
        share = c.matched / c.named if c.named else float("nan")
        typer.echo(f"{c.season:>6}  {c.named:>6}  {share:>7.2%}  {c.late_scratches:>14}")
