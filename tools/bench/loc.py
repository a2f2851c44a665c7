"""Lines of code per track and language: non-blank lines that are not comments, tests excluded.

A plain count, so each language is counted by its own notion of a comment: ``#`` lines in Bash and jq
(the shebang is code: it picks the interpreter), ``//`` and ``/* */`` in Go, ``#`` and docstrings in
Python (a docstring is documentation, like a comment). Code shared by a language's tracks (Python's
``common``, Go's ``internal/cli``, Bash's ``lib``) is its own column, "shared", rather than charged to one
track.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Callable
from pathlib import Path

from bench.suite import implementations
from clusterkit.versions import REPO_ROOT

TRACKS = ("basics", "intermediate", "advanced")
SHARED = "shared"
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
        top = path.relative_to(package).parts[0]
        files.setdefault(top if top in TRACKS else SHARED, []).append(path)
    return files


def _go_files(root: Path) -> dict[str, list[Path]]:
    # A program in go/cmd belongs to the track whose command it is (implementations.py's table).
    program_track = {Path(implementations.COMMANDS[(track, "go")][0]).name: track for track in TRACKS}
    files: dict[str, list[Path]] = {}
    for path in sorted((root / "go").rglob("*.go")):
        if path.name.endswith("_test.go"):
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
}


def count_lines(root: Path = REPO_ROOT) -> dict[str, dict[str, int]]:
    """{language: {track or "shared": lines}}; a track with no source file is absent (missing, not 0)."""
    counts = {}
    for language, (find_files, code_lines) in LANGUAGE_RULES.items():
        counts[language] = {
            track: sum(code_lines(path.read_text(errors="replace")) for path in paths)
            for track, paths in find_files(root).items()
        }
    return counts
