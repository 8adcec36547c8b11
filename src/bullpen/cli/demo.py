"""`bullpen demo`: database, replay, training, backtest and the comparison table, end to end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import typer

from bullpen import DEFAULT_EVAL_SEASON
from bullpen.cli.common import EVAL_SEASON, run_flow, setup


def demo(eval_season: EVAL_SEASON = DEFAULT_EVAL_SEASON) -> None:
    """Everything, end to end: database, replay, training, backtest, comparison table."""
    setup()
    started = time.perf_counter()
    from bullpen import runtime
    from bullpen.ops import prefect_process

    # A fresh home pays for two sets of schema migrations (Prefect's and MLflow's, ~35 s on 2
    # cores): run them beside the database start and the replay instead of in front of them.
    prefect_ready = _Background(prefect_process.start_ephemeral_prefect)
    typer.echo("1/4 database: starting PostgreSQL and applying migrations")
    url = runtime.database_url()
    runtime.prepare_database(url)
    mlflow_ready = _Background(_create_mlflow_tables)
    typer.echo(f"    at {time.perf_counter() - started:.1f} s")
    typer.echo("2/4 flow collect-history: replaying the bundled seasons")
    prefect_ready.join()
    replayed = run_flow("collect_history.py:collect_history")
    mlflow_ready.join()
    odds = [s for s in replayed if "plate_appearances" not in s]
    events = [s for s in replayed if "plate_appearances" in s]
    typer.echo(
        f"    {sum(s['games'] for s in odds)} games from {len(odds)} season files, "
        f"{sum(s['quarantined'] for s in odds)} quarantined records; play-by-play of "
        f"{len(events)} seasons ({sum(s['skipped'] for s in events)} unchanged): "
        f"{sum(s['plate_appearances'] for s in events)} plate appearances written, "
        f"{sum(s['quarantined'] for s in events)} quarantined records, "
        f"at {time.perf_counter() - started:.1f} s"
    )
    typer.echo(
        f"3/4 flow train-models: training on seasons < {eval_season}, evaluating on {eval_season}"
    )
    trained = run_flow("train_models.py:train_models", eval_season=eval_season)
    typer.echo(f"    at {time.perf_counter() - started:.1f} s")
    typer.echo("4/4 flow backtest: betting the opener where the closing-line model expects a move")
    # Three seasons walk forward (the bench and the weekly deployment start at 2014).
    tested = run_flow(
        "backtest.py:backtest_champion", eval_season=eval_season, first_season=eval_season - 2
    )
    typer.echo(_demo_table(trained, tested, eval_season))
    typer.echo(f"\nReport:    {tested['report']}")
    typer.echo("MLflow UI: .venv/bin/bullpen mlflow ui   (then open http://127.0.0.1:5000)")
    typer.echo(f"Demo finished in {time.perf_counter() - started:.1f} s")


class _Background(threading.Thread):
    """Runs `target` at once; join() re-raises its error, so a failed warm-up fails the caller."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._work = target
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - handed to the joining thread
            self._error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self._error is not None:
            raise self._error


def _create_mlflow_tables() -> None:
    from bullpen import runtime
    from bullpen.models import mlflow_store

    mlflow_store.client(runtime.mlflow_tracking_uri()).search_experiments(max_results=1)


def _demo_table(trained: dict, tested: dict, season: int) -> str:
    from bullpen.models.evaluate import Metrics, format_comparison

    lines = []
    for model, result in trained.items():
        lines.append(
            f"\n{model}: season {season}, version {result['version']} "
            f"(champion v{result['champion_version']}: {result['decision']})"
        )
        lines.append(format_comparison({k: Metrics(**v) for k, v in result["comparison"].items()}))
    from bullpen.betting.report_text import rows_table

    lines.append(
        f"\nopener strategy, walk-forward (each season: closing-line model fit on earlier seasons; "
        f"{season}: the champion)"
    )
    lines.append(rows_table(tested["seasons"], tested["pooled"]))
    return "\n".join(lines)
