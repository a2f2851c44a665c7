"""The one table of commands: which program implements which track in which language.

The suite never hard-codes a path elsewhere: a new language or a moved
program is one line here. A missing program is reported as skipped
("no implementation"), never as passed.
"""

from __future__ import annotations

from pathlib import Path

from clusterkit.versions import REPO_ROOT

LANGUAGES = ("bash", "python", "go")
# The same controller built with a framework (docs/frameworks.md): the advanced track only, columns of their
# own after the languages'.
FRAMEWORKS = ("python-kopf", "go-controller-runtime")
PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")
GO_BIN = REPO_ROOT / "build" / "bin"

COMMANDS: dict[tuple[str, str], list[str]] = {
    ("basics", "bash"): [str(REPO_ROOT / "bash" / "basics" / "list-pods")],
    ("basics", "python"): [PYTHON, "-m", "controller_examples.basics.list_pods"],
    ("basics", "go"): [str(GO_BIN / "list-pods")],
    ("intermediate", "bash"): [str(REPO_ROOT / "bash" / "intermediate" / "watch-pods")],
    ("intermediate", "python"): [PYTHON, "-m", "controller_examples.intermediate.watch_pods"],
    ("intermediate", "go"): [str(GO_BIN / "watch-pods")],
    ("advanced", "bash"): [str(REPO_ROOT / "bash" / "advanced" / "staticsite-controller")],
    ("advanced", "python"): [PYTHON, "-m", "controller_examples.advanced.manager"],
    ("advanced", "go"): [str(GO_BIN / "staticsite-controller")],
    ("advanced", "python-kopf"): [PYTHON, "-m", "controller_examples.framework.kopf_operator"],
    ("advanced", "go-controller-runtime"): [str(GO_BIN / "staticsite-controller-runtime")],
}

# Where each Python module lives, to tell "not implemented" from "broken".
_PYTHON_SOURCES = REPO_ROOT / "python" / "src"


def command(track: str, language: str) -> list[str] | None:
    """The argv prefix of the implementation, or None if it does not exist."""
    argv = COMMANDS.get((track, language))
    if argv is None:
        return None
    if argv[0] == PYTHON:
        module_file = _PYTHON_SOURCES / (argv[2].replace(".", "/") + ".py")
        return argv if module_file.is_file() else None
    return argv if Path(argv[0]).is_file() else None
