"""Backup benchmark on the demo database: backup time, size vs database size, restore-and-verify
time (RTO), and the RPO the hourly schedule achieves, in one run.

Uses the bullpen and MLflow databases and artifacts under BULLPEN_HOME (fill it once with
`bullpen demo`), a local `rclone serve s3` started here with throw-away keys, and a throw-away
backup key. Restores go into scratch databases on the same server, dropped afterwards.

    BULLPEN_HOME=/tmp/bp-backup .venv/bin/python bench/backup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bullpen import runtime
from bullpen.backup import archive, dump, local_s3, restore, s3, snapshot
from bullpen.config import get_settings
from bullpen.db import urls

HOURLY_INTERVAL_S = 3600  # backup/hourly in prefect.yaml


def _target(server: local_s3.LocalS3, access: str, secret: str) -> s3.BackupTarget:
    client = s3.make_client(
        server.endpoint_url, "us-east-1", access_key_id=access, secret_access_key=secret
    )
    return s3.BackupTarget(client, "bench-backups", "backups")


def _database_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def one_round(
    sources: snapshot.Sources, target: s3.BackupTarget, key: archive.BackupKey, work: Path
) -> dict[str, float]:
    """Backup then restore-and-verify once; every phase timed on the wall clock."""
    t0 = time.perf_counter()
    created = snapshot.create_backup(sources, key, work / "make", kind="bench")
    t1 = time.perf_counter()
    s3.upload_backup(target, created.id, created.payload, created.manifest)
    t2 = time.perf_counter()
    verified = restore.fetch_verified(target, created.id, key, work / "fetch")
    t3 = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    targets = restore.RestoreTargets(
        urls.with_database(sources.bullpen_url, f"bench_bullpen_{tag}"),
        urls.with_database(sources.bullpen_url, f"bench_mlflow_{tag}"),
        work / "artifacts",
    )
    try:
        report = restore.restore_backup(verified, targets)
        t4 = time.perf_counter()
        models = restore.check_models(
            urls.sqlalchemy_url(targets.mlflow_url), verified.manifest.models
        )
        t5 = time.perf_counter()
    finally:
        for url in (targets.bullpen_url, targets.mlflow_url):
            dump.drop_database(url)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "dump_pack_encrypt_s": t1 - t0,
        "upload_s": t2 - t1,
        "backup_s": t2 - t0,
        "download_verify_s": t3 - t2,
        "restore_compare_s": t4 - t3,
        "load_models_s": t5 - t4,
        "rto_s": t4 - t2,
        "rto_with_models_s": t5 - t2,
        "payload_bytes": created.payload_bytes,
        "plain_bytes": created.plain_bytes,
        "tables": report.tables_checked,
        "rows": report.rows_checked,
        "models": len(models),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    sources = runtime.backup_sources(settings)
    db_bytes = _database_bytes(sources.bullpen_url) + _database_bytes(sources.mlflow_url)
    artifact_bytes = sum(
        m.source.stat().st_size for m in snapshot.artifact_members(sources.artifact_root)
    )
    with psycopg.connect(sources.bullpen_url) as conn:
        games = conn.execute("SELECT count(*) FROM games").fetchone()
    if not games or games[0] == 0:
        raise SystemExit(f"no games under {settings.home}: run `bullpen demo` first")

    scratch = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    access, secret = f"bench-{secrets.token_hex(4)}", secrets.token_hex(20)
    server = local_s3.start_local_s3(scratch / "s3", access, secret)
    key = archive.BackupKey.parse(archive.generate_key())
    try:
        target = _target(server, access, secret)
        rounds = [
            one_round(sources, target, key, scratch / f"round-{i}") for i in range(args.repeat)
        ]
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    def med(name: str) -> float:
        return statistics.median(r[name] for r in rounds)

    first = rounds[0]
    print(
        f"bullpen backup benchmark: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {args.repeat} rounds"
    )
    print(
        f"demo data: {games[0]} games; {first['tables']} tables, {first['rows']} rows; "
        f"databases {db_bytes / 1e6:.1f} MB on disk, artifacts {artifact_bytes / 1e3:.0f} kB"
    )
    print(
        f"backup size: {first['payload_bytes'] / 1e6:.2f} MB encrypted "
        f"(from {first['plain_bytes'] / 1e6:.2f} MB of dumps+artifacts; "
        f"{100 * first['payload_bytes'] / db_bytes:.1f}% of the database size on disk)"
    )
    rows = [
        ("dump + pack + encrypt", "dump_pack_encrypt_s"),
        ("upload", "upload_s"),
        ("backup total", "backup_s"),
        ("download + verify", "download_verify_s"),
        ("restore + compare tables", "restore_compare_s"),
        ("RTO (restore-and-verify)", "rto_s"),
        ("load champion models", "load_models_s"),
        ("RTO incl. model load", "rto_with_models_s"),
    ]
    print(f"{'phase':<28}{'median s':>10}{'min s':>8}{'max s':>8}")
    for label, name in rows:
        values = [r[name] for r in rounds]
        print(f"{label:<28}{med(name):>10.2f}{min(values):>8.2f}{max(values):>8.2f}")
    rpo = HOURLY_INTERVAL_S + med("backup_s")
    print(
        f"RPO with backup/hourly: <= {rpo / 60:.1f} min (interval {HOURLY_INTERVAL_S // 60} min"
        f" + backup {med('backup_s'):.1f} s); RTO target 60 s: "
        f"{'met' if med('rto_with_models_s') < 60 else 'MISSED'}"
    )
    summary = {name: round(med(name), 3) for _, name in rows}
    summary.update(
        database_bytes=db_bytes,
        artifact_bytes=artifact_bytes,
        payload_bytes=first["payload_bytes"],
        plain_bytes=first["plain_bytes"],
        rpo_s=round(rpo, 1),
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
