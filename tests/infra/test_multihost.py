"""Bullpen on three hosts: one server, two workers, each a set of Linux namespaces on this machine.

Host `server` (10.77.0.1) runs PostgreSQL 15 (workers: TLS 1.3, scram, verify-full against a
lab CA), the Prefect server (basic auth), the MLflow server, the S3 server, a git daemon
serving this repository's HEAD and the recorded MLB Stats / Odds APIs (fixture_api.py); hosts
`w1` and `w2` (10.77.0.2/.3, one core each) run only a Prefect process worker on bullpen-pool,
set up by ansible/roles/prefect_worker (connection=local inside the host), with their own
address, home, hostname and code (the pinned commit fetched over the network), and see neither
the operator's checkout nor each other's files (tests/infra/multihost/hosts.py). `prefect
deploy --all` runs on the server from its own clone with
BULLPEN_GIT_URL=git://10.77.0.1:9418/bullpen.git.

Proved from the Prefect API and the one database: every deployment kind ran on the worker host
it was sent to (work queue per host), from a clone of the deployed commit on that host; every
run wrote the one database; models trained on w1 were loaded on w2 (artifacts in S3); two hosts
added trials to one Optuna study (trials/minute with one and with two worker hosts); a worker
host killed mid-run leaves a run that the automations mark Crashed, reschedule once, and the
other host completes; collect-games and collect-odds on w1 fetched from the server's recorded
APIs (base URLs and key from the role's environment file) into the one database. Timings are
printed at the end (docs/multihost.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.infra.multihost import runs
from tests.infra.multihost.fixture_api import GAME_DAY, ODDS, SCHEDULE, TEST_KEY
from tests.infra.multihost.lab import EVAL_SEASON, Stack, bring_up, new_lab
from tests.infra.multihost.services import PY

# Integration: the test talks to the lab's addresses (10.77.0.x), not only loopback.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]

TIMINGS: dict[str, float] = {}
NOTES: list[str] = []


@contextlib.contextmanager
def one_lab_at_a_time(timeout: float = 1200) -> Iterator[None]:
    """The lab's namespace names and addresses are fixed, and its setup removes what a dead
    run left: two runs on one machine (two engineers' check-infra) take turns."""
    import fcntl

    with open("/run/lock/bullpen-multihost.lock", "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "another multi-host test held the lab"
                time.sleep(2)
        yield


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with one_lab_at_a_time():
        yield from _stack(request)


def _stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    lab = new_lab()
    try:
        stack = bring_up(lab)
        TIMINGS.update(stack.timings)
        yield stack
    finally:
        lab.destroy()
        report(request)
        remove_tree(lab.root)
    assert not [line for line in os.popen("ip netns list") if line.startswith("bpmh-")]


def remove_tree(root: Path) -> None:
    """The lab's folder; a killed process can still be writing for a moment, so retry."""
    import shutil

    for _ in range(10):
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            return
        time.sleep(1)
    raise AssertionError(f"could not remove {root}")


def report(request: pytest.FixtureRequest) -> None:
    """The measured timings, printed past pytest's capture (make check-infra shows them)."""
    lines = ["", "multi-host test timings (seconds):"]
    lines += [f"  {name:<52} {seconds:7.1f}" for name, seconds in TIMINGS.items()]
    lines += [f"  {note}" for note in NOTES]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines), flush=True)


def run_stage(
    stack: Stack, planned: list[tuple[str, dict, str]], timeout: float, label: str = ""
) -> list[runs.Run]:
    """Start the planned runs (deployment, parameters, worker host) together; wait for all."""
    started = [runs.create(stack.server, name, params, host) for name, params, host in planned]
    runs.wait(stack.server, started, timeout)
    for run in started:
        TIMINGS[f"run {run.name} on {run.queue}{label}"] = run.seconds
    return started


