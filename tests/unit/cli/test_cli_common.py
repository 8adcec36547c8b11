"""The CLI's shared helpers and its shape: one retrain command, `--help` without heavy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from bullpen.cli import app
from bullpen.cli.common import Model, exit_on, load_repo_script

HEAVY = ("prefect", "mlflow", "lightgbm", "optuna", "pandas", "sklearn", "evidently", "boto3")


def test_importing_the_cli_loads_no_heavy_library() -> None:
    """`bullpen --help` stays fast: every command group imports its libraries inside commands."""
    code = f"import sys, bullpen.cli\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_one_retrain_command_with_every_option() -> None:
    top = CliRunner().invoke(app, ["--help"])
    assert top.exit_code == 0
    commands = {line.split()[0] for line in top.output.splitlines() if line.startswith("  ")}
    assert "retrain" not in commands
    assert {"demo", "train", "backtest", "evaluate", "model", "hyperopt"} <= commands
    retrain = CliRunner().invoke(app, ["model", "retrain", "--help"])
    assert retrain.exit_code == 0
    for option in ("--model", "--reason", "--force", "--eval-season", "--json"):
        assert option in retrain.output


def test_model_option_accepts_only_known_models() -> None:
    assert [m.value for m in Model] == ["moneyline", "totals"]
    result = CliRunner().invoke(app, ["model", "aliases", "--model", "spreads"])
    assert result.exit_code == 2
    assert "spreads" in result.output


def test_exit_on_turns_a_refusal_into_exit_2_and_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as stopped, exit_on(ValueError):
        raise ValueError("season 2031 is not loaded")
    assert stopped.value.exit_code == 2
    assert capsys.readouterr().err == "error: season 2031 is not loaded\n"
    with pytest.raises(KeyError), exit_on(ValueError):  # anything else is a bug: a traceback
        raise KeyError("x")


def test_load_repo_script_imports_a_file_outside_the_package() -> None:
    stack = load_repo_script("infra/stack.py", "bullpen_infra_stack_test")
    assert callable(stack.main)
    assert sys.modules["bullpen_infra_stack_test"] is stack
