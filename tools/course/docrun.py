"""The course pages' commands run, and print what the pages say.

A page shows a command and its output as a ``console`` block:

    ```console
    $ bin/learn list-pods -n learn
    NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE
    ```

Each ``$`` line (with ``\\`` continuations) runs in Bash from the repository's root, with ``KUBECONFIG`` set to the
cluster's and the pinned kubectl first on ``PATH``; its stdout and stderr are compared, normalized (``normalize``),
with the lines under it. Blocks run in page order, pages in name order; a block whose first line is
``$ # not run`` is shown only. ``--update`` writes the real output into the pages instead.

The pages are walked once per language, as a learner of that language walks them (each walk from a fresh
namespace): a block that shows the programs of several languages (step 1: the three list-pods) runs each
language's lines in that language's walk; a block that shows one language's program (step 7 starts Go's
controller: "the same flags" for yours) runs in every walk with that language's program in its place, compared
with the same output.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course.exercises import PROGRAMS as PROGRAM_NAMES
from course.exercises import PYTHON_MODULES, REPO_ROOT
from course.normalize import normalize

FENCE = re.compile(r"^```console\s*$")
COMMAND_TIMEOUT = 300
# The pages work in one namespace; each run starts it afresh. A site left from an earlier run may hold a
# finalizer with no controller running: strip it first, or the namespace would never finish terminating.
FRESH_START = """
for site in $(kubectl get staticsites -n learn -o name 2>/dev/null); do
  kubectl patch "$site" -n learn --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
