"""Lines of code per track and language: non-blank lines that are not comments, tests excluded.

A plain count, so each language is counted by its own notion of a comment: ``#`` lines in Bash and jq
(the shebang is code: it picks the interpreter), ``//`` and ``/* */`` in Go, ``#`` and docstrings in
Python (a docstring is documentation, like a comment). Code shared by a language's tracks (Python's
``common``, Go's ``internal/cli``, Bash's ``lib``) is its own row, "shared", rather than charged to one
track.

The framework-based StaticSite controllers are columns of their own, with only their own code (Go's
controller-runtime variant: its ``cmd`` program and ``internal/framework``; Python's kopf variant: the
``framework`` package). Both reuse packages of the hand-built controller of their language (the
reconciler's steps, the children, the status...): those lines stay counted once, in the language's column,
and ``reused_packages`` names them so the report can say so.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable
from pathlib import Path

from bench.suite import implementations
from clusterkit.versions import REPO_ROOT

TRACKS = ("basics", "intermediate", "advanced")
SHARED = "shared"
GO_FRAMEWORK = "go-controller-runtime"
PYTHON_FRAMEWORK = "python-kopf"
# Each framework variant's own code, relative to the repository (its program's directory included).
GO_FRAMEWORK_DIRS = ("go/cmd/staticsite-controller-runtime", "go/internal/framework")
PYTHON_FRAMEWORK_DIRS = ("python/src/controller_examples/framework",)
_NOT_CODE = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING})


def python_code_lines(source: str) -> int:
    """Lines holding a token of a statement that is not only a string (a docstring)."""
    lines: set[int] = set()
    statement: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if statement and any(part.type != tokenize.STRING for part in statement):
                for part in statement:
                    lines.update(range(part.start[0], part.end[0] + 1))
            statement = []
        elif token.type not in _NOT_CODE:
            statement.append(token)
    return len(lines)


def go_code_lines(source: str) -> int:
    count, in_block_comment = 0, False
    for line in source.splitlines():
        stripped = line.strip()
        if in_block_comment or stripped.startswith("/*"):
            in_block_comment = "*/" not in stripped
        elif stripped and not stripped.startswith("//"):
            count += 1
    return count


def shell_code_lines(source: str) -> int:
    """Bash and jq: ``#`` starts a comment line, except a first-line shebang."""
    count = 0
    for number, line in enumerate(source.splitlines()):
        stripped = line.strip()
        is_shebang = number == 0 and stripped.startswith("#!")
        if stripped and (is_shebang or not stripped.startswith("#")):
            count += 1
    return count


def _python_files(root: Path) -> dict[str, list[Path]]:
    package = root / "python" / "src" / "controller_examples"
    files: dict[str, list[Path]] = {}
    for path in sorted(package.rglob("*.py")):
        if _under(root, path, PYTHON_FRAMEWORK_DIRS):
            continue
        top = path.relative_to(package).parts[0]
        files.setdefault(top if top in TRACKS else SHARED, []).append(path)
    return files


def _under(root: Path, path: Path, directories: tuple[str, ...]) -> bool:
    return any(path.is_relative_to(root / directory) for directory in directories)


def _framework_files(directories: tuple[str, ...], suffix: str) -> Callable[[Path], dict[str, list[Path]]]:
    """A framework variant's own files: all in the advanced track (it has no other)."""

    def find(root: Path) -> dict[str, list[Path]]:
        found = sorted(
            path
            for directory in directories
            for path in (root / directory).rglob(f"*{suffix}")
            if not path.name.endswith(f"_test{suffix}") and not path.name.startswith("test_")
        )
        return {"advanced": found} if found else {}

    return find


def _go_files(root: Path) -> dict[str, list[Path]]:
    # A program in go/cmd belongs to the track whose command it is (implementations.py's table).
    program_track = {Path(implementations.COMMANDS[(track, "go")][0]).name: track for track in TRACKS}
    files: dict[str, list[Path]] = {}
    for path in sorted((root / "go").rglob("*.go")):
        if path.name.endswith("_test.go") or _under(root, path, GO_FRAMEWORK_DIRS):
            continue
        area, package = path.relative_to(root / "go").parts[:2]
        track = program_track.get(package) if area == "cmd" else package if package in TRACKS else None
        files.setdefault(track or SHARED, []).append(path)
    return files


def _bash_files(root: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for directory, track in [*((track, track) for track in TRACKS), ("lib", SHARED)]:
        found = sorted(path for path in (root / "bash" / directory).rglob("*") if path.is_file())
        if found:
            files[track] = found
    return files


LANGUAGE_RULES: dict[str, tuple[Callable[[Path], dict[str, list[Path]]], Callable[[str], int]]] = {
    "bash": (_bash_files, shell_code_lines),
    "python": (_python_files, python_code_lines),
    "go": (_go_files, go_code_lines),
    GO_FRAMEWORK: (_framework_files(GO_FRAMEWORK_DIRS, ".go"), go_code_lines),
    PYTHON_FRAMEWORK: (_framework_files(PYTHON_FRAMEWORK_DIRS, ".py"), python_code_lines),
}
# What a framework variant imports from its language's hand-built code: an import path (Go) or a module
# (Python) of that code, named by its directory under go/internal or controller_examples.
_REUSE_PATTERNS = {
    GO_FRAMEWORK: (GO_FRAMEWORK_DIRS, ".go", re.compile(r'"controller-examples/go/internal/(\w+)"')),
    PYTHON_FRAMEWORK: (
        PYTHON_FRAMEWORK_DIRS,
        ".py",
        re.compile(r"^\s*(?:from|import) controller_examples\.(\w+)", re.M),
    ),
}


def count_lines(root: Path = REPO_ROOT) -> dict[str, dict[str, int]]:
    """{column: {track or "shared": lines}}; a track with no source file is absent (missing, not 0).

    The columns are the languages, then the framework variants (their own code only).
    """
    counts = {}
    for language, (find_files, code_lines) in LANGUAGE_RULES.items():
        counts[language] = {
            track: sum(code_lines(path.read_text(errors="replace")) for path in paths)
            for track, paths in find_files(root).items()
        }
    return counts


def reused_packages(root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """{framework variant: the hand-built packages it imports}, e.g. {"go-controller-runtime": ["advanced"]}."""
    reused = {}
    for column, (directories, suffix, pattern) in _REUSE_PATTERNS.items():
        own = {Path(directory).name for directory in directories}
        names = {
            name
            for directory in directories
            for path in (root / directory).rglob(f"*{suffix}")
            for name in pattern.findall(path.read_text(errors="replace"))
        }
        reused[column] = sorted(names - own)
    return reused
