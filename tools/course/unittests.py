"""A language's own unit tests, run against a workspace's code: how an exercise no scenario can observe is graded.

The queue's de-duplication (queue-dedup) is the case: a controller whose queue adds a key twice still converges,
so the scenarios pass; the queue's unit tests see it at once. The tests are the repository's (pytest for Python,
bats for Bash); only the code under test is the workspace's:

- Python: pytest runs ``python/tests/...`` with ``PYTHONPATH`` naming the workspace's ``python/`` first, so
  ``controller_examples`` is imported from there (the venv's editable install is a path entry after it);
- Bash: the bats files source ``$BATS_TEST_DIRNAME/../advanced/*.sh``: a tree is made whose ``test/`` is a copy of
  the repository's ``bash/test`` and whose other entries are links to the workspace's ``bash/``.

Both write a JUnit XML report, read back as test name -> passed | failed | skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from course.exercises import REPO_ROOT, UnitTests

PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
BATS = REPO_ROOT / "tools" / "node_modules" / "bats" / "bin" / "bats"
TIMEOUT = 300
EXIT_GRACE = 5  # seconds a test run may take to exit once its report is written
# One test of a queue whose add raises can wait forever for a key (a stub): pytest-timeout (the suite's pin) ends it.
TEST_TIMEOUT = 10


def run(language: str, tests: UnitTests, code: Path, quiet: bool = False) -> dict[str, str]:
    """Run ``tests`` against the code in ``code`` (a workspace's ``python/`` or ``bash/``, or the reference's);
    return each test's outcome. Their own output goes to the terminal unless ``quiet``."""
    with tempfile.TemporaryDirectory(prefix="course-unit-") as scratch:
        report = Path(scratch) / "report.xml"
        if language == "python":
            argv = [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--timeout={TEST_TIMEOUT}"]
            argv += [f"--junitxml={report}", str(REPO_ROOT / tests.path)]
            paths = [str(code), *filter(None, [os.environ.get("PYTHONPATH")])]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
            cwd = REPO_ROOT / "python"
        elif language == "bash":
            tree = bash_tree(code, Path(scratch) / "bash")
            test_file = tree / Path(tests.path).relative_to("bash")
            argv = [str(BATS), "--report-formatter", "junit", "--output", scratch, str(test_file)]
            env, cwd = dict(os.environ), tree
        else:
            raise ValueError(f"no unit tests for {language}")
        output = subprocess.DEVNULL if quiet else sys.stderr
        with subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=output) as process:
            wait_for_report(process, report)
        return junit_outcomes(report.read_text()) if report.is_file() else {}


def wait_for_report(process: subprocess.Popen, report: Path) -> None:
    """Wait until the run ends; once its report is written, for a few seconds more only. Code that raises in a
    test can leave a worker thread waiting forever (a stub's add never wakes it): pytest has finished and
    written its report, but its process would never exit."""
    deadline = time.monotonic() + TIMEOUT
    while not report.is_file() and time.monotonic() < deadline:
        try:
            process.wait(timeout=0.2)
            return
        except subprocess.TimeoutExpired:
            continue
    try:
        process.wait(timeout=EXIT_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bash_tree(code: Path, tree: Path) -> Path:
    """A Bash track whose ``test/`` is the repository's and everything else the code's (links, not copies)."""
    tree.mkdir(parents=True)
    for entry in code.iterdir():
        if entry.name != "test":
            (tree / entry.name).symlink_to(entry.resolve())
    shutil.copytree(REPO_ROOT / "bash" / "test", tree / "test", symlinks=True)
    return tree


def junit_outcomes(xml: str) -> dict[str, str]:
    """A JUnit XML report -> test name -> passed | failed | skipped (an error counts as a failure)."""
    found = {}
    for case in ET.fromstring(xml).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            found[case.get("name", "")] = "failed"
        elif case.find("skipped") is not None:
            found[case.get("name", "")] = "skipped"
        else:
            found[case.get("name", "")] = "passed"
    return found


def explain(tests: UnitTests, found: dict[str, str]) -> tuple[bool, list[str], list[str]]:
    """Whether the unit tests pass, the outcome lines, and what is missing in the learner's words (each once)."""
    failed = [name for name, outcome in found.items() if outcome != "passed"]
    lines = [f"  unit tests ({tests.path}): {len(found) - len(failed)} passed, {len(failed)} failed"]
    lines += [f"  {found[name]:8} {name}" for name in failed]
    if not found:
        lines.append("  no unit test ran: your code does not load (read the test run's output above)")
        return False, lines, []
    # The tests that name the exercise's behaviours say it in words; any other failure is shown by its name above.
    meanings = dict.fromkeys(tests.missing[name] for name in failed if name in tests.missing)
    if failed and not meanings:
        meanings = {"the behaviour the failing tests above name": None}
    return not failed, lines, [f"still missing: {meaning}." for meaning in meanings]
