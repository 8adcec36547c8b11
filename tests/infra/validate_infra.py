"""`make validate-infra`: terraform init -backend=false && terraform validate for every env.

Needs the AWS provider. Where it cannot be downloaded (no route to the Terraform registry and no
provider mirror configured), it says so plainly and exits 0; any other failure exits 1.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI = Path(__file__).with_name("terraform_cli.py")
# Network failures only: a bad version constraint must fail, not skip.
UNREACHABLE = re.compile(
    r"dial tcp|no such host|i/o timeout|connection refused|network is unreachable|"
    r"Failed to request discovery document|could not connect to registry",
)


def terraform(env: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CLI), f"-chdir={env}", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def main() -> int:
    envs = sorted(p for p in (REPO / "terraform" / "envs").iterdir() if p.is_dir())
    for env in envs:
        init = terraform(env, "init", "-backend=false", "-input=false", "-no-color")
        if init.returncode != 0:
            output = init.stdout + init.stderr
            if UNREACHABLE.search(output):
                reason = next(
                    (line.strip() for line in output.splitlines() if UNREACHABLE.search(line)), ""
                )
                print(
                    "validate-infra: SKIPPED, the AWS provider cannot be downloaded here "
                    f"({env.name}: {reason}).\nRun `make validate-infra` where "
                    "registry.terraform.io (or a provider mirror) is reachable."
                )
                return 0
            print(output)
            print(f"validate-infra: terraform init failed in {env.relative_to(REPO)}")
            return 1
        validate = terraform(env, "validate", "-no-color")
        print(f"{env.relative_to(REPO)}: {validate.stdout.strip()}")
        if validate.returncode != 0:
            print(validate.stderr)
            return 1
    print(f"validate-infra: {len(envs)} environments valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
