"""``make check``: one cell of the conformance matrix, or the learner's workspace, graded and explained.

It runs the conformance suite (the same scenarios, the same results.json and report.md as ``make conformance``),
restricted to one track and one implementation, and then says in words what is still missing: the exercise's
behaviour, or for the advanced track the next level to build. Only the set-up the cell needs is done: a Python
learner on ``CLUSTER=existing`` needs neither Go nor npm.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from course import exercises, levels, unittests
from course.exercises import REPO_ROOT, Exercise

CONFORMANCE = REPO_ROOT / "conformance"
RESULTS = REPO_ROOT / "build" / "conformance" / "results.json"
PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")
TRACKS = ("basics", "intermediate", "advanced")


@dataclass
class Cell:
    """What to grade: a track, the implementations (names) and, for a program of yours, its command."""

    track: str
    languages: list[str] = field(default_factory=list)
    impl: str = ""
    impl_name: str = "mine"
    scenarios: tuple[str, ...] = ()  # empty: all of the track's
    first_failure_stops: bool = False


def pytest_argv(cell: Cell, cluster: str, workers: int) -> list[str]:
    argv = [PYTHON, "-m", "pytest", f"--cluster={cluster}", f"--track={cell.track}", "-n", str(workers)]
    if cell.impl:
        argv += [f"--impl={cell.impl}", f"--impl-name={cell.impl_name}"]
    for language in cell.languages:
        argv.append(f"--language={language}")
    if cell.scenarios:
        # pytest runs files in the order given: the step's first (decisive, quickest) scenario first.
        argv += [*scenario_files(cell.scenarios), "-k", " or ".join(cell.scenarios)]
    if cell.first_failure_stops:
        argv.append("-x")
    return argv


def scenario_files(scenarios: tuple[str, ...], directory: Path = CONFORMANCE) -> list[str]:
    """The suite's files defining ``scenarios``, in the order the scenarios are named."""
    files: list[str] = []
    for scenario in scenarios:
        pattern = re.compile(rf"^def test_{re.escape(scenario)}\(", re.M)
        for path in sorted(directory.glob("test_*.py")):
            if pattern.search(path.read_text()) and path.name not in files:
                files.append(path.name)
    return files


def set_up(languages: list[str], cluster: str, bats: bool = False) -> None:
    """Build only what this cell runs: Go for the Go programs, jq and socat for Bash, bats for a Bash exercise's
    unit tests, the local cluster."""
    targets = []
    if cluster == "local":
        targets.append("cluster-binaries")
    if "go" in languages:
        targets.append("go-build")
    if "bash" in languages:
        targets.append("require-tools")
    if bats:  # a Bash exercise graded by its unit tests
        targets.append("bats")
    if targets:
        subprocess.run(["make", "--no-print-directory", "-C", str(REPO_ROOT), *targets], check=True)


def run(
    cell: Cell, cluster: str, workers: int, results: Path = RESULTS, env: dict[str, str] | None = None, quiet=False
) -> dict[str, dict[str, str]]:
    """Run the cell's scenarios; return outcomes per implementation: name -> scenario -> outcome.

    The suite writes its results.json and report.md next to ``results`` (``make check``: where ``make
    conformance`` writes them; CI's exercise check: a directory per exercise, so the suite's own stay).
    """
    results.unlink(missing_ok=True)
    env = {
        **os.environ,
        "CE_IMPL_BASE": os.environ.get("CE_IMPL_BASE", str(REPO_ROOT)),
        "CE_RESULTS_DIR": str(results.parent),
        **(env or {}),
    }
    output = subprocess.DEVNULL if quiet else None
    subprocess.run(
        pytest_argv(cell, cluster, workers), cwd=CONFORMANCE, env=env, check=False, stdout=output, stderr=output
    )
    return outcomes(json.loads(results.read_text()) if results.is_file() else [])


LANGUAGE_FREE = "n/a"  # how results.json names the column of a scenario that runs no implementation


def outcomes(rows: list[dict]) -> dict[str, dict[str, str]]:
    """results.json rows -> implementation -> scenario -> worst outcome (a parametrized scenario's variants)."""
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    table: dict[str, dict[str, str]] = {}
    for row in rows:
        cells = table.setdefault(row["language"], {})
        previous = cells.get(row["scenario"], "passed")
        cells[row["scenario"]] = max(previous, row["outcome"], key=rank.__getitem__)
    return table