def assert_ran_on(stack: Stack, run: runs.Run, host: str) -> None:
    """Completed, on `host`'s worker, from a clone of the deployed commit made on that host."""
    commit = stack.server.commit
    worker = stack.workers.get(host)
    assert run.state is not None
    assert run.state["state_type"] == "COMPLETED", (
        runs.describe(run) + "\n" + "\n".join(runs.logs(stack.server, run.id)[-20:])
        + "\n" + (worker.log_tail() if worker else "")
    )  # fmt: skip
    labels = run.labels
    assert labels["prefect.worker.name"] == host, labels
    assert labels["bullpen.host"] == host, labels  # socket.gethostname() inside the run
    assert labels["bullpen.commit"] == commit, labels
    # The clone lives in the run's working directory on that host (its private /tmp).
    assert labels["bullpen.code_dir"].endswith(f"/bullpen-{commit}"), labels
    assert labels["bullpen.code_dir"].startswith("/tmp/"), labels
    deployment = stack.server.api("GET", f"deployments/{run.state['deployment_id']}")
    assert deployment["version"] == commit
    messages = runs.logs(stack.server, run.id)
    assert any(
        m.startswith(f"bullpen commit {commit} from {labels['bullpen.code_dir']} on {host}")
        for m in messages
    ), messages[:10]


def sql(stack: Stack, query: str, database: str = "bullpen") -> list[list[str]]:
    out = stack.server.psql(query, database)
    return [line.split("|") for line in out.splitlines() if line]


def assert_collected_from_fixture_api(
    stack: Stack, seen: list[dict], collected: list[runs.Run]
) -> None:
    """w1 asked the server host's recorded APIs (the day's schedule, then its finals' feeds;
    the odds with the key from its environment file) and the rows landed in the server's
    database: 9 games (7 final), 114 snapshots of 228 prices, each fetch archived, the key in
    no table and in no log of the runs."""
    w1 = stack.lab.hosts["w1"].address
    assert {r["client"] for r in seen} == {w1}, seen
    schedule = [r for r in seen if r["path"] == SCHEDULE]
    assert [r["query"] for r in schedule] == [
        {"sportId": "1", "hydrate": "probablePitcher", "date": GAME_DAY}
    ], schedule
    feeds = [r for r in seen if r["path"].endswith("/feed/live")]
    assert len(feeds) == 7, seen  # not recorded: answered 404, quarantined, asked again later
    odds = [r for r in seen if r["path"] == ODDS]
    assert len(odds) == 1 and odds[0]["query"]["apiKey"] == TEST_KEY, odds
    assert len(seen) == len(schedule) + len(feeds) + len(odds), seen
    counts = sql(
        stack,
        "SELECT (SELECT count(*) FROM mlb_games), "
        "(SELECT count(*) FROM results WHERE source = 'mlb_stats'), "
        "(SELECT count(*) FROM odds_snapshots), (SELECT count(*) FROM odds_lines), "
        "(SELECT count(*) FROM raw_payloads WHERE source = 'mlb_stats'), "
        "(SELECT count(*) FROM raw_payloads WHERE source = 'odds_api')",
    )
    assert [int(c) for c in counts[0]] == [9, 7, 114, 228, 8, 1], counts
    stored = sql(stack, "SELECT count(*) FROM raw_payloads WHERE request || headers::text "
                 f"LIKE '%{TEST_KEY}%'")  # fmt: skip
    assert stored == [["0"]], stored
    for run in collected:
        assert not [m for m in runs.logs(stack.server, run.id) if TEST_KEY in m], run.name


