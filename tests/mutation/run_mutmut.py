"""`make mutate`: mutmut over the money-math and leakage modules; print the score and survivors.

Runs in .venv-mutate (mutmut pinned in requirements-mutate.lock) from a scratch copy of the
repository under .venv-mutate/work, so the shared working tree is never mutated in place and no
`mutants/` folder appears in it. The modules and the tests come from the Makefile (MUTATE_MODULES,
MUTATE_TESTS). Exit status 0 when the score reaches --target, 1 below it.

Score = killed / (every mutant that was run): a mutant no test covers ("no tests") or that
survived counts against it, one that hangs until the CPU limit counts as killed; mutmut's own
"skipped" is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# mutmut's exit codes: 1 a test failed, 3 pytest internal error; a mutant that hangs until the
# CPU limit (e.g. an endless `while`) is detected too, so timeouts count as killed (as in mutmut).
KILLED = {1: "killed", 3: "killed", 36: "killed", -24: "killed", 24: "killed", 152: "killed"}
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}


def _status(exit_code: int | None) -> str:
    if exit_code is None:
        return "not checked"
    return KILLED.get(exit_code) or STATUS.get(exit_code) or f"suspicious ({exit_code})"


def prepare(work: Path, modules: list[str], tests: list[str]) -> None:
    """A fresh scratch copy: src, tests, pytest config, mutmut config; data linked, not copied."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(REPO / "src", work / "src", ignore=ignore)
    shutil.copytree(REPO / "tests", work / "tests", ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", work / "pyproject.toml")
    (work / "mutants").mkdir()
    # Tests read bundled data through tests.conftest.DATA (= <root>/data); mutmut runs in mutants/.
    (work / "mutants" / "data").symlink_to(REPO / "data")
    only = "\n".join(f"    src/bullpen/{m}" for m in modules)
    selection = "\n".join(f"    {t}" for t in tests)
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = src\n"
        f"only_mutate =\n{only}\n"
        "also_copy =\n    tests\n    pyproject.toml\n"
        f"pytest_add_cli_args_test_selection =\n{selection}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n"
    )


def collect(work: Path) -> dict[str, dict[str, int | None]]:
    """{module path: {mutant name: exit code}} from mutmut's .meta files."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted((work / "mutants" / "src").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        module = str(meta.relative_to(work / "mutants")).removesuffix(".meta")
        out[module] = data["exit_code_by_key"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modules", required=True, help="space-separated, under src/bullpen/")
    parser.add_argument("--tests", required=True, help="space-separated pytest paths")
    parser.add_argument("--work", default=str(REPO / ".venv-mutate" / "work"))
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--target", type=float, default=90.0)
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without diffs")
    parser.add_argument(
        "--report-only", action="store_true", help="print the last run's results, run nothing"
    )
    args = parser.parse_args()
    modules, tests = args.modules.split(), args.tests.split()
    work = Path(args.work)

    started = time.monotonic()
    log = work / "mutmut-run.log"
    run = subprocess.CompletedProcess(args=[], returncode=0)
    if not args.report_only:
        prepare(work, modules, tests)
        with log.open("w") as out:
            run = subprocess.run(
                [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
    elapsed = time.monotonic() - started
    results = collect(work)
    if run.returncode != 0 or not results:
        print(log.read_text()[-4000:])
        print(f"mutmut run failed (exit {run.returncode}); full log: {log}")
        return 2

    total: Counter[str] = Counter()
    header = ("module", "mutants", "killed", "survived", "no tests", "score")
    print("{:44} {:>7} {:>6} {:>8} {:>8} {:>6}".format(*header))
    for module, codes in results.items():
        counts = Counter(_status(c) for c in codes.values())
        total.update(counts)
        run_count = sum(v for k, v in counts.items() if k != "skipped")
        score = 100.0 * counts["killed"] / run_count if run_count else 100.0
        print(
            f"{module:44} {run_count:7d} {counts['killed']:6d} {counts['survived']:8d} "
            f"{counts['no tests']:8d} {score:5.1f}%"
        )
    run_count = sum(v for k, v in total.items() if k != "skipped")
    score = 100.0 * total["killed"] / run_count if run_count else 100.0
    other = {k: v for k, v in total.items() if k not in ("killed", "survived", "no tests")}
    print(
        f"{'TOTAL':44} {run_count:7d} {total['killed']:6d} {total['survived']:8d} "
        f"{total['no tests']:8d} {score:5.1f}%   {other or ''}"
    )
    print(f"mutation score {score:.1f}% ({total['killed']}/{run_count} killed) in {elapsed:.0f} s")

    survivors = sorted(
        name
        for codes in results.values()
        for name, code in codes.items()
        if _status(code) not in ("killed", "skipped")
    )
    if survivors:
        print(f"\n{len(survivors)} mutants not killed:")
    for name in survivors:
        if args.no_diffs:
            print("   ", name)
            continue
        shown = subprocess.run(
            [sys.executable, "-m", "mutmut", "show", name],
            cwd=work,
            capture_output=True,
            text=True,
        )
        print(shown.stdout.rstrip() or f"# {name}: (no diff: {shown.stderr.strip()[-200:]})")
    return 0 if score >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
