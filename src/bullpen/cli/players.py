"""`bullpen players`: how SBR's listed starters were linked to Retrosheet ids."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Listed starting pitchers linked to Retrosheet ids, and the ones left unmatched.",
    no_args_is_help=True,
)

_UNMATCHED = """
SELECT g.game_date, g.away_team, g.home_team, l.side, l.sbr_name, l.reason
FROM starter_links l JOIN games g USING (game_id)
WHERE l.listed_starter IS NULL AND l.sbr_name IS NOT NULL
  AND (%(season)s::int IS NULL OR g.season = %(season)s::int)
ORDER BY g.game_date, g.game_id, l.side
LIMIT %(limit)s
"""

_RATES = """
SELECT g.season, count(*) FILTER (WHERE l.sbr_name IS NOT NULL) AS named,
       count(l.listed_starter) AS matched, count(*) FILTER (WHERE l.late_scratch) AS scratches
FROM starter_links l JOIN games g USING (game_id)
GROUP BY g.season ORDER BY g.season
"""


@app.command("unmatched")
def unmatched(
    season: Annotated[int | None, typer.Option(help="Only this season.")] = None,
    limit: int = 50,
) -> None:
    """Listed starters that no rule could link, with the reason (never guessed)."""
    from bullpen import runtime
    from bullpen.db import engine

    with engine.connect(runtime.database_url()) as conn:
        rows = conn.execute(_UNMATCHED, {"season": season, "limit": limit}).fetchall()
    for day, away, home, side, name, reason in rows:
        typer.echo(f"{day} {away}@{home} {'home' if side else 'away'} {name!r}: {reason}")
    typer.echo(f"({len(rows)} shown)")


@app.command("rates")
def rates() -> None:
    """Per season: named listed starters, how many were linked, and late scratches."""
    from bullpen import runtime
    from bullpen.db import engine

    with engine.connect(runtime.database_url()) as conn:
        rows = conn.execute(_RATES).fetchall()
    typer.echo(f"{'season':>6}  {'named':>6}  {'linked':>7}  {'late scratches':>14}")
    for season, named, matched, scratches in rows:
        share = matched / named if named else float("nan")
        typer.echo(f"{season:>6}  {named:>6}  {share:>7.2%}  {scratches:>14}")