def test_every_deployment_kind_runs_on_a_worker_host_from_its_own_clone(stack: Stack) -> None:
    names = {d["name"] for d in stack.server.api("POST", "deployments/filter", {})}
    assert len(names) >= 10, names
    commit = stack.server.commit
    data = {"data_dir": "/opt/bullpen/seasons"}  # staged on each worker host (lab.SEASONS)
    # Deployments name their code by URL and commit: nothing of the deployer's folders.
    for deployment in stack.server.api("POST", "deployments/filter", {}):
        clone = deployment["pull_steps"][0]["prefect.deployments.steps.git_clone"]
        assert clone["repository"] == stack.server.url("git"), deployment["pull_steps"]
        assert clone["commit_sha"] == commit == deployment["version"]
    # A worker host sees its own files only: not the other host's, not the operator's checkout.
    w1_dir, repo_src = stack.workers["w1"].host.dir, Path(__file__).resolve().parents[2] / "src"
    assert w1_dir.exists() and repo_src.exists()
    seen = stack.workers["w2"].host.run(
        ["sh", "-c", f"hostname; ls -A /opt; test -e {w1_dir} && echo SEES-W1; "
         f"test -e {repo_src} && echo SEES-CHECKOUT; true"]
    ).stdout.split()  # fmt: skip
    assert seen[0] == "w2" and "SEES-W1" not in seen and "SEES-CHECKOUT" not in seen, seen

    (replay,) = run_stage(stack, [("collect-history/replay", data, "w1")], 300)
    assert_ran_on(stack, replay, "w1")
    games = int(sql(stack, "SELECT count(*) FROM games")[0][0])
    assert games > 12000, games  # six real seasons, written by w1 into the server's database

    (trained,) = run_stage(
        stack, [("train-models/weekly", {"eval_season": EVAL_SEASON}, "w1")], 420
    )
    assert_ran_on(stack, trained, "w1")
    versions = sql(
        stack,
        "SELECT v.name, v.version, m.artifact_location FROM model_versions v "
        "JOIN logged_models m ON v.source = 'models:/' || m.model_id ORDER BY v.name, v.version",
        "mlflow",
    )
    assert {row[0] for row in versions} == {
        "bullpen-moneyline",
        "bullpen-totals",
        "bullpen-closing-line",
    }, versions
    # One artifact store: every model version w1 registered lives in S3, not on w1's disk.
    assert all(row[2].startswith("s3://bullpen-artifacts/") for row in versions), versions
    s3_files = list((stack.server.host.dir / "s3" / "bullpen-artifacts").rglob("*"))
    assert any(p.name == "MLmodel" for p in s3_files), s3_files[:20]
    audits = sql(stack, "SELECT model, action FROM model_audit ORDER BY audit_id")
    assert audits, "train-models on w1 wrote no audit row to the shared database"

    # Models trained on w1 are loaded on w2: the backtest scores the moneyline and closing-line
    # champions there (and records its settings on the closing-line champion); drift on w2
    # predicts with the moneyline champion. Meanwhile w1 runs the champion monitor.
    stage = run_stage(
        stack,
        [
            ("backtest/after-training",
             {"eval_season": EVAL_SEASON, "first_season": EVAL_SEASON - 1}, "w2"),
            ("monitor-champion/daily", {"model": "moneyline", "n_boot": 200}, "w1"),
        ],
        420,
    )  # fmt: skip
    backtest, monitor = stage
    assert_ran_on(stack, backtest, "w2")
    assert_ran_on(stack, monitor, "w1")
    opener_tags = sql(
        stack,
        "SELECT t.key FROM model_version_tags t JOIN registered_model_aliases a "
        "ON a.name = t.name AND a.version = t.version "
        "WHERE a.alias = 'champion' AND t.name = 'bullpen-closing-line' "
        "AND t.key LIKE 'bullpen.opener.%'",
        "mlflow",
    )
    assert opener_tags, "the backtest on w2 recorded no settings on w1's closing-line champion"
    messages = runs.logs(stack.server, backtest.id)
    assert any(m.startswith(f"Opener strategy {EVAL_SEASON}:") for m in messages), messages

    stage = run_stage(
        stack,
        [
            ("check-drift/daily",
             {"model": "moneyline", "window_days": 30, "as_of": f"{EVAL_SEASON}-09-30"}, "w2"),
            ("recommend-bets/after-odds", {}, "w1"),
        ],
        420,
    )  # fmt: skip
    drift, recommend = stage
    assert_ran_on(stack, drift, "w2")
    assert_ran_on(stack, recommend, "w1")
    checks = sql(stack, "SELECT model, window_end, champion_version FROM drift_checks")
    assert [row[:2] for row in checks] == [["moneyline", f"{EVAL_SEASON}-09-30"]], checks

    stage = run_stage(
        stack,
        [
            ("settle-bets/after-games", {}, "w2"),
            ("backup/nightly", {"kind": "nightly"}, "w1"),
            ("retrain-models/weekly",
             {"model": "moneyline", "reason": "multihost", "eval_season": EVAL_SEASON,
              "n_boot": 200}, "w2"),
        ],
        420,
    )  # fmt: skip
    for run, host in zip(stage, ["w2", "w1", "w2"], strict=True):
        assert_ran_on(stack, run, host)
    backups = [
        p for p in (stack.server.host.dir / "s3" / "bullpen-backups").rglob("*") if p.is_file()
    ]
    assert backups, "backup on w1 wrote nothing to the S3 server"

    # collect-odds/every-15-min is deployed with its schedule inactive (no Odds API key on the
    # deployer): the operator resumes it with the key in their shell (`bullpen deployment resume`
    # refuses without one); the worker hosts have it from the role's secret environment.
    assert stack.apis is not None
    odds = stack.server.api("GET", "deployments/name/collect-odds/every-15-min")
    assert odds["schedules"] and not any(s["active"] for s in odds["schedules"]), odds["schedules"]
    t_resume = time.monotonic()
    resumed = stack.server.host.run(
        [PY, "-m", "bullpen.cli", "deployment", "resume", "collect-odds/every-15-min"],
        {**stack.server_cli_env(), "BULLPEN_ODDS_API_KEY": TEST_KEY},
        timeout=120,
    )
    assert "collect-odds/every-15-min: resumed" in resumed.stdout, resumed.stdout
    TIMINGS["bullpen deployment resume collect-odds/every-15-min"] = time.monotonic() - t_resume
    odds = stack.server.api("GET", "deployments/name/collect-odds/every-15-min")
    assert not odds["paused"] and all(s["active"] for s in odds["schedules"]), odds

    # The backup w1 made is restored and checked on w2 (models loaded from the restored store);
    # meanwhile w1 collects a recorded MLB day, then an odds snapshot, from the server host's
    # fixture API (the lab reaches no outside API): the worker's environment file points it
    # there. One after the other: the first collect run creates the API rate limits, and two
    # first runs at once race for them (flows/collect_live.py `prepare`: the loser fails 409).
    requests_before = len(stack.apis.requests())
    verify, games_run = run_stage(
        stack,
        [
            ("backup-verify/weekly", {"load_models": True}, "w2"),
            ("collect-games/daily", {"start_date": GAME_DAY}, "w1"),
        ],
        420,
    )
    assert_ran_on(stack, verify, "w2")
    assert_ran_on(stack, games_run, "w1")
    (odds_run,) = run_stage(stack, [("collect-odds/every-15-min", {}, "w1")], 300)
    assert_ran_on(stack, odds_run, "w1")
    assert_collected_from_fixture_api(
        stack, stack.apis.requests()[requests_before:], [games_run, odds_run]
    )

    # Nothing ran against a database of its own: no worker host started an embedded Postgres.
    for worker in stack.workers.values():
        assert not (worker.host.dir / "bullpen" / ".bullpen" / "pgdata").exists()
    # Exactly the twelve runs started here, all completed (the disabled triggers started none;
    # the resumed schedule neither: the lab's Prefect server runs no scheduler).
    ran = sql(stack, "SELECT state_type, count(*) FROM flow_run GROUP BY 1", "prefect")
    assert ran == [["COMPLETED", "12"]], ran
    # Both worker hosts logged in to the one bullpen database (and MLflow's store beside it)
    # over the lab's network, every time with TLS 1.3 (the role's sslmode=verify-full).
    logins = stack.server.connections()
    for host in ("w1", "w2"):
        address = stack.lab.hosts[host].address
        mine = {login for login in logins if login[0] == address}
        assert (address, "bullpen", "bullpen", "TLSv1.3") in mine, sorted(logins)
        assert (address, "bullpen", "mlflow", "TLSv1.3") in mine, sorted(logins)
        assert {login[3] for login in mine} == {"TLSv1.3"}, sorted(mine)
    # The MLflow server (the UI; flows use the tracking database directly) shows w1's models
    # to its admin and nothing without a login.
    assert stack.mlflow_ready is not None
    stack.mlflow_ready.join(timeout=180)
    assert "mlflow" in stack.server.started, "the MLflow server never answered /health"
    TIMINGS["setup: mlflow server (in the background)"] = stack.server.started["mlflow"]
    status, found = stack.server.mlflow_api("registered-models/search")
    assert status == 200, status
    assert {m["name"] for m in found["registered_models"]} == {
        "bullpen-moneyline",
        "bullpen-totals",
        "bullpen-closing-line",
    }, found
    assert stack.server.mlflow_api("registered-models/search", login=False)[0] == 401
    NOTES.append(f"deployed commit {commit[:12]}; {games} games replayed by w1")


