"""What every `bullpen` command group shares: logging and Prefect setup, running a flow, the
model choice, and failing early (exit 2, one line) when the database lacks the seasons asked.

Imports stay light here: heavy libraries load inside the functions, so `bullpen --help` is fast.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Annotated, Any, NoReturn

import typer


class Model(enum.StrEnum):
    """The models a study tunes (the closing-line model has none)."""

    moneyline = "moneyline"
    totals = "totals"


class AuditedModel(enum.StrEnum):
    """Every model whose aliases move through the registry (its audit history)."""

    moneyline = "moneyline"
    totals = "totals"
    closing_line = "closing-line"  # bullpen.models.closing_line.NAME, not imported: fast --help


AUDITED_MODEL = Annotated[AuditedModel, typer.Option("--model", help="Which model.")]
EVAL_SEASON = Annotated[int, typer.Option(help="Season to evaluate on (train on earlier ones).")]


def setup(*, progress: bool = False) -> None:
    """Logging, bullpen's home and Prefect settings for a command that runs flows.

    `progress` shows bullpen's INFO lines (collections and backups report as they go).
    """
    from bullpen.config import get_settings
    from bullpen.ops.prefect_process import prefect_defaults

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if progress:
        logging.getLogger("bullpen").setLevel(logging.INFO)
    # MLflow's SQLAlchemy sessions on psycopg 3 log a harmless pipeline notice when collected.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    settings = get_settings()
    # Prefect cannot create its home under a BULLPEN_HOME that does not exist yet.
    settings.home.mkdir(parents=True, exist_ok=True)
    prefect_defaults(settings)
    if settings.log_json:
        from bullpen.ops.logs import configure_logging

        configure_logging()


def run_flow(entrypoint: str, /, **params: Any) -> Any:
    """Run flow `file.py:function` of flows/ in this process and return its result."""
    from bullpen.ops import prefect_process

    flow = prefect_process.load_flow(entrypoint)
    return flow(**params)  # type: ignore[operator]


@contextmanager
def exit_on(*errors: type[BaseException], code: int = 2) -> Iterator[None]:
    """A refusal (one of `errors`) ends the command with exit `code` and its reason on one line,
    not a traceback."""
    try:
        yield
    except errors as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code) from exc


def seasons_with_results() -> list[int]:
    """Seasons with final scores in the database (migrated first): a check before a flow run."""
    from bullpen import runtime
    from bullpen.db import engine
    from bullpen.db.games import seasons_with_results as query

    url = runtime.database_url()
    runtime.prepare_database(url)
    with engine.connect(url) as conn:
        return query(conn)


def exit_for_missing_seasons(problem: str) -> NoReturn:
    typer.echo(f"error: {problem}; load seasons with `bullpen collect-history`", err=True)
    raise typer.Exit(2)


def require_evaluable(eval_season: int) -> None:
    """Exit 2 unless the database holds `eval_season` and an earlier season with results."""
    seasons = seasons_with_results()
    if eval_season not in seasons or seasons[0] >= eval_season:
        found = ", ".join(map(str, seasons)) or "none"
        exit_for_missing_seasons(
            f"evaluating on {eval_season} needs that season and an earlier one with results, "
            f"found {found}"
        )


def load_repo_script(relative_path: str, module_name: str) -> ModuleType:
    """Import a script of the repository that is not part of the package (blocks/bootstrap.py,
    infra/stack.py) as module `module_name`."""
    import importlib.util
    import sys

    from bullpen import runtime

    path = runtime.repo_root() / relative_path
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module
