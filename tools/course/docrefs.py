"""Every ``file: function`` reference in the docs names a definition that exists.

A reference is written `` `FILE`: `NAME`, `NAME` `` (in a table cell or in prose): FILE is a path from the
repository's root, or the end of one (``informer.py``, ``common/pods.py``, ``lib/kube.sh``), NAME a function,
class, type, method (``Class.method``), jq ``def``, or constant. Text in parentheses is commentary and is not
checked (``(the client's `SharedInformer`)``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

REFERENCE = re.compile(r"`(?P<file>[\w./-]+)`:\s*(?P<names>`[^`]+`(?:\s*,\s*`[^`]+`)*)")
NAME = re.compile(r"`([^`]+)`")
SOURCE_SUFFIXES = {".py": "python", ".go": "go", ".sh": "bash", ".jq": "jq", "": "bash"}
SEARCHED = ("python", "go", "bash", "tools", "conformance")


def strip_parentheses(text: str) -> str:
    """Text with every (balanced) parenthesized part removed: commentary, not references."""
    depth, kept = 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept)


def references(markdown: str) -> list[tuple[int, str, list[str]]]:
    """(line number, file, names) of every reference in a page; fenced code blocks are skipped."""
    found, fenced = [], False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in REFERENCE.finditer(strip_parentheses(line)):
            if Path(match["file"]).suffix in SOURCE_SUFFIXES and ("/" in match["file"] or "." in match["file"]):
                found.append((number, match["file"], NAME.findall(match["names"])))
    return found


@functools.cache
def _source_files(root: Path) -> tuple[Path, ...]:
    files = []
    for top in SEARCHED:
        files += [
            p
            for p in (root / top).rglob("*")
            if p.is_file() and "node_modules" not in p.parts and ".venv" not in p.parts
        ]
    return tuple(files)


def resolve(root: Path, file: str) -> list[Path]:
    """The files ``file`` may name: the exact path, or every source file whose path ends with it."""
    exact = root / file
    if exact.is_file():
        return [exact]
    suffix = "/" + file
    return [p for p in _source_files(root) if str(p).endswith(suffix)]


def definition_patterns(kind: str, name: str) -> list[re.Pattern]:
    n = re.escape(name)
    if kind == "python":
        return [
            re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{n}\b", re.M),
            re.compile(rf"^\s*{n}\s*(?::[^=]*)?=", re.M),
        ]
    if kind == "go":
        return [
            re.compile(rf"^func\s+(?:\([^)]*\)\s*)?{n}\b", re.M),
            re.compile(rf"^\s*(?:type\s+)?{n}\s+(?:struct|interface|func|\w)", re.M),
            re.compile(rf"^\s*(?:const|var)?\s*{n}\b[^=\n]*=", re.M),
        ]
    if kind == "jq":
        return [re.compile(rf"^\s*def\s+{n}\b", re.M)]
    return [
        re.compile(rf"^\s*(?:function\s+)?{n}\s*\(\)", re.M),
        re.compile(rf"^\s*(?:readonly\s+|declare\s+[-\w]*\s*|export\s+|local\s+)?{n}=", re.M),
    ]


def defined(path: Path, name: str) -> bool:
    """Whether ``path`` defines ``name`` (``Outer.inner``: both, the inner one after the outer)."""
    text = path.read_text(errors="replace")
    kind = SOURCE_SUFFIXES.get(path.suffix, "bash")
    if kind == "go" and "." in name:  # a method: func (r *Type) Name(
        receiver, method = name.split(".", 1)
        return bool(
            re.search(rf"^func\s+\(\w*\s*\*?{re.escape(receiver)}(?:\[[^]]*\])?\)\s+{re.escape(method)}\b", text, re.M)
        )
    parts = name.split(".")
    position = 0
    for part in parts:
        hits = [m.start() for pattern in definition_patterns(kind, part) for m in pattern.finditer(text, position)]
        if not hits:
            return False
        position = min(hits)
    return True


def check(pages: list[Path], root: Path) -> list[str]:
    problems = []
    for page in pages:
        where = page.relative_to(root) if page.is_relative_to(root) else page
        for number, file, names in references(page.read_text()):
            candidates = resolve(root, file)
            if not candidates:
                problems.append(f"{where}:{number}: no file {file}")
                continue
            for name in names:
                if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
                    continue  # a command or an expression, not a name
                if not any(defined(path, name) for path in candidates):
                    problems.append(f"{where}:{number}: {file} defines no {name}")
    return problems


# The side-by-side table of docs/advanced.md: one concept, one file name in every language (issue 14).
SIDE_BY_SIDE_HEADER = "| concept | Python (reference) | Go | Bash |"


def one_shape(markdown: str, where: str) -> list[str]:
    """Rows of the side-by-side table whose three columns do not all start with the same file name.

    The first `file` of each column is compared without its extension (Bash's jq companions, named like
    the shell file, may follow)."""
    problems = []
    lines = markdown.splitlines()
    if SIDE_BY_SIDE_HEADER not in lines:
        return [f"{where}: no side-by-side table ({SIDE_BY_SIDE_HEADER})"]
    start = lines.index(SIDE_BY_SIDE_HEADER) + 2
    for number, line in enumerate(lines[start:], start + 1):
        if not line.startswith("|"):
            break
        columns = [column.strip() for column in line.strip("|").split("|")][1:]
        stems = {Path(match.group(1)).stem if (match := NAME.search(column)) else "" for column in columns}
        if len(stems) != 1 or "" in stems:
            problems.append(f"{where}:{number}: the languages name different files ({', '.join(sorted(stems))})")
    return problems
