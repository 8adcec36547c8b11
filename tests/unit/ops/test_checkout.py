"""The build step that names a deployment's code, and the import switch of the pull step, on
real git repositories made in tmp_path (the Prefect side is tested in
tests/integration/test_code_checkout.py)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bullpen.ops import checkout


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "one")
    return repo


def test_describe_names_head_and_this_checkout_when_no_url(repo: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean tree warns about nothing
        described = checkout.describe(directory=str(repo / "."))
    assert described == {
        "commit": _git(repo, "rev-parse", "HEAD"),
        "repository": str(repo.resolve()),
        "dirty": "false",
    }


def test_describe_warns_that_uncommitted_changes_are_not_deployed(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    with pytest.warns(UserWarning, match=r"1 uncommitted change\(s\) .* are NOT deployed"):
        described = checkout.describe(directory=str(repo))
    assert described["dirty"] == "true"
    assert described["commit"] == _git(repo, "rev-parse", "HEAD")  # still the commit, not the tree


def test_describe_warns_when_the_url_lacks_the_commit(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    _git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pushed: no warning, and the URL is kept as given
        assert checkout.describe(remote.as_uri(), str(repo))["repository"] == remote.as_uri()
    (repo / "b.txt").write_text("b\n")
    _git(repo, "add", "b.txt")
    _git(repo, "commit", "-q", "-m", "two")
    with pytest.warns(UserWarning, match="is not on any branch or tag of"):
        checkout.describe(remote.as_uri(), str(repo))
    _git(repo, "push", "-q", str(remote), "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "three")
    _git(repo, "reset", "-q", "--hard", "HEAD~1")  # HEAD is an ancestor of the pushed tip again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkout.describe(remote.as_uri(), str(repo))


def test_describe_outside_a_repository_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="rev-parse"):
        checkout.describe(directory=str(tmp_path))


def test_switch_imports_loads_bullpen_from_the_given_src(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "bullpen").mkdir(parents=True)
    (src / "bullpen" / "__init__.py").write_text("FROM_CLONE = True\n")
    saved_path, saved = list(sys.path), dict(sys.modules)
    try:
        dropped = checkout._switch_imports(src)
        assert "bullpen" in dropped and "bullpen.ops.checkout" in dropped
        assert sys.path[0] == str(src)
        import bullpen

        assert bullpen.FROM_CLONE is True  # type: ignore[attr-defined]
    finally:
        sys.path[:] = saved_path
        for name in [n for n in sys.modules if n == "bullpen" or n.startswith("bullpen.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_use_checkout_refuses_a_clone_at_another_commit(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    other = "0" * 40
    with pytest.raises(RuntimeError, match=f"is at {head}, not the deployed commit {other}"):
        checkout.use_checkout(str(repo), other)
