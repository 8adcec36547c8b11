"""infra/stack.py's own rules, without starting anything: the worker never runs as root, the
generated credentials are private, stable and strong (issue #18 item 1)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bullpen.cli.common import load_repo_script
from bullpen.config import Settings

stack = load_repo_script("infra/stack.py", "bullpen_infra_stack_test")


def test_credentials_generated_once_private(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = stack.credentials(settings)
    path = tmp_path / "home" / "credentials" / "stack.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    user, password = first["prefect_auth_string"].split(":", 1)
    assert user == stack.PREFECT_USER and len(password) >= 32
    assert len(first["mlflow_password"]) >= 32 and first["mlflow_password"] != password
    os.chmod(path, 0o644)  # widened by hand: the next run narrows it again, keeps the values
    assert stack.credentials(settings) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == first
    # Another home gets other credentials.
    assert stack.credentials(Settings(home=tmp_path / "other")) != first


def test_stack_env_carries_the_client_credentials(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    env = stack.stack_env(settings)
    creds = stack.credentials(settings)
    assert env["PREFECT_API_AUTH_STRING"] == creds["prefect_auth_string"]
    assert env["MLFLOW_TRACKING_PASSWORD"] == creds["mlflow_password"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the root case needs root")
def test_worker_never_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULLPEN_STACK_WORKER_USER", raising=False)
    account, why = stack.worker_account()
    assert account is None and why and "runs as root" in why
    monkeypatch.setenv("BULLPEN_STACK_WORKER_USER", "root")
    account, why = stack.worker_account()
    assert account is None and why and "uid 0" in why
    monkeypatch.setenv("BULLPEN_STACK_WORKER_USER", "no-such-account-here")
    account, why = stack.worker_account()
    assert account is None and why and "no account" in why
    monkeypatch.setenv("BULLPEN_STACK_WORKER_USER", "nobody")
    account, why = stack.worker_account()
    assert why is None and account is not None and account.pw_uid != 0


def test_unprivileged_worker_runs_as_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    # The decision reads only the effective uid: an unprivileged caller (uid 1000 here, since
    # this machine runs the suite as root) starts the worker as itself, whatever is configured.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("BULLPEN_STACK_WORKER_USER", raising=False)
    assert stack.worker_account() == (None, None)
    monkeypatch.setenv("BULLPEN_STACK_WORKER_USER", "nobody")
    assert stack.worker_account() == (None, None)