def test_two_worker_hosts_add_trials_to_one_study(stack: Stack) -> None:
    """One optimize-models run on w1 alone, then one run on each worker host at once, all into
    the same study (publish=False), then one run publishes the best: trials/minute with one and
    with two worker hosts (this machine's 2 cores are shared by both hosts)."""
    trials = 8  # per run (each worker host has one core: ~3-4 s a trial)
    common = {"models": ["moneyline"], "workers": 1, "eval_season": EVAL_SEASON, "n_folds": 2,
              "pruning": False, "publish": False}  # fmt: skip
    (alone,) = run_stage(
        stack,
        [("optimize-models/weekly", {**common, "n_trials": trials, "seed": 1}, "w1")],
        420,
        " (alone)",
    )
    assert_ran_on(stack, alone, "w1")
    pair = run_stage(
        stack,
        [
            ("optimize-models/weekly", {**common, "n_trials": trials, "seed": 2}, "w1"),
            ("optimize-models/weekly", {**common, "n_trials": trials, "seed": 3}, "w2"),
        ],
        420,
        " (pair)",
    )
    for run, host in zip(pair, ["w1", "w2"], strict=True):
        assert_ran_on(stack, run, host)
    (publish,) = run_stage(
        stack,
        [("optimize-models/weekly", {**common, "n_trials": 0, "publish": True}, "default")],
        420,
        " (publish)",
    )
    assert publish.state and publish.state["state_type"] == "COMPLETED", runs.describe(publish)

    studies = sql(stack, "SELECT study_name FROM optuna.studies")
    assert len(studies) == 1, studies  # every run added to the same study
    rows = sql(
        stack,
        "SELECT t.number, t.state, t.datetime_start, t.datetime_complete, h.value_json, "
        "r.value_json FROM optuna.trials t "
        "JOIN optuna.trial_user_attributes h ON h.trial_id = t.trial_id AND h.key = 'host' "
        "JOIN optuna.trial_user_attributes r ON r.trial_id = t.trial_id AND r.key = 'run' "
        "ORDER BY t.number",
    )
    assert len(rows) == 3 * trials, rows
    assert sorted(int(r[0]) for r in rows) == list(range(3 * trials))  # no duplicate numbers
    assert {r[1] for r in rows} == {"COMPLETE"}, rows
    by_run: dict[str, list[list[str]]] = {}
    for row in rows:
        by_run.setdefault(json.loads(row[5]), []).append(row)
    assert set(by_run) == {alone.id, pair[0].id, pair[1].id}, by_run.keys()
    assert {json.loads(r[4]) for r in by_run[alone.id]} == {"w1"}
    assert {json.loads(r[4]) for r in by_run[pair[0].id]} == {"w1"}
    assert {json.loads(r[4]) for r in by_run[pair[1].id]} == {"w2"}

    def per_minute(chunk: list[list[str]]) -> float:
        start = min(datetime.fromisoformat(r[2]) for r in chunk)
        end = max(datetime.fromisoformat(r[3]) for r in chunk)
        return len(chunk) / ((end - start).total_seconds() / 60)

    # The two hosts' trials ran at the same time (their windows overlap), into one study.
    windows = [
        (min(datetime.fromisoformat(r[2]) for r in by_run[run.id]),
         max(datetime.fromisoformat(r[3]) for r in by_run[run.id]))
        for run in pair
    ]  # fmt: skip
    overlap = min(end for _, end in windows) - max(start for start, _ in windows)
    assert overlap.total_seconds() > 0, windows
    one = per_minute(by_run[alone.id])
    two = per_minute(by_run[pair[0].id] + by_run[pair[1].id])
    tuned = sql(stack, "SELECT count(*) FROM tuned_params")
    assert int(tuned[0][0]) >= 1  # the publishing run saved the study's best
    TIMINGS["hyperopt trials/minute, 1 worker host"] = one
    TIMINGS["hyperopt trials/minute, 2 worker hosts"] = two
    NOTES.append(
        f"hyperopt: {trials} trials on w1 alone {one:.1f}/min; {2 * trials} on w1+w2 "
        f"{two:.1f}/min (ratio {two / one:.2f}; {os.cpu_count()} cores shared by both hosts)"
    )