def grade_exercise(
    language: str, chosen: Exercise, cluster: str, workers: int, workspace: Path = exercises.WORKSPACE
) -> tuple[bool, list[str]]:
    """The workspace's exercise: its unit tests first when it has some (a second or two, no cluster), then, once
    they pass, the step's scenarios; whether it passes, and what to tell the learner."""
    tests = chosen.unit_tests.get(language)
    unit_lines: list[str] = []
    if tests:
        unit_passed, unit_lines, missing = unittests.explain(
            tests, unittests.run(language, tests, exercises.code_root(language, workspace))
        )
        if not unit_passed:
            return False, [f"exercise {chosen.id}: {chosen.goal}", *unit_lines, *_not_run(chosen), *missing, TEST_SAYS]
    cell = exercise_cell(language, chosen, workspace)
    passed, lines = explain_exercise(chosen, run(cell, cluster, workers).get(cell.impl_name, {}))
    return passed, lines[:1] + unit_lines + lines[1:]


TEST_SAYS = "the test's own message (above) says what it saw; the page of this step says how to look."


def _not_run(chosen: Exercise) -> list[str]:
    return [f"  {'not run':8} {scenario} (once the unit tests pass)" for scenario in chosen.scenarios]


def explain_exercise(chosen: Exercise, found: dict[str, str]) -> tuple[bool, list[str]]:
    """Whether the exercise's scenarios pass, and what to tell the learner."""
    lines = [f"exercise {chosen.id}: {chosen.goal}"]
    for scenario in chosen.scenarios:
        lines.append(f"  {found.get(scenario, 'not run'):8} {scenario}")
    passed = all(found.get(s) == "passed" for s in chosen.scenarios)
    if passed:
        lines.append("done: your code passes the tests of this step.")
    else:
        lines.append(f"still missing: {chosen.missing}.")
        lines.append("the scenario's own message (above) says what it saw; the page of this step says how to look.")
    return passed, lines


def explain_track(track: str, table: dict[str, dict[str, str]]) -> tuple[bool, list[str]]:
    lines, passed = [], True
    for name, found in table.items():
        failed = sorted(s for s, outcome in found.items() if outcome == "failed")
        counts = {o: sum(1 for v in found.values() if v == o) for o in ("passed", "failed", "skipped")}
        # "n/a": the scenarios of no implementation (the CRD's schema, ...), which run once for the track.
        title = (
            "checks of the CRD and cluster themselves (no controller runs in them)" if name == LANGUAGE_FREE else name
        )
        lines.append(f"{track} / {title}: " + ", ".join(f"{n} {o}" for o, n in counts.items()))
        if failed:
            passed = False
            lines.append("  failing: " + ", ".join(failed))
        if track == "advanced" and name != LANGUAGE_FREE:
            lines += ["  " + line for line in levels.describe(levels.verdict(found))]
    if not table:
        passed = False
        lines.append(f"{track}: no scenario ran (is the implementation there? see the suite's output above)")
    return passed, lines


def exercise_cell(language: str, chosen: Exercise, workspace: Path = exercises.WORKSPACE) -> Cell:
    return Cell(
        track=chosen.track,
        impl=exercises.command_line(language, chosen.track, PYTHON, workspace),
        impl_name=f"{language}-workspace",
        scenarios=chosen.scenarios,
        first_failure_stops=True,
    )


def say(lines: list[str]) -> None:
    print("\n".join(["", "----- make check -----", *lines]), file=sys.stderr)


@contextlib.contextmanager
def cluster_running(cluster: str):
    """The cluster up for the duration (started here, stopped here; one already running is left running)."""
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    from clusterkit.providers import get_provider

    provider = get_provider(cluster)
    started = provider.up()
    try:
        yield provider
    finally:
        if started:
            # A fresh provider: it reads the cluster's state now. A break-glass command run in between
            # (`make restart-apiserver` in a page or a scenario) restarted components under new pids, which
            # the provider made above does not know; stopping its old pids would leave the new ones running.
            get_provider(cluster).down()
