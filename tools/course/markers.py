"""Exercise markers: two comment lines around the whole body of one function.

    # exercise: finalizer begin        (Go: // exercise: finalizer begin)
    ...the body...
    # exercise: finalizer end

``cut`` replaces the lines between them by a stub in the file's language, indented like the begin marker, so the
program still parses, builds and runs: only the exercise's behaviour is missing. The markers stay, so the learner
sees where to write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^(?P<indent>[ \t]*)(?://|#) exercise: (?P<id>[a-z0-9-]+) (?P<edge>begin|end)\s*$")


class MarkerError(ValueError):
    """A marker without its partner, or nested markers."""


@dataclass(frozen=True)
class Region:
    exercise: str
    path: Path
    begin: int  # index of the begin marker line
    end: int  # index of the end marker line
    indent: str


def regions(path: Path, text: str | None = None) -> list[Region]:
    """The marked regions of one file, in order."""
    lines = (path.read_text() if text is None else text).splitlines()
    found: list[Region] = []
    open_marker: tuple[str, int, str] | None = None
    for number, line in enumerate(lines):
        match = MARKER.match(line)
        if not match:
            continue
        exercise, edge = match["id"], match["edge"]
        if edge == "begin":
            if open_marker:
                raise MarkerError(f"{path}:{number + 1}: exercise {exercise} begins inside {open_marker[0]}")
            open_marker = (exercise, number, match["indent"])
        else:
            if not open_marker or open_marker[0] != exercise:
                raise MarkerError(f"{path}:{number + 1}: end of exercise {exercise} without its begin")
            found.append(Region(exercise, path, open_marker[1], number, open_marker[2]))
            open_marker = None
    if open_marker:
        raise MarkerError(f"{path}:{open_marker[1] + 1}: exercise {open_marker[0]} never ends")
    return found


def flavour(path: Path, text: str) -> str:
    """The file's language for its stub: python, go, jq or bash (scripts without an extension are Bash)."""
    kinds = {".py": "python", ".go": "go", ".jq": "jq"}
    if path.suffix in kinds:
        return kinds[path.suffix]
    if path.suffix == ".sh" or text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/bash"):
        return "bash"
    raise MarkerError(f"{path}: no stub for this kind of file")


def stub(kind: str, exercise: str, hint: str, indent: str) -> list[str]:
    """The lines that replace a region: a comment with the hint, then a statement that fails loudly."""
    comment = "//" if kind == "go" else "#"
    message = f"exercise {exercise}: not written yet (make check)"
    quoted = json.dumps(message)  # a string literal in Python, Go and jq alike (ASCII only)
    statement = {
        "python": f"raise NotImplementedError({quoted})",
        "go": f"panic({quoted})",
        "jq": f"error({quoted})",
        "bash": f"echo {quoted} >&2\n{indent}return 1",
    }[kind]
    hints = [f"{indent}{comment} TODO({exercise}): {line}".rstrip() for line in hint.splitlines()]
    return [*hints, f"{indent}{statement}"]


def cut(path: Path, exercise: str, hint: str) -> bool:
    """Replace the body of ``exercise``'s region in ``path`` by a stub; True if the file had the region."""

    def replacement(kind: str, indent: str, body: list[str]) -> list[str]:
        lines = stub(kind, exercise, hint, indent)
        if kind == "jq" and _ends_definition(body):
            lines[-1] += ";"  # the body held the def's closing semicolon: keep the program whole
        return lines

    return _rewrite(path, exercise, replacement)


def fill(path: Path, exercise: str, body: str) -> bool:
    """Replace the body of ``exercise``'s region in ``path`` by ``body`` (lines written without the region's
    indentation: each gets the begin marker's); True if the file had the region. CI writes a wrong answer this
    way, to prove the grading rejects it."""
    return _rewrite(path, exercise, lambda kind, indent, _: [f"{indent}{line}".rstrip() for line in body.splitlines()])


def _rewrite(path: Path, exercise: str, replacement_for: Callable[[str, str, list[str]], list[str]]) -> bool:
    """Replace the body of each of ``exercise``'s regions by ``replacement_for(kind, indent, old body lines)``."""
    text = path.read_text()
    lines = text.splitlines()
    mine = [r for r in regions(path, text) if r.exercise == exercise]
    kind = flavour(path, text) if mine else ""
    for region in reversed(mine):  # from the end, so earlier indexes stay right
        body = lines[region.begin + 1 : region.end]
        lines[region.begin + 1 : region.end] = replacement_for(kind, region.indent, body)
    if mine:
        new_text = "\n".join(lines) + "\n"
        path.write_text(blank_unused_go_imports(new_text) if kind == "go" else new_text)
    return bool(mine)


def _ends_definition(body: list[str]) -> bool:
    code = [line.split("#", 1)[0].rstrip() for line in body]
    code = [line for line in code if line]
    return bool(code) and code[-1].endswith(";")


GO_IMPORT = re.compile(r'^(?P<indent>\s*)(?:(?P<alias>[A-Za-z_][A-Za-z0-9_]*) )?"(?P<path>[^"]+)"\s*$')


def blank_unused_go_imports(text: str) -> str:
    """Go refuses an import nothing uses: one the cut body was the only user of becomes ``_ "path"``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("import (")), None)
    if start is None:
        return text
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == ")")
    # Whole-line comments do not use an import (the stub's hint names calls like metav1.ListOptions).
    body = "\n".join(line for line in lines[end + 1 :] if not line.lstrip().startswith("//"))
    for index in range(start + 1, end):
        match = GO_IMPORT.match(lines[index])
        if not match or match["alias"] == "_":
            continue
        name = match["alias"] or go_package_name(match["path"])
        if not re.search(rf"\b{re.escape(name)}\.", body):
            lines[index] = f'{match["indent"]}_ "{match["path"]}"'
    return "\n".join(lines) + "\n"


def go_package_name(path: str) -> str:
    """The name an import path is used by: its last element, without a major version (``k8s.io/klog/v2`` is
    ``klog``, ``gopkg.in/yaml.v3`` is ``yaml``)."""
    parts = path.split("/")
    if len(parts) > 1 and re.fullmatch(r"v[2-9]\d*", parts[-1]):
        return parts[-2]
    return re.sub(r"\.v\d+$", "", parts[-1])


def find(root: Path, exercise: str) -> list[Region]:
    """Every region of ``exercise`` under ``root`` (any file that mentions the marker)."""
    needle = f"exercise: {exercise} begin"
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and _text_file(p)):
        text = path.read_text(errors="replace")
        if needle in text:
            found += [r for r in regions(path, text) if r.exercise == exercise]
    return found


def _text_file(path: Path) -> bool:
    return path.suffix in (".py", ".go", ".jq", ".sh", "") and "node_modules" not in path.parts
