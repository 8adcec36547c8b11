"""`bullpen backup`: list, run, verify and restore encrypted backups on S3 (docs/backup.md)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import unquote, urlparse

import typer

from bullpen.cli.common import run_flow, setup

app = typer.Typer(
    help="Encrypted, verified backups of bullpen on S3 (docs/backup.md).", no_args_is_help=True
)


def _run_flow(entrypoint: str, **params: Any) -> Any:
    """Run a flow from flows/backup.py; a refused backup exits 2 with its reason, not a trace."""
    setup(progress=True)
    with _clean_errors():
        return run_flow(f"backup.py:{entrypoint}", **params)


@contextmanager
def _clean_errors() -> Iterator[None]:
    """Refusals exit 2 and S3 failures exit 1, each with one line saying why."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    from bullpen.backup.errors import BackupError

    try:
        yield
    except (BackupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (BotoCoreError, ClientError, Boto3Error) as exc:
        typer.echo(f"error: S3 request failed: {exc}", err=True)
        raise typer.Exit(1) from exc


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@app.command("list")
def list_backups(
    as_json: Annotated[bool, typer.Option("--json", help="Emit JSON instead of a table.")] = False,
) -> None:
    """Backups in the bucket, newest first, each manifest checked with the backup key.

    Only `verified` backups count; UNVERIFIED (manifest fails its HMAC: forged or damaged),
    FUTURE (dated later than now) and INCOMPLETE (upload never finished) ones are ignored.
    """
    from bullpen import runtime
    from bullpen.backup import s3
    from bullpen.backup.errors import BackupError

    with _clean_errors():
        target = runtime.backup_target()
        try:
            key = runtime.backup_key()
        except BackupError as exc:  # listing still helps; say that nothing was verified
            typer.echo(f"warning: {exc}; statuses are unchecked", err=True)
            key = None
        listed = s3.list_backups(target, key)
    if as_json:
        rows = [
            {
                "id": b.id,
                "kind": b.kind,
                "created_at": b.created_at.isoformat(),
                "status": b.status,
                "complete": b.complete,
                "problem": b.problem,
                "payload_bytes": b.payload_bytes,
            }
            for b in listed
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"s3://{target.bucket}/{target.prefix}")
    for b in listed:
        status = b.status if b.complete else b.status.upper()
        line = f"{b.id:<34} {b.kind:<8} {_human(b.payload_bytes):>9}  {status}"
        typer.echo(f"{line}: {b.problem}" if b.problem else line)
    typer.echo(
        f"({sum(b.complete for b in listed)} {'verified' if key else 'unchecked'}, "
        f"{len(listed)} in all)"
    )


@app.command()
def run(
    kind: Annotated[str, typer.Option(help="Label in the id: nightly, hourly...")] = "manual",
) -> None:
    """Take a backup now and upload it (flow backup), then apply retention."""
    summary = _run_flow("backup", kind=kind)
    typer.echo(
        f"backup {summary['id']}: {_human(summary['payload_bytes'])} encrypted "
        f"({_human(summary['database_bytes'])} of databases); "
        f"retention deleted {len(summary['deleted'])}"
    )


@app.command()
def verify(
    latest: Annotated[bool, typer.Option("--latest", help="Verify the newest backup.")] = False,
    backup_id: Annotated[str | None, typer.Option("--id", help="Backup id to verify.")] = None,
    load_models: Annotated[bool, typer.Option(help="Also load every aliased model.")] = True,
) -> None:
    """Restore a backup into scratch databases, compare every table, load models, drop it."""
    if latest == (backup_id is not None):
        typer.echo("error: give exactly one of --latest or --id", err=True)
        raise typer.Exit(2)
    report = _run_flow("verify_backup", backup_id=backup_id, load_models=load_models)
    typer.echo(
        f"backup {report['backup_id']} verified: {report['tables_checked']} tables and "
        f"{report['rows_checked']} rows identical, {report['artifact_files']} artifact files, "
        f"models loaded: {', '.join(report['models_loaded']) or 'none'}"
    )


@app.command()
def restore(
    backup_id: Annotated[str, typer.Option("--id", help="Backup id (see `bullpen backup list`).")],
    target_url: Annotated[
        str, typer.Option(help="New database for bullpen, e.g. postgresql://.../bullpen_restored")
    ],
    mlflow_target_url: Annotated[
        str | None, typer.Option(help="New database for MLflow (default: <target>_mlflow).")
    ] = None,
    artifact_dir: Annotated[
        str | None, typer.Option(help="New directory for MLflow artifacts.")
    ] = None,
    switch: Annotated[
        bool, typer.Option(help="After the checks pass, make the restored copy the live one.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before --switch (for scripts).")
    ] = False,
) -> None:
    """Verify a backup, restore it into new databases, compare every table; optionally switch."""
    if switch and not yes:
        _confirm_switch(backup_id)
    params = {
        "backup_id": backup_id,
        "target_url": _password_to_env(target_url),
        "mlflow_target_url": _password_to_env(mlflow_target_url) if mlflow_target_url else None,
        "artifact_dir": artifact_dir,
        "switch": switch,
    }
    report = _run_flow("restore", **params)
    typer.echo(json.dumps(report, indent=2))


def _confirm_switch(backup_id: str) -> None:
    """--switch replaces the live databases: ask on a terminal; without one, demand --yes."""
    if not sys.stdin.isatty():
        typer.echo(
            "error: --switch makes the restored copy the live database and needs confirmation: "
            "no terminal to ask on, so pass --yes; nothing was restored",
            err=True,
        )
        raise typer.Exit(2)
    question = (
        f"Restore backup {backup_id}, then make it the LIVE database (the live databases and "
        "artifacts are renamed *_before_<time> and kept)?"
    )
    if not typer.confirm(question, default=False):
        typer.echo("not confirmed: nothing was restored", err=True)
        raise typer.Exit(1)


@app.command()
def keygen() -> None:
    """Print a new random backup key (store it as BULLPEN_BACKUP_KEY or the Secret block)."""
    from bullpen.backup.archive import generate_key

    typer.echo(generate_key())


def _password_to_env(url: str) -> str:
    """Move a URL's password into PGPASSWORD (read by libpq) so it never becomes a flow
    parameter, which the Prefect API would store."""
    parsed = urlparse(url)
    if not parsed.password:
        return url
    os.environ["PGPASSWORD"] = unquote(parsed.password)
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", "@")).geturl()
