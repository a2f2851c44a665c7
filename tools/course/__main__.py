"""Command line: ``python -m course exercise|check|verify-exercises|docrefs|docrun`` (the Makefile's targets)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course import docrefs, docrun, exercises, grading, levels, unittests
from course.exercises import EXERCISES, REPO_ROOT
from course.exercises import LANGUAGES as LANGS

# Stubs fail by deadline, not by work: three cells at a time keep the two cores busy (the suite's locks still run a
# scenario marked `alone` by itself).
VERIFY_PARALLEL = 3
# A stub never converges: the level scenarios give up on it sooner than on a real controller, which keeps the
# exercise check short; the reference's pass is proven with the full deadlines (the suite's own results).
STUB_ENV = {"CE_LEVEL_TIMEOUT": "20"}


def language_option(value: str) -> str:
    """``LANG`` is also the locale's variable: a locale (C.UTF-8, en_US.UTF-8, POSIX) means "not given"."""
    if not value or value in ("C", "POSIX") or (LOCALE.fullmatch(value) and any(c in value for c in "_.@")):
        return ""
    return exercises.language_name(value)


# A locale's name: language_TERRITORY, then .codeset and @modifier (en_US.UTF-8, C.UTF-8, de_DE@euro).
LOCALE = re.compile(r"[A-Za-z]+(?:_[A-Za-z]+)?(?:\.[A-Za-z0-9-]+)?(?:@[A-Za-z0-9]+)?")


def levels_option(value: str) -> str:
    """``LEVELS=1``: only the level scenarios; empty (or 0): every scenario of the track."""
    if value not in ("", "0", "1"):
        raise SystemExit(f"error: LEVELS={value!r}: give LEVELS=1 (only the level scenarios) or nothing")
    return "" if value == "0" else value


def count_option(value: str) -> int:
    """``CHECK_WORKERS``: how many scenarios run at a time (0: one by one)."""
    if not value.isdigit():
        raise SystemExit(f"error: CHECK_WORKERS={value!r}: give a number (0 runs the scenarios one by one)")
    return int(value)


def environment(name: str) -> str:
    """A value `make` passed through the environment (as data: see the Makefile's course targets)."""
    return os.environ.get(name, "")


def track_option(value: str) -> str:
    if value and value not in grading.TRACKS:
        raise SystemExit(f"error: TRACK={value!r}: choose one of {', '.join(grading.TRACKS)}")
    return value


def step_option(value: str) -> str:
    return exercises.exercise(value).id if value else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make_exercise = commands.add_parser("exercise", help="cut an exercise into workspace/<language>/")
    # `make exercise` and `make check` pass the learner's values in the environment (any quote in them stays
    # data); the options win. Each is checked before anything runs.
    make_exercise.add_argument("--lang", type=language_option, default=environment("CE_EXERCISE_LANG"))
    make_exercise.add_argument("--step", type=step_option, default=environment("CE_EXERCISE_STEP"))
    check = commands.add_parser("check", help="grade one track and implementation, or the workspace")
    check.add_argument("--track", type=track_option, default=environment("CE_CHECK_TRACK"))
    check.add_argument("--lang", type=language_option, default=environment("CE_CHECK_LANG"))
    check.add_argument("--impl", default=environment("CE_CHECK_IMPL"), help="a program of yours: its command line")
    check.add_argument("--impl-name", default="mine")
    check.add_argument(
        "--impl-file", default=environment("CE_CHECK_IMPL_FILE"), help="a file of lines 'TRACK: COMMAND'"
    )
    check.add_argument("--cluster", default=os.environ.get("CLUSTER", "local"))
    check.add_argument("--workers", type=count_option, default=environment("CE_CHECK_WORKERS") or "0")
    check.add_argument(
        "--levels-only",
        type=levels_option,
        default=environment("CE_CHECK_LEVELS"),
        help="advanced: run only the level scenarios (quick: which level, what next)",
    )
    verify = commands.add_parser("verify-exercises", help="CI: every stub fails its scenario, the reference passes")
    verify.add_argument("--cluster", default=os.environ.get("CLUSTER", "local"))
    verify.add_argument("--lang", action="append", default=[])
    verify.add_argument("--step", action="append", default=[])
    verify.add_argument(
        "--reference", type=Path, default=grading.RESULTS, help="the suite's results.json that proves the reference"
    )
    refs = commands.add_parser("docrefs", help="lint: every `file: function` in docs/ names a real definition")
    refs.add_argument("paths", nargs="*", type=Path)
    run_docs = commands.add_parser("docrun", help="run docs/learn/'s command blocks and compare their output")
    run_docs.add_argument("pages", nargs="*", type=Path)
    run_docs.add_argument("--update", action="store_true", help="rewrite the 'you should see' blocks")
    run_docs.add_argument("--cluster", default=os.environ.get("CLUSTER", "local"))
    run_docs.add_argument(
        "--lang", action="append", choices=docrun.LANGUAGES, help="walk the pages in this language only (repeatable)"
    )
    args = parser.parse_args(argv)
    handler = {
        "exercise": cmd_exercise,
        "check": cmd_check,
        "verify-exercises": cmd_verify,
        "docrefs": cmd_docrefs,
        "docrun": cmd_docrun,
    }[args.command]
    return handler(args)


