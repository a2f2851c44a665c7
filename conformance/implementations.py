"""The one table of implementations: which program implements which track in which language.

``IMPLEMENTATIONS`` maps a track to its implementations (a name, usually the language, and the argv prefix that
runs it); the suite parametrizes each track's scenarios over that track's rows, so a framework (controller-runtime,
kopf) is one row under ``advanced`` only. A program of yours is graded without editing this file:
``--impl "CMD ARGS"`` (``make check IMPL=...``) adds it to the selected track, under the name ``--impl-name``
(default ``mine``); the report's columns come from the results, so it shows up as a column of its own. A missing
program is reported as skipped ("no implementation"), never as passed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from clusterkit.versions import REPO_ROOT

PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")
GO_BIN = REPO_ROOT / "build" / "bin"

IMPLEMENTATIONS: dict[str, dict[str, list[str]]] = {
    "basics": {
        "bash": [str(REPO_ROOT / "bash" / "basics" / "list-pods")],
        "python": [PYTHON, "-m", "controller_examples.basics.list_pods"],
        "go": [str(GO_BIN / "list-pods")],
    },
    "intermediate": {
        "bash": [str(REPO_ROOT / "bash" / "intermediate" / "watch-pods")],
        "python": [PYTHON, "-m", "controller_examples.intermediate.watch_pods"],
        "go": [str(GO_BIN / "watch-pods")],
    },
    "advanced": {
        "bash": [str(REPO_ROOT / "bash" / "advanced" / "staticsite-controller")],
        "python": [PYTHON, "-m", "controller_examples.advanced.manager"],
        "go": [str(GO_BIN / "staticsite-controller")],
        # The same controller built with a framework (docs/frameworks.md): the advanced track only.
        "python-kopf": [PYTHON, "-m", "controller_examples.framework.kopf_operator"],
        "go-controller-runtime": [str(GO_BIN / "staticsite-controller-runtime")],
    },
}

# A scenario an implementation cannot pass by design, and why: reported skipped with this reason, never passed
# (docs/frameworks.md explains each one).
INHERENT: dict[tuple[str, str], str] = {
    ("python-kopf", "test_hostile_owner_names_are_data"): (
        "kopf raises its ready flag before its watches have listed (it exposes no cache-synced signal) and merges "
        "an object's queued events, so an owner-less child that the garbage collector deletes at once may never "
        "reach a handler: its 'ignoring' line is not guaranteed (docs/frameworks.md, kopf)"
    ),
}

# The three languages every track has, in the report's order (the benchmark compares these).
LANGUAGES = ("bash", "python", "go")
# (track, language) -> argv, the shape the benchmark reads.
COMMANDS: dict[tuple[str, str], list[str]] = {
    (track, name): argv for track, rows in IMPLEMENTATIONS.items() for name, argv in rows.items()
}

# Where each Python module lives, to tell "not implemented" from "broken".
_PYTHON_SOURCES = REPO_ROOT / "python" / "src"


def add_override(track: str, name: str, command_line: str, base: Path = REPO_ROOT) -> None:
    """Grade another program (``--impl``): ``command_line`` is split like a shell would, never run by one.

    Relative paths (``./my-controller``, ``.venv/bin/python``, ``PYTHONPATH=src``) are taken from ``base``, where
    ``make`` ran: the suite runs programs from ``conformance/``.
    """
    argv = [_from_base(word, base, first=index == 0) for index, word in enumerate(shlex.split(command_line))]
    if not argv:
        raise ValueError("--impl: an empty command")
    IMPLEMENTATIONS.setdefault(track, {})[name] = argv
    COMMANDS[(track, name)] = argv


def _from_base(word: str, base: Path, first: bool) -> str:
    """``word`` with a relative path in it made absolute: the program itself, or an existing path (alone or as the
    value of ``NAME=path``)."""
    name, equals, value = word.partition("=") if not first and not word.startswith("-") else ("", "", word)
    path = value if equals else word
    if "/" not in path or Path(path).is_absolute():
        return word
    if first or (base / path).exists():
        return f"{name}={base / path}" if equals else str(base / path)
    return word


def languages(track: str) -> list[str]:
    """The implementations of ``track``, in the table's order."""
    return list(IMPLEMENTATIONS.get(track, {}))


def command(track: str, language: str) -> list[str] | None:
    """The argv prefix of the implementation, or None if it does not exist."""
    argv = COMMANDS.get((track, language))
    if argv is None:
        return None
    if argv[0] == PYTHON and argv[1:2] == ["-m"] and (_PYTHON_SOURCES / argv[2].split(".")[0]).is_dir():
        # A module of this repository: present when its file is (a framework's runner, `-m kopf`, is a package).
        module_file = _PYTHON_SOURCES / (argv[2].replace(".", "/") + ".py")
        return argv if module_file.is_file() else None
    program = Path(argv[0])
    if program.is_absolute() or "/" in argv[0]:
        return argv if program.is_file() else None
    return argv  # a command on PATH (python3, node...): run as given
