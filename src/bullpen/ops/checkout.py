"""How a deployment names its code, and the pull step that runs a flow from exactly that code.

Deploy side: `prefect deploy` runs the build step `describe` in the deployer's checkout. It
returns the commit (HEAD) and the repository workers clone it from: BULLPEN_GIT_URL, templated in
by prefect.yaml, else this checkout's path, which only this host can read (a path rather than a
file:// URL: git then clones by hardlinking objects, 0.3 s instead of 4-9 s here). prefect.yaml
puts both into the stored pull steps and the deployment's `version`; nothing else about the
deployer's machine is stored.

Worker side: Prefect's `git_clone` clones that repository at that commit into the flow run's
working directory, then `use_checkout` switches the run to the clone: its `src/` first on
sys.path and every already-imported `bullpen` module dropped, so the flow files AND the library
they import come from the one pinned commit (the worker's installed bullpen only provides this
step). It checks that HEAD is the pinned commit and records commit, host and directory as labels
of the flow run and in one log line.

This module is imported by the worker's installed bullpen before the switch: standard library
only at the top; Prefect is imported lazily, as in `prefect_process`.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

COMMIT_LABEL = "bullpen.commit"
HOST_LABEL = "bullpen.host"
CODE_DIR_LABEL = "bullpen.code_dir"


def _git(directory: Path | str, *args: str, timeout: float = 30) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,  # never wait for a password or host-key prompt
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {directory}: {done.stderr.strip()}")
    return done.stdout.strip()


def _published(root: Path, commit: str, repository: str) -> bool | None:
    """Whether `repository` has a branch or tag that contains `commit` (as far as this checkout
    knows the tips); None when the repository cannot be asked."""
    try:
        listed = _git(root, "ls-remote", repository, timeout=20)
    except (RuntimeError, subprocess.TimeoutExpired):
        return None
    tips = {line.split()[0] for line in listed.splitlines() if line.strip()}
    if commit in tips:
        return True
    for tip in tips:
        ancestor = subprocess.run(
            ["git", "-C", str(root), "merge-base", "--is-ancestor", commit, tip],
            capture_output=True,
            check=False,
        )
        if ancestor.returncode == 0:
            return True
    return False


def describe(repository: str | None = None, directory: str = ".") -> dict[str, str]:
    """Build step: the commit to deploy and where workers clone it from.

    Returns {"commit", "repository", "dirty"}. Uncommitted changes are not deployed (workers
    run the commit), so a dirty tree is warned about, as is a commit that `repository` does not
    have yet (the clone would fail with "not our ref")."""
    root = Path(_git(directory, "rev-parse", "--show-toplevel"))
    commit = _git(root, "rev-parse", "HEAD")
    changed = _git(root, "status", "--porcelain", "--untracked-files=no").splitlines()
    if changed:
        warnings.warn(
            f"bullpen: {len(changed)} uncommitted change(s) in {root} are NOT deployed: workers "
            f"run commit {commit[:12]} (commit, and push if BULLPEN_GIT_URL is set, then deploy "
            "again)",
            UserWarning,
            stacklevel=2,
        )
    if repository:
        if _published(root, commit, repository) is False:
            warnings.warn(
                f"bullpen: commit {commit[:12]} is not on any branch or tag of {repository}: "
                "push it before any run, or workers fail to clone it",
                UserWarning,
                stacklevel=2,
            )
    else:
        # Only this host can read it; other hosts need BULLPEN_GIT_URL. A plain path, not
        # file://, so git clones locally (hardlinks) instead of packing every object.
        repository = str(root)
    return {"commit": commit, "repository": repository, "dirty": "true" if changed else "false"}


def _switch_imports(src: Path) -> list[str]:
    """Put `src` first on sys.path and drop every imported bullpen module, so the next
    `import bullpen...` (the flow file's) loads from `src`. Returns the dropped names."""
    path = str(src)
    sys.path[:] = [path, *(p for p in sys.path if p != path)]
    dropped = sorted(n for n in sys.modules if n == "bullpen" or n.startswith("bullpen."))
    for name in dropped:
        del sys.modules[name]
    importlib.invalidate_caches()
    return dropped


def _record(labels: dict[str, str], message: str) -> None:
    """Labels on the current flow run and one line in its log; nothing outside a flow run."""
    from prefect.client.orchestration import get_client
    from prefect.logging.loggers import flow_run_logger
    from prefect.runtime import flow_run as current

    run_id = current.id
    if not run_id:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run_labels(run_id, labels)
        flow_run_logger(client.read_flow_run(run_id)).info(message)


def use_checkout(directory: str, commit: str) -> dict[str, str]:
    """Pull step after `git_clone`: run this flow run from the clone in `directory`.

    Refuses a clone whose HEAD is not `commit`. Returns {"directory"} as an absolute path (the
    flow loader changes into the last step's directory after the steps) and {"commit"}."""
    root = Path(directory).resolve()
    head = _git(root, "rev-parse", "HEAD")
    if head != commit:
        raise RuntimeError(f"the clone in {root} is at {head}, not the deployed commit {commit}")
    os.chdir(root)
    _switch_imports(root / "src")
    import bullpen

    loaded = Path(bullpen.__file__ or "").resolve()
    if not loaded.is_relative_to(root / "src"):
        raise RuntimeError(f"bullpen still imports from {loaded}, not from the clone {root}")
    from bullpen.config import get_settings

    host = socket.gethostname()
    message = f"bullpen commit {commit} from {root} on {host}"
    if get_settings().home.resolve().is_relative_to(root):
        # Settings.home defaults to ./.bullpen: inside a clone that disappears with the run.
        message += "; BULLPEN_HOME is not set, so state would land inside this clone"
    _record({COMMIT_LABEL: commit, HOST_LABEL: host, CODE_DIR_LABEL: str(root)}, message)
    return {"directory": str(root), "commit": commit}