def cmd_exercise(args) -> int:
    if not args.lang or not args.step:
        print("usage: make exercise LANG=python|go|bash STEP=" + "|".join(EXERCISES), file=sys.stderr)
        return 2
    language = exercises.language_name(args.lang)
    chosen = exercises.available(language, args.step)
    kept = exercises.keep_previous(language)
    if kept is not None:
        print(f"your previous workspace is kept as {kept.relative_to(REPO_ROOT)} (nothing was deleted)")
    cut = exercises.create(language, chosen.id)
    print(f"exercise {chosen.id} ({chosen.track} track), {language}: {chosen.goal}")
    print(f"your workspace: {exercises.WORKSPACE / language} (a copy of the reference; git ignores it)")
    print("write the body of:")
    for region in cut:
        print(f"  {region.path.relative_to(REPO_ROOT)}:{region.begin + 2}")
    tests = [chosen.unit_tests[language].path] if language in chosen.unit_tests else []
    print(f"then: make check LANG={language}      (runs: {', '.join([*tests, *chosen.scenarios])})")
    return 0


def cmd_check(args) -> int:
    cells = cells_to_check(args)
    found = [] if cells else workspace_exercises(args)
    # A workspace's Go is built by itself; its Bash needs jq and socat, and bats for an exercise's unit tests.
    languages = {lang for cell in cells for lang in cell.languages} | ({lang for lang, _ in found} - {"go"})
    bats = any(lang == "bash" and lang in chosen.unit_tests for lang, chosen in found)
    grading.set_up(sorted(languages), args.cluster, bats=bats)
    all_passed, lines = True, []
    for cell in cells:
        passed, said = grading.explain_track(cell.track, grading.run(cell, args.cluster, args.workers))
        all_passed &= passed
        lines += said
    for language, chosen in found:
        passed, said = grading.grade_exercise(language, chosen, args.cluster, args.workers)
        all_passed &= passed
        lines += said
    grading.say(lines)
    return 0 if all_passed else 1


def cells_to_check(args) -> list[grading.Cell]:
    if args.impl_file:
        return [
            grading.Cell(track, impl=command, impl_name=args.impl_name)
            for track, command in read_impl_file(Path(args.impl_file))
        ]
    if args.track:
        scenarios = levels.scenarios() if args.levels_only and args.track == "advanced" else ()
        if args.impl:
            return [grading.Cell(args.track, impl=args.impl, impl_name=args.impl_name, scenarios=scenarios)]
        return [grading.Cell(args.track, languages=[args.lang] if args.lang else [], scenarios=scenarios)]
    return []  # the workspace's exercise: see workspace_exercises


def workspace_exercises(args) -> list[tuple[str, exercises.Exercise]]:
    """The exercises in the workspace (of ``--lang``, or of every language): (language, exercise)."""
    languages = [args.lang] if args.lang else list(exercises.LANGUAGES)
    found = [(lang, exercises.current(lang)) for lang in languages]
    chosen = [(lang, step) for lang, step in found if step]
    if not chosen:
        raise SystemExit(
            "error: nothing to check: give TRACK=basics|intermediate|advanced (and LANG= or IMPL=), "
            "or start an exercise first: make exercise LANG=python STEP=pagination"
        )
    return chosen


