"""Output made comparable across runs: what differs every time becomes a placeholder.

Ages (``5s``, ``3m2s``), uids, resourceVersions (and etcd revisions), ports on 127.0.0.1, random namespace suffixes,
the kwok node a pod lands on and timestamps are replaced, and a metric's whole-number sample loses Python's ``.0``,
so a page's "you should see" block can be compared with a fresh run. Applied to both sides.
"""

from __future__ import annotations

import re

RULES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uid>"),
    (re.compile(r'("?resource_?[vV]ersion"?\s*[:=]\s*"?)\d+'), r"\1<rv>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"), "<time>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\b(revision )\d+"), r"\1<rv>"),  # etcd's, as `make compact-etcd` prints it
    (re.compile(r"\b(kwok-node-)\d+\b"), r"\1<n>"),  # the scheduler's pick among the equal kwok nodes
    (re.compile(r"\b(ce-[a-z0-9-]+-)[0-9a-f]{6}\b"), r"\1<id>"),
    (re.compile(r"(?<![\w.-])(?:\d+[dhms]){1,2}(?![\w.-])"), "<age>"),
    (re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}\b"), "-<hash>-<pod>"),
    # A metric's sample: Python's Prometheus client writes a whole number as a float (`staticsite_leader 1.0`).
    (re.compile(r"^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})? -?\d+)\.0$"), r"\1"),
)


def normalize(text: str) -> str:
    """``text`` with the run-dependent parts replaced, trailing blanks dropped, columns re-spaced."""
    lines = []
    for line in text.splitlines():
        for pattern, replacement in RULES:
            line = pattern.sub(replacement, line)
        # A placeholder changes a column's width: compare tables by their cells, not their spacing.
        lines.append(re.sub(r" {2,}", "  ", line.rstrip()))
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