done
kubectl delete namespace learn --ignore-not-found --wait=true --timeout=120s >/dev/null
"""


@dataclass
class Step:
    command: str
    expected: list[str]
    line: int  # of the command in the page
    shown: bool = True  # the command as the page shows it (False: another language's program put in its place)


# The walks, in this order (the pages' own programs are mostly Go's), and each language's programs per track: the
# command lines of the README's "Your language on each page" table.
LANGUAGES = ("go", "python", "bash")
PROGRAMS = {
    language: {
        track: {
            "python": f".venv/bin/python -m {PYTHON_MODULES[track]}",
            "go": f"build/bin/{PROGRAM_NAMES[track]}",
            "bash": f"bash/{track}/{PROGRAM_NAMES[track]}",
        }[language]
        for track in PROGRAM_NAMES
    }
    for language in LANGUAGES
}


def _program_pattern(command: str) -> re.Pattern:
    return re.compile(rf"(?<![\w./-]){re.escape(command)}(?![\w./-])")


PATTERNS = {(lang, track): _program_pattern(command) for lang in LANGUAGES for track, command in PROGRAMS[lang].items()}


def languages_named(command: str) -> set[str]:
    """The languages whose programs the command runs."""
    return {lang for (lang, _), pattern in PATTERNS.items() if pattern.search(command)}


def for_language(block: list[Step], language: str) -> list[Step]:
    """The steps of ``block`` that ``language``'s walk runs (see the module's doc)."""
    shown = {lang for step in block for lang in languages_named(step.command)}
    if len(shown) > 1:  # each language's own lines: this language's, and the lines of no program
        return [step for step in block if languages_named(step.command) in (set(), {language})]
    if not shown or shown == {language}:
        return block
    (other,) = shown
    return [_in_language(step, other, language) for step in block]


def _in_language(step: Step, shown: str, language: str) -> Step:
    command = step.command
    for track in PROGRAMS[shown]:
        command = PATTERNS[(shown, track)].sub(lambda _, mine=PROGRAMS[language][track]: mine, command)
    return Step(command, step.expected, step.line, shown=command == step.command)


def blocks(markdown: str) -> list[list[Step]]:
    """The console blocks of a page, each as its commands with the output shown under them."""
    found, current, steps = [], None, None
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if current is None and FENCE.match(line):
            current, steps = [], []
        elif current is not None and line.startswith("```"):
            found.append(steps)
            current = None
        elif current is not None:
            if line.startswith("$ "):
                command, start = line[2:], index
                while command.endswith("\\") and index + 1 < len(lines):
                    index += 1
                    command = command[:-1] + "\n" + lines[index]
                steps.append(Step(command, [], start + 1))
            elif steps:
                steps[-1].expected.append(line)
        index += 1
    return [b for b in found if b and not b[0].command.startswith("# not run")]


def environment(cluster: str) -> dict[str, str]:
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    from clusterkit.providers import get_provider

    provider = get_provider(cluster)
    env = dict(os.environ)
    env["KUBECONFIG"] = str(provider.kubeconfig)
    env["PATH"] = f"{Path(provider.kubectl).parent}{os.pathsep}{env['PATH']}"
    return env


# The pages' controllers serve health and metrics on 127.0.0.1:18080-18083 (the normalizer hides ports). A learner
# walking the course (or another worktree's walk) may hold those: the walk takes four free ports in their place.
PAGE_PORTS = re.compile(r"\b127\.0\.0\.1:1808([0-3])\b")


def free_ports(count: int = 4, first: int = 18100, last: int = 19000) -> int:
    """The first of ``count`` consecutive ports on 127.0.0.1 that nothing listens on."""
    for base in range(first, last, count):
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} free ports between {first} and {last}")


def on_ports(command: str, base: int) -> str:
    return PAGE_PORTS.sub(lambda match: f"127.0.0.1:{base + int(match[1])}", command)


def run_step(step: Step, env: dict[str, str], base: int | None = None) -> str:
    result = subprocess.run(
        ["bash", "-c", step.command if base is None else on_ports(step.command, base)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout


def main(pages: list[Path], update: bool, cluster: str, languages: tuple[str, ...] = LANGUAGES) -> int:
    from course.grading import cluster_running

    with cluster_running(cluster):
        try:
            return _run_pages(pages, update, cluster, languages)
        finally:
            stop_leftover_programs()


# The pages start programs in the background (a watcher, one or two controllers) and stop them at the end of the
# page; a page that failed in between leaves them running: stopped here (only those processes: each pid from the
# page's own file, and only if that pid still runs the program the page started: the Go binary or the Bash script by
# its name, the Python program by its module).
CONTROLLER = (b"staticsite-controller", b"controller_examples.advanced")
WATCHER = (b"watch-pods", b"controller_examples.intermediate")
BACKGROUND = {
    REPO_ROOT / "build" / "learn-controller.pid": CONTROLLER,
    REPO_ROOT / "build" / "learn-standby.pid": CONTROLLER,
    REPO_ROOT / "build" / "learn-watch.pid": WATCHER,
}


def stop_leftover_programs() -> None:
    for pid_file, programs in BACKGROUND.items():
        stop_leftover(pid_file, programs)


def stop_leftover(pid_file: Path, programs: tuple[bytes, ...], root: Path = REPO_ROOT) -> None:
    """Stop the pid of ``pid_file`` if it still runs one of ``programs`` from ``root``: pids wrap around in minutes
    on a busy machine (32768 of them), and another worktree's walk of the same program is not ours."""
    try:
        pid = int(pid_file.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        directory = Path(f"/proc/{pid}/cwd").resolve(strict=True)
    except (OSError, ValueError):
        return
    if directory == root.resolve() and any(program in command for program in programs):
        os.kill(pid, signal.SIGCONT)  # a watcher left frozen (kill -STOP) would not act on SIGTERM until resumed
        os.kill(pid, signal.SIGTERM)


def _run_pages(pages: list[Path], update: bool, cluster: str, languages: tuple[str, ...] = LANGUAGES) -> int:
    env = environment(cluster)
    failures, outputs, base = 0, {}, free_ports()
    for language in languages:
        started = time.monotonic()
        subprocess.run(["bash", "-c", FRESH_START], env=env, cwd=REPO_ROOT, check=True, timeout=COMMAND_TIMEOUT)
        ran = 0
        for page in pages:
            for block in blocks(page.read_text()):
                for step in for_language(block, language):
                    actual = run_step(step, env, base)
                    ran += 1
                    if step.shown:  # --update writes what the page's own command printed (its first walk)
                        outputs.setdefault((page, step.line), (step, actual))
                    if update:
                        continue
                    if normalize(actual) != normalize("\n".join(step.expected)):
                        failures += 1
                        _say_difference(page, step, actual, language)
        stop_leftover_programs()  # a walk that failed halfway leaves nothing running for the next one
        print(f"docrun: {language}: {ran} commands in {time.monotonic() - started:.0f}s", flush=True)
    if update:
        for page in pages:
            text = page.read_text()
            mine = sorted((line, step, actual) for (where, line), (step, actual) in outputs.items() if where == page)
            for _, step, actual in reversed(mine):  # from the end: earlier line numbers stay right
                text = _replace_output(text, step, actual)
            page.write_text(text)
    print(f"docrun: {len(pages)} pages, {len(languages)} languages, {failures} differences")
    return 1 if failures else 0


# What the pages' background programs (and the API server's restart) write. On a difference their last lines and
# whether each background program still runs are shown too: a watcher or a controller that ended says why, even in
# CI, where the build directory is gone afterwards.
BACKGROUND_LOGS = ("learn-watch.err", "learn-controller.log", "learn-standby.log", "learn-restart.log")
LOG_TAIL_LINES = 8


def _say_difference(page: Path, step: Step, actual: str, language: str) -> None:
    print(f"{page.relative_to(REPO_ROOT)}:{step.line} ({language}): $ {step.command}", file=sys.stderr)
    shown, printed = _indent(step.expected), _indent(actual.splitlines())
    print(f"  the page shows:\n{shown}\n  it printed:\n{printed}", file=sys.stderr)
    build = REPO_ROOT / "build"
    for name in BACKGROUND_LOGS:
        try:
            lines = (build / name).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        except OSError:
            continue
        if lines:
            print(f"  build/{name} ends with:\n{_indent(lines)}", file=sys.stderr)
    for pid_file in BACKGROUND:
        if (build / pid_file.name).exists():
            print(f"  build/{pid_file.name}: {_process_state(build / pid_file.name)}", file=sys.stderr)


def _process_state(pid_file: Path) -> str:
    """How a page's background program is, by its pid file: running, exited (not yet reaped) or gone."""
    try:
        pid = int(pid_file.read_text())
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except ValueError:
        return "no pid"
    except OSError:
        return f"pid {pid} gone"
    return f"pid {pid} exited (not yet reaped)" if state == "Z" else f"pid {pid} running (state {state})"


def _indent(lines: list[str]) -> str:
    return "\n".join("    " + line for line in lines)


def _replace_output(text: str, step: Step, actual: str) -> str:
    lines = text.splitlines()
    start = step.line  # the line after the command (1-based line -> index of the next line)
    start += step.command.count("\n")
    end = start + len(step.expected)
    lines[start:end] = actual.rstrip("\n").splitlines()
    return "\n".join(lines) + "\n"
