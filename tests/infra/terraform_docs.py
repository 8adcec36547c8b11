"""Regenerate the Inputs/Outputs tables of each terraform/modules/*/README.md from the HCL.

Usage: .venv-infra/bin/python -m tests.infra.terraform_docs   (the README text above the
`## Inputs` heading is kept; tests/infra/test_terraform.py checks the tables are current).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.infra.conftest import MODULE_DIRS
from tests.infra.test_terraform import _unquote, named, parse_dir

MARKER = "## Inputs"


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(text).replace("|", "\\|").replace("\n", " ")


def build_tables(module_dir: Path) -> str:
    """Markdown Inputs and Outputs tables for one module."""
    blocks = parse_dir(module_dir)
    lines = [
        MARKER,
        "",
        "| Name | Description | Type | Default | Required |",
        "|---|---|---|---|:---:|",
    ]
    for name, body in sorted(named(blocks, "variable").items()):
        default = f"`{_cell(_unquote(body['default']))}`" if "default" in body else "n/a"
        required = "no" if "default" in body else "yes"
        type_ = _cell(body["type"]).replace("${", "").replace("}", "")
        description = _cell(_unquote(body["description"]))
        lines.append(f"| `{name}` | {description} | `{type_}` | {default} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in sorted(named(blocks, "output").items()):
        lines.append(f"| `{name}` | {_cell(_unquote(body['description']))} |")
    return "\n".join(lines) + "\n"


def render(module_dir: Path) -> str:
    """The README with fresh tables (what test_module_readme_tables_are_current compares)."""
    readme = module_dir / "README.md"
    head = (
        readme.read_text().split(MARKER)[0].rstrip() + "\n\n"
        if readme.exists()
        else f"# {module_dir.name}\n\n"
    )
    return head + build_tables(module_dir)


if __name__ == "__main__":
    for module in MODULE_DIRS:
        (module / "README.md").write_text(render(module))
        print(f"wrote {module / 'README.md'}")