def _waits_for(stack: Stack, table: str) -> bool:
    """Whether a worker's session waits for a lock on `table` in the one database."""
    waiting = stack.server.psql(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        f" WHERE NOT l.granted AND l.relation = '{table}'::regclass AND a.usename = 'bullpen'",
        database="bullpen",
    )
    return int(waiting) > 0


def test_a_worker_host_killed_mid_run_is_rescheduled_once_and_completed_on_the_other(
    stack: Stack,
) -> None:
    t0 = time.monotonic()
    data = {"data_dir": "/opt/bullpen/seasons"}
    # The replay's first write waits on a lock the test holds, so the run is mid-run when its host
    # dies however fast the machine is (CI once finished it before the first heartbeat).
    games_lock = stack.server.lock_table("games", "SHARE")
    run = runs.create(stack.server, "collect-history/replay", data, "default")
    runs.wait_for_state(stack.server, run.id, {"RUNNING"}, 120)
    # Wait until the run's first heartbeat is out (the zombie automation keys on heartbeats) and
    # it waits on the lock, then kill that host's worker with everything under it.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        beats = runs.events(
            stack.server, "prefect.flow-run.heartbeat", f"prefect.flow-run.{run.id}"
        )
        if beats and _waits_for(stack, "games"):
            break
        time.sleep(1)
    else:
        raise AssertionError("the run sent no heartbeat, or wrote nothing, within 90 s")
    state = runs.read(stack.server, run.id)
    assert state["state_type"] == "RUNNING", state["state"]
    first_host = state["labels"]["prefect.worker.name"]
    assert first_host in stack.workers
    other = "w2" if first_host == "w1" else "w1"
    killed = stack.workers[first_host].kill_tree()
    t_kill = time.monotonic()
    assert len(killed) >= 2  # the worker and the flow-run process at least

    try:
        crashed = runs.wait_for_state(stack.server, run.id, {"CRASHED"}, 180)
    finally:
        # The rerun, and the dead run's orphaned session (rolled back), go on.
        games_lock.communicate("ROLLBACK;\n", timeout=60)
    t_crashed = time.monotonic()
    final = runs.wait_for_state(stack.server, run.id, {"COMPLETED", "FAILED", "CANCELLED"}, 300)
    t_done = time.monotonic()
    assert final["state_type"] == "COMPLETED", final["state"]
    assert final["labels"]["prefect.worker.name"] == other, final["labels"]
    assert final["labels"]["bullpen.host"] == other
    assert final["labels"]["bullpen.commit"] == stack.server.commit
    history = [s["type"] for s in runs.states(stack.server, run.id)]
    assert history.count("CRASHED") == 1, history  # crashed once ...
    assert history.count("RUNNING") == 2, history  # ... ran again once ...
    crash_at = history.index("CRASHED")
    assert "SCHEDULED" in history[crash_at:], history  # ... after the automation rescheduled it
    assert "no heartbeat" in (crashed["state"]["message"] or ""), crashed["state"]
    TIMINGS["failover: submit -> kill"] = t_kill - t0
    TIMINGS["failover: kill -> Crashed (no heartbeat)"] = t_crashed - t_kill
    TIMINGS["failover: Crashed -> Completed on the other host"] = t_done - t_crashed
    NOTES.append(f"failover: killed {first_host} ({len(killed)} processes), completed on {other}")