def read_impl_file(path: Path) -> list[tuple[str, str]]:
    """Lines ``TRACK: COMMAND`` (``#`` starts a comment): your program per track."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        track, _, command = line.partition(":")
        if track.strip() not in grading.TRACKS or not command.strip():
            raise SystemExit(f"error: {path}:{number}: expected 'basics|intermediate|advanced: COMMAND'")
        rows.append((track.strip(), command.strip()))
    return rows


def cmd_verify(args) -> int:
    """For every exercise x language: the stub fails the step's scenarios (stopping at the first failure), and
    the reference passed them in the conformance results (or passes them now, when there are none).

    Three cells run at a time (the suite's locks keep a scenario marked ``alone`` alone); the cluster is
    started once for all of them.
    """
    reference = grading.outcomes(json.loads(args.reference.read_text())) if args.reference.is_file() else {}
    cells = [
        (chosen, lang)
        for chosen in map(exercises.exercise, args.step or EXERCISES)
        for lang in (args.lang or LANGS)
        if lang not in chosen.not_in
    ]
    root = REPO_ROOT / "build" / "exercise-check"
    shutil.rmtree(root, ignore_errors=True)
    bats = any(lang == "bash" and lang in chosen.unit_tests for chosen, lang in cells)
    grading.set_up(sorted({lang for _, lang in cells} - {"go"}), args.cluster, bats=bats)
    with grading.cluster_running(args.cluster), ThreadPoolExecutor(max_workers=VERIFY_PARALLEL) as pool:
        found = pool.map(lambda cell: _verify_one(*cell, root, reference, args.cluster), cells)
        problems = [problem for cell_problems in found for problem in cell_problems]
    print(
        "\n".join(problems)
        or f"{len(cells)} exercises: each stub (and wrong answer) fails its scenario or unit test, the reference passes"
    )
    return 1 if problems else 0


def _verify_one(chosen, language: str, root: Path, reference: dict, cluster: str) -> list[str]:
    name = f"{chosen.id} [{language}]"
    started = time.monotonic()
    if not exercises.markers.find(exercises.SOURCES[language], chosen.id):
        return [f"{name}: no exercise markers in the {language} code"]
    where = root / f"{chosen.id}-{language}"
    exercises.create(language, chosen.id, where / "workspace")
    if language in chosen.unit_tests:
        problems = _verify_unit_tests(chosen, language, where)
    else:
        stub_cell = grading.exercise_cell(language, chosen, where / "workspace")
        stub = grading.run(stub_cell, cluster, 0, where / "stub" / "results.json", env=STUB_ENV, quiet=True).get(
            stub_cell.impl_name, {}
        )
        problems = []
        if all(stub.get(s) in (None, "passed") for s in chosen.scenarios):
            problems.append(f"{name}: the stub passed {', '.join(chosen.scenarios)} (read {where / 'stub'})")
    missing = [s for s in chosen.scenarios if reference.get(language, {}).get(s) != "passed"]
    if missing:  # not in the conformance results (or not passed there): run the reference now
        cell = grading.Cell(chosen.track, languages=[language], scenarios=tuple(missing))
        ran = grading.run(cell, cluster, 0, where / "reference" / "results.json", quiet=True).get(language, {})
        failed = [s for s in missing if ran.get(s) != "passed"]
        if failed:
            problems.append(f"{name}: the reference failed {', '.join(failed)}")
    verdict = "; ".join(problems) or "ok"
    print(f"[verify-exercises] {name}: {verdict} ({time.monotonic() - started:.0f}s)", flush=True)
    return problems


def _verify_unit_tests(chosen, language: str, where: Path) -> list[str]:
    """An exercise graded by unit tests: the stub fails them (so `make check` stops there, before any scenario),
    each wrong answer fails the test that names its mistake, and the reference passes every one of them."""
    name, tests = f"{chosen.id} [{language}]", chosen.unit_tests[language]
    problems = []
    stub = unittests.run(language, tests, exercises.code_root(language, where / "workspace"), quiet=True)
    if not stub or all(outcome == "passed" for outcome in stub.values()):
        problems.append(f"{name}: the stub passed the unit tests of {tests.path}")
    for wrong in chosen.wrong_answers.get(language, ()):
        workspace = where / wrong.name.replace(" ", "-")
        exercises.create(language, chosen.id, workspace, answer=wrong.body)
        found = unittests.run(language, tests, exercises.code_root(language, workspace), quiet=True)
        if found.get(wrong.caught_by) != "failed":
            problems.append(f"{name}: the wrong answer '{wrong.name}' did not fail '{wrong.caught_by}'")
    reference = unittests.run(language, tests, exercises.REFERENCE_CODE[language], quiet=True)
    failed = sorted(test for test, outcome in reference.items() if outcome != "passed")
    if not reference or failed:
        problems.append(f"{name}: the reference failed the unit tests {', '.join(failed) or '(none ran)'}")
    return problems


def cmd_docrefs(args) -> int:
    paths = args.paths or sorted((REPO_ROOT / "docs").rglob("*.md"))
    problems = docrefs.check(paths, REPO_ROOT)
    advanced = REPO_ROOT / "docs" / "advanced.md"
    problems += docrefs.one_shape(advanced.read_text(), "docs/advanced.md")
    print("\n".join(problems) or f"docrefs: every reference in {len(paths)} pages resolves")
    return 1 if problems else 0


def cmd_docrun(args) -> int:
    pages = [page.resolve() for page in args.pages] or sorted((REPO_ROOT / "docs" / "learn").rglob("*.md"))
    languages = tuple(args.lang) if args.lang else docrun.LANGUAGES
    return docrun.main(pages, update=args.update, cluster=args.cluster, languages=languages)


if __name__ == "__main__":
    sys.exit(main())
