"""Pure parts of operations: breaker view, failure streaks, JSON logs, block URL split,
automation definitions (validated by the installed Prefect) and the paused-event template."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bullpen.ops import health, probes
from bullpen.ops.logs import JsonFormatter, configure_logging
from bullpen.ops.targets import Targets

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "seconds_ago", "state"),
    [(0, None, "closed"), (4, 1, "closed"), (5, 1, "open"), (7, 59, "open"), (5, 61, "half-open")],
)
def test_breaker_view_state_follows_the_collectors_rule(
    failures: int, seconds_ago: float | None, state: str
) -> None:
    last = NOW - timedelta(seconds=seconds_ago) if seconds_ago is not None else None
    assert probes.BreakerView("odds_api", failures, last).state(NOW) == state


def _run(dep: str, state: str) -> probes.FlowRunView:
    return probes.FlowRunView(dep, state, NOW, NOW, 1.0)


def test_consecutive_failures_counts_newest_finished_runs_only() -> None:
    runs = [
        _run("a/x", "SCHEDULED"),
        _run("a/x", "CRASHED"),
        _run("b/y", "COMPLETED"),
        _run("a/x", "FAILED"),
        _run("a/x", "COMPLETED"),
        _run("a/x", "FAILED"),
    ]
    assert probes.consecutive_failures(runs, "a/x") == 2
    assert probes.consecutive_failures(runs, "b/y") == 0


def test_json_formatter_carries_flow_run_id_and_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = str(uuid.uuid4())
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", run_id)
    stream = io.StringIO()
    logger = logging.getLogger("bullpen.test_ops")
    handler = configure_logging(stream=stream)
    try:
        logger.info("replayed %d games", 2430, extra={"season": 2019})
        line = json.loads(stream.getvalue().splitlines()[-1])
    finally:
        logging.getLogger("bullpen").removeHandler(handler)
    assert line["message"] == "replayed 2430 games"
    assert line["flow_run_id"] == run_id
    assert line["season"] == 2019 and line["logger"] == "bullpen.test_ops"


def test_json_formatter_without_a_flow_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)
    record = logging.makeLogRecord({"name": "bullpen.x", "msg": "hi", "levelname": "INFO"})
    assert "flow_run_id" not in json.loads(JsonFormatter().format(record))


def _bootstrap_module() -> object:
    spec = importlib.util.spec_from_file_location("bootstrap", REPO / "blocks" / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://app:p%40ss@db.example:5433/bullpen?sslmode=require",
            {
                "username": "app",
                "password": "p@ss",
                "host": "db.example",
                "port": 5433,
                "database": "bullpen",
                "query": {"sslmode": "require"},
            },
        ),
        (
            "postgresql://postgres:@/bullpen?host=/work/.bullpen/pgdata",
            {
                "username": "postgres",
                "password": None,
                "host": None,
                "port": None,
                "database": "bullpen",
                "query": {"host": "/work/.bullpen/pgdata"},
            },
        ),
    ],
)
def test_connection_components_round_trip(url: str, expected: dict[str, object]) -> None:
    parts = _bootstrap_module().connection_components(url)  # type: ignore[attr-defined]
    assert parts == {"driver": "postgresql+psycopg", **expected}


def test_automations_validate_against_installed_prefect() -> None:
    from prefect.automations import Automation

    from bullpen.ops import automations

    built = [Automation.model_validate(a) for a in automations.automations(uuid.uuid4(), 4)]
    by_name = {a.name: a for a in built}
    assert set(by_name) == {
        automations.RESCHEDULE_CRASHED,
        automations.PAUSE_FAILING,
        automations.CRASH_ZOMBIES,
        automations.STOP_EARLY_CRASH_LOOP,
    }
    loop = by_name[automations.STOP_EARLY_CRASH_LOOP].trigger
    assert loop.match.model_dump()["prefect.run-count"] == "0" and loop.threshold == 2
    reschedule = by_name[automations.RESCHEDULE_CRASHED]
    # Once after a start (a second crash has run count 2); also crashes before the flow started.
    assert reschedule.trigger.match.model_dump()["prefect.run-count"] == ["0", "1"]
    zombie_action = by_name[automations.CRASH_ZOMBIES].actions[0]
    assert zombie_action.force is False  # the server then refuses Crashed over a terminal run
    assert reschedule.trigger.after == {"prefect.flow-run.Crashed"}
    assert "prefect.flow-run.Crashed" not in reschedule.trigger.expect
    assert by_name[automations.PAUSE_FAILING].trigger.threshold == 4
    assert [a.type for a in by_name[automations.PAUSE_FAILING].actions] == [
        "pause-deployment",
        "call-webhook",
    ]


def test_paused_event_template_renders_a_valid_event() -> None:
    """The webhook body must be a list of events the API accepts (fresh UUID id, our name)."""
    import jinja2
    from prefect.server.events.schemas.events import Event

    from bullpen.ops import automations

    trigger_id = uuid.uuid4()
    rendered = (
        jinja2.Environment()
        .from_string(automations._PAUSED_EVENT_TEMPLATE)
        .render(
            event={"id": trigger_id, "occurred": NOW.isoformat()},
            deployment={"id": uuid.uuid4(), "name": "replay"},
            flow_run={"id": uuid.uuid4(), "name": "sincere-mussel"},
            automation={"name": automations.PAUSE_FAILING},
        )
    )
    (event,) = [Event.model_validate(e) for e in json.loads(rendered)]
    assert event.event == automations.PAUSED_EVENT
    assert event.id != trigger_id
    assert event.resource.id.startswith("prefect.deployment.")


def test_health_reports_an_unlocated_database_and_skips_unconfigured_parts(
    tmp_path: Path,
) -> None:
    targets = Targets(database_url=None, tracking_uri=None, disk_path=tmp_path)
    checks = {c.name: c for c in health.run_checks(targets, database_problem="embedded down")}
    assert checks["database"].status == health.FAIL
    assert checks["database"].reason == "embedded down"
    assert {checks[n].status for n in ("replica", "s3", "prefect", "mlflow")} == {health.SKIP}
    assert checks["disk"].status in (health.OK, health.WARN)
    assert not health.is_healthy(list(checks.values()))


def test_health_fails_disk_below_threshold(tmp_path: Path) -> None:
    targets = Targets(database_url=None, tracking_uri=None, disk_path=tmp_path)
    strict = health.Thresholds(min_disk_free_ratio=1.0)  # no disk is 100 % free
    checks = {c.name: c for c in health.run_checks(targets, strict, database_problem="x")}
    assert checks["disk"].status == health.FAIL


def test_alert_rules_and_dashboard_use_only_metrics_the_exporter_emits() -> None:
    """infra/prometheus and infra/grafana name real families (a renamed metric breaks this)."""
    import re

    import yaml

    source = (REPO / "src" / "bullpen" / "ops" / "metrics.py").read_text()
    emitted = set(re.findall(r'"(bullpen_[a-z0-9_]+)"', source))
    rules = yaml.safe_load((REPO / "infra" / "prometheus" / "alerts.yml").read_text())
    exprs = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    dashboard = json.loads((REPO / "infra" / "grafana" / "bullpen.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"bullpen_[a-z0-9_]+", expr)}
    assert used and used <= emitted, used - emitted
    scrape = yaml.safe_load((REPO / "infra" / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9464"]


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (
            "close moneyline: implied probabilities sum to 0.697 < 1.0 (200, 175)",
            "close moneyline: implied probabilities sum to # < # (#, #)",
        ),
        (
            "close moneyline: Close not a whole number: '-219.5'",
            "close moneyline: Close not a whole number: #",
        ),
        ("moneyline typo", "moneyline typo"),
    ],
)
def test_reason_kind_keeps_quarantine_labels_bounded(reason: str, kind: str) -> None:
    assert probes.reason_kind(reason) == kind
