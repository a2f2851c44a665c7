"""Unit tests of the course's machinery: the marker cutter, the normalizer, the reference checker, the levels."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from course import docrefs, docrun, exercises, grading, levels, markers, unittests
from course.__main__ import cmd_exercise, language_option, read_impl_file
from course.grading import Cell, outcomes, pytest_argv
from course.normalize import normalize

PYTHON_SOURCE = '''def pages(query):
    """Each page."""
    # exercise: pagination begin
    token = None
    return token
    # exercise: pagination end


def other():
    return 1
'''

GO_SOURCE = """package basics

import (
\t"context"

\tmetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ListPods(ctx context.Context) string {
\t// exercise: pagination begin
\topts := metav1.ListOptions{}
\treturn opts.Continue
\t// exercise: pagination end
}
"""


# ----- markers ---------------------------------------------------------------------------
def test_cut_replaces_only_the_marked_body_with_a_stub_and_hint(tmp_path):
    path = tmp_path / "pods.py"
    path.write_text(PYTHON_SOURCE)
    assert markers.cut(path, "pagination", "follow the continue token")
    text = path.read_text()
    assert "token = None" not in text
    assert "    # TODO(pagination): follow the continue token\n" in text
    assert '    raise NotImplementedError("exercise pagination: not written yet (make check)")\n' in text
    assert "# exercise: pagination begin" in text and "# exercise: pagination end" in text
    assert "def other():\n    return 1" in text
    compile(text, str(path), "exec")  # still a valid program


def test_cut_of_another_exercise_leaves_the_file_alone(tmp_path):
    path = tmp_path / "pods.py"
    path.write_text(PYTHON_SOURCE)
    assert not markers.cut(path, "finalizer", "x")
    assert path.read_text() == PYTHON_SOURCE


def test_go_stub_panics_and_blanks_the_imports_only_the_body_used(tmp_path):
    path = tmp_path / "list.go"
    path.write_text(GO_SOURCE)
    markers.cut(path, "pagination", "call metav1.ListOptions{} and follow Continue")
    text = path.read_text()
    assert '\tpanic("exercise pagination: not written yet (make check)")\n' in text
    assert '\t_ "k8s.io/apimachinery/pkg/apis/meta/v1"' in text
    assert '\t"context"' in text  # still used by the signature


def test_bash_stub_returns_1_after_a_message(tmp_path):
    path = tmp_path / "kube.sh"
    path.write_text("list_pods() {\n  # exercise: pagination begin\n  echo hi\n  # exercise: pagination end\n}\n")
    markers.cut(path, "pagination", "hint")
    assert '  echo "exercise pagination: not written yet (make check)" >&2\n  return 1\n' in path.read_text()
    subprocess.run(["bash", "-n", str(path)], check=True)


@pytest.mark.parametrize(
    ("source", "stub"),
    [
        ("def f:\n  # exercise: finalizer begin\n  .;\n  # exercise: finalizer end\n", 'error("{m}");'),
        ("def f:\n  # exercise: finalizer begin\n  .\n  # exercise: finalizer end\n  ;\n", 'error("{m}")'),
    ],
    ids=["semicolon-inside", "semicolon-after"],
)
def test_jq_stub_is_an_error_and_keeps_the_definition_closed(tmp_path, source, stub):
    path = tmp_path / "reconciler.jq"
    path.write_text(source)
    markers.cut(path, "finalizer", "hint")
    expected = stub.format(m="exercise finalizer: not written yet (make check)")
    assert f"  {expected}\n" in path.read_text()
    subprocess.run(["jq", "-n", "-L", str(tmp_path), 'include "reconciler"; 1'], check=True, capture_output=True)


@pytest.mark.parametrize(
    "text",
    [
        "# exercise: a begin\n",
        "# exercise: a end\n",
        "# exercise: a begin\n# exercise: b begin\n# exercise: b end\n# exercise: a end\n",
    ],
    ids=["never-ends", "end-without-begin", "nested"],
)
def test_broken_markers_are_refused(tmp_path, text):
    with pytest.raises(markers.MarkerError):
        markers.regions(tmp_path / "x.py", text)


def test_every_marked_region_in_the_repository_is_well_formed():
    root = Path(__file__).resolve().parents[2]
    for top in ("python/src", "go", "bash"):
        for path in (root / top).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".go", ".sh", ".jq", ""):
                markers.regions(path, path.read_text(errors="replace"))  # raises on a broken pair


# ----- normalize -------------------------------------------------------------------------
@pytest.mark.parametrize("step", sorted(exercises.EXERCISES))
def test_every_exercise_is_marked_once_in_every_language_that_has_it(step):
    """A refactor that drops or doubles a marker breaks `make exercise`: caught here, not by a learner."""
    chosen = exercises.EXERCISES[step]
    for language in exercises.LANGUAGES:
        regions = markers.find(exercises.SOURCES[language], step)
        if language in chosen.not_in:
            assert not regions, f"{language} marks {step}, yet the course says it has none"
        else:
            assert len(regions) == 1, f"{language}: {len(regions)} regions of exercise {step}, want 1"


def test_normalize_hides_what_differs_run_to_run():
    one = 'ce-one-pod-1a2b3c  web-5d8f7c9b6d-x7k2p  1/1  Running  0  12s  {"resourceVersion": "4211"} 127.0.0.1:40123'
    two = 'ce-one-pod-9f8e7d  web-7c9d8b5f4c-q9w8e  1/1  Running  0  3m2s  {"resourceVersion": "77"} 127.0.0.1:5'
    assert normalize(one) == normalize(two)
    assert "<age>" in normalize(one) and "<rv>" in normalize(one)


def test_normalize_hides_the_etcd_revision_of_a_compaction():
    one = "compacted etcd at revision 268: a watch resuming from an older resourceVersion gets 410 Gone"
    assert normalize(one) == normalize(one.replace("268", "1234"))
    assert normalize(one) != normalize(one.replace("410 Gone", "200 OK"))


def test_normalize_hides_which_kwok_node_the_scheduler_picked():
    assert normalize("web  1/1  Running  0  kwok-node-0  3s") == normalize("web  1/1  Running  0  kwok-node-1  2s")


def test_normalize_keeps_what_matters():
    assert normalize("web  1/1  Running") != normalize("web  0/1  Pending")
    assert normalize("uid 123e4567-e89b-12d3-a456-426614174000\n\n") == "uid <uid>"


# ----- docrun ----------------------------------------------------------------------------
def test_console_blocks_split_commands_and_expected_output():
    page = "text\n```console\n$ echo a \\\n  b\na b\n$ true\n```\n```console\n$ # not run\n$ rm -rf /\n```\n"
    [[first, second]] = docrun.blocks(page)
    assert first.command == "echo a \n  b" and first.expected == ["a b"] and first.line == 3
    assert second.command == "true" and second.expected == []


# ----- docrefs ---------------------------------------------------------------------------
def test_references_are_found_outside_parentheses_and_code():
    page = (
        "| x | `informer.py`: `Informer` (the client's `SharedInformer`), `ListWatch` | `go.mod`: `x` |\n"
        "```\n`a.py`: `nope`\n```\n"
    )
    assert docrefs.references(page) == [(1, "informer.py", ["Informer", "ListWatch"])]


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("pages", "def pages(q):\n", True),
        ("Informer.run", "class Informer:\n    def run(self):\n", True),
        ("Informer.run", "def run():\n\nclass Informer:\n    pass\n", False),
        ("PAGE_SIZE", "PAGE_SIZE = 500\n", True),
        ("nope", "def pages(q):\n", False),
    ],
)
def test_python_definitions(tmp_path, name, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert docrefs.defined(path, name) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ListPods", True), ("Watcher.Run", True), ("Watcher.Nope", False), ("PageSize", True), ("Listing", True)],
)
def test_go_definitions(tmp_path, name, expected):
    path = tmp_path / "m.go"
    path.write_text(
        "package m\n\nconst PageSize = 500\n\ntype Listing struct{}\n\n"
        "func ListPods() {}\n\nfunc (w *Watcher) Run() error { return nil }\n"
    )
    assert docrefs.defined(path, name) is expected


def test_bash_and_jq_definitions(tmp_path):
    script, program = tmp_path / "kube.sh", tmp_path / "pods.jq"
    script.write_text("REQUEST_TIMEOUT=30s\nlist_pods() {\n  :\n}\n")
    program.write_text("def pod_record: .;\n")
    assert docrefs.defined(script, "list_pods") and docrefs.defined(script, "REQUEST_TIMEOUT")
    assert not docrefs.defined(script, "watch_pods")
    assert docrefs.defined(program, "pod_record") and not docrefs.defined(program, "pods_table")


def test_check_reports_a_missing_file_and_a_missing_name(tmp_path):
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "pods.py").write_text("def pages():\n    pass\n")
    page = tmp_path / "page.md"
    page.write_text("`pods.py`: `pages`, `gone`; `missing.py`: `x`\n")
    assert docrefs.check([page], tmp_path) == [
        "page.md:1: pods.py defines no gone",
        "page.md:1: no file missing.py",
    ]


# ----- levels ----------------------------------------------------------------------------
def _passing(up_to: int) -> dict[str, str]:
    return {s: "passed" for level in levels.LEVELS[:up_to] for s in level.scenarios}


def test_levels_give_partial_credit_and_name_the_next_thing_to_build():
    found = _passing(2) | {"level_finalizer_and_registry": "failed"}
    verdict = levels.verdict(found)
    assert verdict.reached == 2
    assert verdict.next_level.name == "finalizer and registry"
    assert verdict.failing == ("level_finalizer_and_registry",)
    text = "\n".join(levels.describe(verdict))
    assert "level 2/5 reached" in text and "finalizer" in text


def test_a_scenario_that_did_not_run_is_not_credit_and_is_not_called_failing():
    found = _passing(1)
    found.pop("level_children")
    verdict = levels.verdict(found)
    assert verdict.reached == 0
    assert verdict.failing == () and verdict.not_run == ("level_children",)
    text = "\n".join(levels.describe(verdict))
    assert "still failing" not in text and "no result" in text and "level_children" in text


def test_every_level_passed():
    verdict = levels.verdict(_passing(len(levels.LEVELS)))
    assert verdict.reached == len(levels.LEVELS) and verdict.next_level is None


# ----- grading ---------------------------------------------------------------------------
def test_outcomes_keep_the_worst_of_a_scenarios_variants():
    rows = [
        {"language": "go", "scenario": "usage_errors", "outcome": "passed"},
        {"language": "go", "scenario": "usage_errors", "outcome": "failed"},
        {"language": "mine", "scenario": "one_pod", "outcome": "passed"},
    ]
    assert outcomes(rows) == {"go": {"usage_errors": "failed"}, "mine": {"one_pod": "passed"}}


def test_pytest_argv_selects_one_cell():
    cell = Cell("advanced", impl="./ctl --x", scenarios=("level_children", "create_ready"), first_failure_stops=True)
    argv = pytest_argv(cell, "local", 0)
    assert argv[1:] == [
        "-m", "pytest", "--cluster=local", "--track=advanced", "-n", "0", "--impl=./ctl --x", "--impl-name=mine",
        "test_advanced_levels.py", "test_advanced.py", "-k", "level_children or create_ready", "-x",
    ]  # fmt: skip


def test_a_locale_in_LANG_means_no_language():
    assert language_option("C.UTF-8") == "" and language_option("en_US.UTF-8") == ""
    assert language_option("python") == "python"


def test_impl_file_names_a_command_per_track(tmp_path):
    path = tmp_path / "impl"
    path.write_text("# mine\nbasics: ./list-pods --fast\nadvanced: node ctl.js\n")
    assert read_impl_file(path) == [("basics", "./list-pods --fast"), ("advanced", "node ctl.js")]
    path.write_text("nonsense\n")
    with pytest.raises(SystemExit):
        read_impl_file(path)


def test_the_course_cli_refuses_an_unknown_exercise():
    result = subprocess.run(
        [sys.executable, "-m", "course", "exercise", "--lang", "python", "--step", "nope"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    assert result.returncode != 0 and "no exercise 'nope'" in result.stderr


def test_docrun_reports_a_difference_and_update_writes_the_real_output(tmp_path, monkeypatch):
    page = tmp_path / "step.md"
    page.write_text("```console\n$ a\nold\n$ b\n```\nafter\n")
    printed = {"a": "new line\nsecond\n", "b": "b out\n"}
    monkeypatch.setattr(docrun, "environment", lambda cluster: {})
    monkeypatch.setattr(docrun, "run_step", lambda step, env, base: printed[step.command])
    monkeypatch.setattr(docrun.subprocess, "run", lambda *a, **k: None)  # the fresh start
    monkeypatch.setattr(docrun, "REPO_ROOT", tmp_path)
    assert docrun._run_pages([page], update=False, cluster="local") == 1
    assert docrun._run_pages([page], update=True, cluster="local") == 0
    assert page.read_text() == "```console\n$ a\nnew line\nsecond\n$ b\nb out\n```\nafter\n"
    assert docrun._run_pages([page], update=False, cluster="local") == 0


def test_a_difference_shows_the_background_programs_logs_and_whether_they_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(docrun, "REPO_ROOT", tmp_path)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "learn-watch.err").write_text("".join(f"line {n}\n" for n in range(20)) + "error: boom\n")
    (tmp_path / "build" / "learn-watch.pid").write_text(f"{os.getpid()}\n")
    (tmp_path / "build" / "learn-controller.pid").write_text("4194999\n")  # above any pid_max: no such process
    docrun._say_difference(tmp_path / "05.md", docrun.Step("cat out", ["DELETED"], 33), "", "bash")
    said = capsys.readouterr().err
    assert "build/learn-watch.err ends with:\n" in said and "    error: boom" in said and "line 11" not in said
    assert f"build/learn-watch.pid: pid {os.getpid()} running" in said
    assert "build/learn-controller.pid: pid 4194999 gone" in said
    assert "learn-standby" not in said  # no file, nothing said


def test_the_side_by_side_table_names_one_file_per_row():
    header = docrefs.SIDE_BY_SIDE_HEADER
    good = f"{header}\n|---|---|---|---|\n| queue | `queue.py`: `add` | `queue.go`: `Add` | `queue.sh`: `queue_add` |\n"
    assert docrefs.one_shape(good, "page") == []
    bad = good + "| leader | `leader.py`: `x` | `manager.go`: `y` | `leader.sh`: `z` |\n"
    assert docrefs.one_shape(bad, "page") == ["page:4: the languages name different files (leader, manager)"]
    assert docrefs.one_shape("no table", "page")  # a page without the table is a problem, not a pass
    assert (
        docrefs.one_shape(
            (Path(__file__).resolve().parents[2] / "docs" / "advanced.md").read_text(), "docs/advanced.md"
        )
        == []
    )


@pytest.mark.parametrize(
    ("path", "name"),
    [("errors", "errors"), ("k8s.io/klog/v2", "klog"), ("gopkg.in/yaml.v3", "yaml"), ("k8s.io/api/core/v1", "v1")],
)
def test_a_go_import_is_used_by_its_package_name(path, name):
    assert markers.go_package_name(path) == name


def test_a_new_exercise_keeps_the_previous_workspace_aside(tmp_path):
    first = exercises.create("python", "finalizer", tmp_path)[0].path
    first.write_text(first.read_text() + "# the learner's work\n")
    kept = exercises.keep_previous("python", tmp_path)
    assert kept is not None and kept.name.startswith("python.finalizer.")
    assert "# the learner's work" in (kept / first.relative_to(tmp_path / "python")).read_text()
    assert not (tmp_path / "python").exists()
    assert exercises.keep_previous("python", tmp_path) is None  # nothing left to keep


def test_an_exercise_the_language_lacks_is_refused_before_the_workspace_moves(monkeypatch):
    moved = []
    monkeypatch.setattr(exercises, "keep_previous", moved.append)
    with pytest.raises(SystemExit, match="no go exercise queue-dedup"):
        cmd_exercise(argparse.Namespace(lang="go", step="queue-dedup"))
    assert moved == []


def test_scenarios_of_no_implementation_get_no_level():
    passed, lines = grading.explain_track("advanced", {"n/a": {"crd_schema": "passed"}})
    assert passed and lines == [
        "advanced / checks of the CRD and cluster themselves (no controller runs in them): "
        "1 passed, 0 failed, 0 skipped"
    ]


REPO = Path(__file__).resolve().parents[2]
# Prints what `make check` hands the course tool: the environment's IMPL and IMPL_FILE, then its arguments.
SHOW_CHECK_INPUT = (
    "import os, sys; print(os.environ['CE_CHECK_IMPL']); print(os.environ['CE_CHECK_IMPL_FILE']); print(sys.argv[1:])"
)


@pytest.mark.parametrize(
    "impl",
    [
        "./ctl --greeting='it'\"'\"'s here'",  # a single quote inside single quotes, as a shell writes it
        "it's mine",
        'say "hi" $HOME `id` $(id); exit 3',
        "",
    ],
)
def test_make_check_passes_impl_through_as_data(impl, tmp_path):
    impl_file = tmp_path / "learner's programs.txt"
    result = subprocess.run(
        # -o venv: the venv is taken as made (this test must not install anything); COURSE: the printer instead.
        [
            "make",
            "-s",
            "--no-print-directory",
            "-o",
            "venv",
            "check",
            f"IMPL={impl}",
            f"IMPL_FILE={impl_file}",
            f'COURSE={sys.executable} -c "{SHOW_CHECK_INPUT}"',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed_impl, printed_file, arguments = result.stdout.splitlines()
    assert printed_impl == impl
    assert printed_file == str(impl_file)
    assert "--impl" not in arguments  # not pasted into the command line any more


def test_check_options_default_to_the_environment(monkeypatch):
    from course import __main__ as cli

    monkeypatch.setenv("CE_CHECK_IMPL", "./ctl --name='it'\"'\"'s'")
    monkeypatch.setenv("CE_CHECK_IMPL_FILE", "it's.txt")
    seen = {}
    monkeypatch.setattr(cli, "cmd_check", lambda args: seen.update(impl=args.impl, impl_file=args.impl_file) or 0)
    assert cli.main(["check"]) == 0
    assert seen == {"impl": "./ctl --name='it'\"'\"'s'", "impl_file": "it's.txt"}


def test_docrun_stops_a_leftover_background_program_only_if_the_pid_still_runs_it_here(tmp_path):
    pid_file = tmp_path / "learn-watch.pid"
    # A stand-in for the page's background program (it is never waited on for timing, only stopped).
    program = subprocess.Popen(["sleep", "300"], cwd=tmp_path)
    try:
        pid_file.write_text(f"{program.pid}\n")
        # Right after the fork the child's command line is still the forking Python's (or empty): wait, with a
        # deadline, until it runs the program, as a page's background program does long before docrun cleans up.
        cmdline = Path(f"/proc/{program.pid}/cmdline")
        deadline = time.monotonic() + 10
        while not cmdline.read_bytes().startswith(b"sleep") and time.monotonic() < deadline:
            time.sleep(0.01)
        docrun.stop_leftover(pid_file, docrun.WATCHER, tmp_path)  # another program now runs under that pid
        docrun.stop_leftover(pid_file, (b"sleep",), tmp_path / "other")  # run from another worktree
        assert program.poll() is None  # both left alone
        docrun.stop_leftover(pid_file, (b"sleep",), tmp_path)
        assert program.wait(timeout=10) == -15  # SIGTERM
    finally:
        program.kill()
        program.wait(timeout=10)
    docrun.stop_leftover(tmp_path / "missing.pid", (b"sleep",))  # no file: nothing to do


def test_the_cluster_is_stopped_as_it_runs_after_a_component_restart(monkeypatch):
    """A page restarts the API server (new pids in the state file): the stop must read them, not the old ones."""
    from course import grading

    from clusterkit import providers

    state = {"apiserver_pid": 100}
    stopped = []

    class Provider:
        def __init__(self):
            self.pid = state["apiserver_pid"]  # what the state file says when the provider is made

        def up(self):
            return True

        def down(self):
            stopped.append(self.pid)

    monkeypatch.setattr(providers, "get_provider", lambda name: Provider())
    with grading.cluster_running("local"):
        state["apiserver_pid"] = 200  # `make restart-apiserver` ran in between
    assert stopped == [200]


# ----- a learner's make variables are data (TRACK, LANG, STEP, LEVELS, CHECK_WORKERS) ----------------------------
# Each value would run `touch RAN` if a shell or make ever read it as code; the course tool must refuse it instead.
HOSTILE = ["x'; touch {ran}; '", "$(touch {ran})", "$(shell touch {ran})", "`touch {ran}`", '"; touch {ran}; "']


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("target", "variable", "others"),
    [
        ("check", "TRACK", []),
        ("check", "LANG", ["TRACK=basics"]),
        ("check", "LEVELS", ["TRACK=advanced"]),
        ("check", "CHECK_WORKERS", ["TRACK=basics"]),
        ("exercise", "LANG", ["STEP=finalizer"]),
        ("exercise", "STEP", ["LANG=python"]),
    ],
)
def test_make_refuses_a_value_that_is_not_a_choice_in_one_line_and_runs_nothing(
    target, variable, others, value, tmp_path
):
    ran = tmp_path / "ran"
    result = subprocess.run(
        # -o venv: the venv is taken as made (this test must not install anything); the real course tool runs.
        ["make", "-s", "--no-print-directory", "-o", "venv", target, *others, f"{variable}={value.format(ran=ran)}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert result.returncode != 0
    assert len(said) == 1 and said[0].startswith(("error: no exercise", f"error: {variable}=")), said
    assert not ran.exists()


# Taken as made (-o): `make -n` still runs a line that calls $(MAKE), and setup's does.
MADE = ("-ovenv", "-ogo-build", "-obats", "-orequire-tools")


@pytest.mark.parametrize("value", HOSTILE)
def test_make_exports_cluster_as_data(value, tmp_path):
    """CLUSTER (local|kind|existing) is exported to every recipe: as its text, never expanded or pasted."""
    ran = tmp_path / "ran"
    subprocess.run(
        # -n: the recipes are printed, not run, except the line that calls $(MAKE), which reads CLUSTER.
        ["make", "-n", "-s", "--no-print-directory", *MADE, "setup", "conformance", f"CLUSTER={value.format(ran=ran)}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert not ran.exists()


def test_learner_values_default_to_the_environment(monkeypatch):
    from course import __main__ as cli

    for name, value in {"CE_CHECK_TRACK": "advanced", "CE_CHECK_LANG": "bash", "CE_CHECK_LEVELS": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CE_CHECK_WORKERS", "2")
    seen = {}
    monkeypatch.setattr(cli, "cmd_check", lambda args: seen.update(vars(args)) or 0)
    assert cli.main(["check"]) == 0
    assert (seen["track"], seen["lang"], seen["levels_only"], seen["workers"]) == ("advanced", "bash", "1", 2)


# ----- exercises graded by the language's own unit tests (queue-dedup) ----------------------------------------


def test_fill_writes_a_body_indented_like_the_marker(tmp_path):
    path = tmp_path / "list.py"
    path.write_text(PYTHON_SOURCE)
    assert markers.fill(path, "pagination", "if True:\n    return 2")
    assert "    # exercise: pagination begin\n    if True:\n        return 2\n    # exercise: pagination end\n" in (
        path.read_text()
    )


def test_junit_reports_of_pytest_and_bats_read_as_outcomes():
    xml = (
        '<testsuites><testsuite><testcase name="a"/><testcase name="b"><failure message="x"/></testcase>'
        '<testcase name="c"><skipped/></testcase><testcase name="d"><error/></testcase></testsuite></testsuites>'
    )
    assert unittests.junit_outcomes(xml) == {"a": "passed", "b": "failed", "c": "skipped", "d": "failed"}


def test_a_failing_queue_test_is_told_in_the_learners_words():
    tests = exercises.EXERCISES["queue-dedup"].unit_tests["python"]
    passed, lines, missing = unittests.explain(
        tests, {"test_a_key_added_twice_is_queued_once": "failed", "test_backoff_never_overflows": "passed"}
    )
    assert not passed
    assert lines[1] == "  failed   test_a_key_added_twice_is_queued_once"
    assert missing == [f"still missing: {exercises.QUEUED_TWICE}."]
    assert "a key added twice while it waited was queued twice" in missing[0]


@pytest.mark.parametrize("language", ["python", "bash"])
def test_queue_unit_tests_reject_each_wrong_answer_and_the_stub_and_pass_the_reference(language, tmp_path):
    """What CI's verify-exercises proves for queue-dedup, without a cluster: the grading really runs the
    workspace's code (a wrong answer fails), and the reference passes."""
    if language == "bash" and not unittests.BATS.exists():
        pytest.skip("bats is not installed (make bats); verify-exercises checks the Bash exercise in CI")
    chosen = exercises.EXERCISES["queue-dedup"]
    tests = chosen.unit_tests[language]
    reference = unittests.run(language, tests, exercises.REFERENCE_CODE[language], quiet=True)
    assert reference and set(reference.values()) == {"passed"}
    for wrong in chosen.wrong_answers[language]:
        workspace = tmp_path / wrong.name.replace(" ", "-")
        exercises.create(language, "queue-dedup", workspace, answer=wrong.body)
        found = unittests.run(language, tests, exercises.code_root(language, workspace), quiet=True)
        assert found[wrong.caught_by] == "failed", wrong.name
        assert not unittests.explain(tests, found)[0]


# ----- docrun: every language's walk through the pages ----------------------------------------------------------


def _block(*lines: str) -> list[docrun.Step]:
    return docrun.blocks("```console\n" + "\n".join(lines) + "\n```\n")[0]


def test_a_block_of_several_languages_runs_each_languages_own_lines_in_its_walk():
    block = _block(
        "$ kubectl create namespace learn",
        "namespace/learn created",
        "$ .venv/bin/python -m controller_examples.basics.list_pods -n learn",
        "NAME",
        "$ build/bin/list-pods -n learn",
        "NAME",
    )
    assert [s.command for s in docrun.for_language(block, "python")] == [
        "kubectl create namespace learn",
        ".venv/bin/python -m controller_examples.basics.list_pods -n learn",
    ]
    assert [s.command for s in docrun.for_language(block, "bash")] == ["kubectl create namespace learn"]


def test_a_block_of_one_languages_program_runs_with_each_languages_program_and_the_same_output():
    block = _block(
        "$ build/bin/staticsite-controller --namespace=learn >build/learn-controller.log 2>&1 & echo $! >x.pid",
        "$ kubectl wait --for=condition=Ready staticsite/hello -n learn",
        "staticsite.sites.example.com/hello condition met",
    )
    python = docrun.for_language(block, "python")
    assert python[0].command.startswith(".venv/bin/python -m controller_examples.advanced.manager --namespace=learn ")
    assert not python[0].shown and python[1].shown  # --update writes only what the page's own command printed
    assert python[1].expected == ["staticsite.sites.example.com/hello condition met"]
    assert docrun.for_language(block, "bash")[0].command.startswith("bash/advanced/staticsite-controller --names")
    assert docrun.for_language(block, "go") == block


def test_a_program_is_recognised_as_a_whole_word_only():
    assert docrun.languages_named("build/bin/list-pods -n x") == {"go"}
    assert docrun.languages_named("bash/basics/list-pods") == {"bash"}
    assert docrun.languages_named("build/bin/list-pods-old; cat build/learn-watch.out") == set()


def test_normalize_reads_a_whole_float_sample_as_the_number():
    assert normalize("staticsite_leader 1.0\nstaticsite_leader 0") == normalize(
        "staticsite_leader 1\nstaticsite_leader 0"
    )
    assert (
        normalize('staticsite_reconcile_total{result="success"} 3.0')
        == 'staticsite_reconcile_total{result="success"} 3'
    )
    assert normalize("staticsite_reconcile_duration_seconds_sum 0.5") == "staticsite_reconcile_duration_seconds_sum 0.5"


def test_a_walk_moves_the_pages_ports_to_free_ones():
    command = "ctl --health-addr=127.0.0.1:18081 --metrics-addr=127.0.0.1:18080; curl -s 127.0.0.1:18082/metrics"
    assert docrun.on_ports(command, 18200) == (
        "ctl --health-addr=127.0.0.1:18201 --metrics-addr=127.0.0.1:18200; curl -s 127.0.0.1:18202/metrics"
    )
    assert docrun.on_ports("curl 127.0.0.1:180800", 18200) == "curl 127.0.0.1:180800"
    base = docrun.free_ports()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        assert docrun.free_ports() != base


def test_an_exercise_with_unit_tests_runs_its_scenarios_only_once_they_pass(monkeypatch, tmp_path):
    chosen = exercises.EXERCISES["queue-dedup"]
    ran = []
    monkeypatch.setattr(grading, "exercise_cell", lambda lang, chosen, workspace: Cell("advanced", impl_name="w"))
    monkeypatch.setattr(
        grading,
        "run",
        lambda cell, cluster, workers: ran.append(cell) or {"w": dict.fromkeys(chosen.scenarios, "passed")},
    )
    monkeypatch.setattr(unittests, "run", lambda *a: {"test_a_key_added_twice_is_queued_once": "failed"})
    passed, lines = grading.grade_exercise("python", chosen, "local", 0, tmp_path)
    assert not passed and ran == []
    assert f"still missing: {exercises.QUEUED_TWICE}." in lines
    assert "  not run  level_children (once the unit tests pass)" in lines

    monkeypatch.setattr(unittests, "run", lambda *a: {"test_a_key_added_twice_is_queued_once": "passed"})
    passed, lines = grading.grade_exercise("python", chosen, "local", 0, tmp_path)
    assert passed and len(ran) == 1
    assert lines[1].startswith("  unit tests (python/tests/advanced/test_queue.py): 1 passed, 0 failed")
    assert lines[-1] == "done: your code passes the tests of this step."
