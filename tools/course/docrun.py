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
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course.exercises import REPO_ROOT
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


def run_step(step: Step, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-c", step.command],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout


def main(pages: list[Path], update: bool, cluster: str) -> int:
    from course.grading import cluster_running

    with cluster_running(cluster):
        try:
            return _run_pages(pages, update, cluster)
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


def stop_leftover(pid_file: Path, programs: tuple[bytes, ...]) -> None:
    try:
        pid = int(pid_file.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if any(program in command for program in programs):
        os.kill(pid, signal.SIGCONT)  # a watcher left frozen (kill -STOP) would not act on SIGTERM until resumed
        os.kill(pid, signal.SIGTERM)


def _run_pages(pages: list[Path], update: bool, cluster: str) -> int:
    env = environment(cluster)
    subprocess.run(["bash", "-c", FRESH_START], env=env, cwd=REPO_ROOT, check=True, timeout=COMMAND_TIMEOUT)
    failures = 0
    for page in pages:
        text = page.read_text()
        outputs = []
        for block in blocks(text):
            for step in block:
                actual = run_step(step, env)
                outputs.append((step, actual))
                if update:
                    continue
                if normalize(actual) != normalize("\n".join(step.expected)):
                    failures += 1
                    print(f"{page.relative_to(REPO_ROOT)}:{step.line}: $ {step.command}", file=sys.stderr)
                    shown, printed = _indent(step.expected), _indent(actual.splitlines())
                    print(f"  the page shows:\n{shown}\n  it printed:\n{printed}", file=sys.stderr)
        if update:
            for step, actual in reversed(outputs):  # from the end: earlier line numbers stay right
                text = _replace_output(text, step, actual)
            page.write_text(text)
    print(f"docrun: {len(pages)} pages, {failures} differences")
    return 1 if failures else 0


def _indent(lines: list[str]) -> str:
    return "\n".join("    " + line for line in lines)


def _replace_output(text: str, step: Step, actual: str) -> str:
    lines = text.splitlines()
    start = step.line  # the line after the command (1-based line -> index of the next line)
    start += step.command.count("\n")
    end = start + len(step.expected)
    lines[start:end] = actual.rstrip("\n").splitlines()
    return "\n".join(lines) + "\n"
