"""`bullpen model`: retrain with champion/challenger gates, the audit history, manual rollback."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bullpen.cli.common import AUDITED_MODEL, run_flow, setup

app = typer.Typer(
    help="Champion/challenger: retrain, audit history, rollback.", no_args_is_help=True
)


def format_decision(result: dict[str, Any]) -> str:
    """The retrain decision as a few lines: action, versions, log losses, bootstrap interval."""
    lines = [
        f"{result['model']}: {result['action'].upper()}"
        f"{' (forced)' if result.get('forced') else ''}  (trigger: {result['trigger']})"
    ]
    if result.get("challenger_version"):
        lines.append(
            f"  challenger v{result['challenger_version']} vs champion "
            f"v{result.get('champion_before') or '-'} on {result['n_eval_games']} games of "
            f"{result['eval_season']}"
        )
        champion = result.get("champion_log_loss")
        lines.append(
            f"  log loss: challenger {result['challenger_log_loss']:.5f}, champion "
            + (f"{champion:.5f}" if champion is not None else "-")
        )
    interval = result.get("interval")
    if interval:
        lines.append(
            f"  paired bootstrap, challenger - champion per-game log loss: mean "
            f"{interval['mean']:+.5f}, {interval['confidence']:.0%} CI "
            f"[{interval['lower']:+.5f}, {interval['upper']:+.5f}] ({interval['n_boot']} resamples)"
        )
    lines.append(f"  reason: {result['reason']}")
    lines.append(f"  audit row #{result['audit_id']}")
    return "\n".join(lines)


@app.command()
def retrain(
    model: AUDITED_MODEL,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")] = "manual",
    force: Annotated[
        bool, typer.Option(help="Promote even if not better (recorded as forced).")
    ] = False,
    eval_season: Annotated[
        int | None, typer.Option(help="Season to judge on (default: the newest).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Emit JSON.")] = False,
) -> None:
    """Train a challenger and promote it only when it earns it (flow retrain-models)."""
    setup()
    result = run_flow(
        "retrain.py:retrain_models",
        model=model.value,
        reason=reason,
        force=force,
        eval_season=eval_season,
    )
    typer.echo(json.dumps(result, indent=2, default=str) if as_json else format_decision(result))


@app.command()
def history(
    model: AUDITED_MODEL,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Every promotion, rejected challenger, stopped retraining and rollback, newest first."""
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.registry import audit

    with engine.connect(runtime.database_url()) as conn:
        rows = audit.list_audit(conn, model.value, limit)
    typer.echo(audit.format_history(rows))


@app.command()
def rollback(
    model: AUDITED_MODEL,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")] = "manual",
) -> None:
    """Point `champion` back at `previous-champion` now (audited)."""
    setup()
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.models.catalog import spec_named
    from bullpen.registry import monitor

    try:
        with engine.connect(runtime.database_url()) as conn:
            audit_id = monitor.rollback_champion(
                conn, runtime.mlflow_tracking_uri(), spec_named(model.value),
                stage="manual", trigger="bullpen model rollback", reason=reason,
            )  # fmt: skip
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{model.value}: rolled back (audit row #{audit_id})")


@app.command()
def aliases(model: AUDITED_MODEL) -> None:
    """Which version holds champion, challenger and previous-champion."""
    from bullpen import runtime
    from bullpen.models.catalog import spec_named
    from bullpen.registry import transition

    state = transition.read_aliases(
        runtime.mlflow_tracking_uri(), spec_named(model.value).registered_name
    )
    for alias, version in state.items():
        typer.echo(f"{alias:<18} {version or '-'}")
