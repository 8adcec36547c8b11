"""The alert rules load in Prometheus's own checker and fire (or stay quiet) where they should.

`promtool` comes from Debian's prometheus package (`make check-infra` installs it).
"""

from __future__ import annotations

import shutil
import subprocess

from tests.infra.conftest import REPO

RULES = REPO / "infra" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make check-infra` installs Debian's prometheus"
    return subprocess.run(
        [promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_and_scrape_config_are_valid() -> None:
    rules = _promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = _promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_silence_and_failure_cases_fire_as_written() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_case_in_the_rule_tests_or_predates_them() -> None:
    """New alerts come with a promtool case; the list below is what existed before the tests."""
    import yaml

    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    tested = yaml.safe_load((RULES / "alerts_test.yml").read_text())
    covered = {
        case["alertname"] for test in tested["tests"] for case in test.get("alert_rule_test", [])
    }
    untested_before = {
        "BullpenProbeFailing", "BullpenStaleLiveOdds", "BullpenStaleGames",
        "BullpenCollectorCircuitOpen", "BullpenDeploymentFailing", "BullpenDeploymentPaused",
        "BullpenModelWorseThanClose", "BullpenBackupOlderThanRPO", "BullpenBackupMissing",
        "BullpenRestoreNotVerified", "BullpenReplicaLagging", "BullpenPostgresConnectionsHigh",
        "BullpenDiskLow", "BullpenMemoryLow",
    }  # fmt: skip
    assert alerts - covered <= untested_before, alerts - covered - untested_before
