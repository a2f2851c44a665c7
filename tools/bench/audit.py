"""A controller's API requests, counted from the API server's audit log.

The `local` cluster audits every request of the ServiceAccounts in the controller's namespace, one JSON
line per request and stage (tools/cluster/audit-policy.yaml, Metadata level: who, verb, resource, when; no
bodies). The bench itself uses the admin credentials, which are not audited, so what is counted is exactly
what the program under test asked for. A request is counted once, in the window its
``requestReceivedTimestamp`` falls in (a watch has a second line when it ends, with the same auditID).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
EVENTS = "events"


@dataclass(frozen=True)
class Request:
    audit_id: str
    verb: str
    target: str  # "configmaps", "staticsites/status", or "discovery", "/version" for non-resource paths
    user_agent: str
    received: float  # seconds since the epoch, like time.time()
    namespace: str = ""  # the object's namespace; "" for a cluster-scoped object or a non-resource path

    @property
    def label(self) -> str:
        return f"{self.verb} {self.target}"


def parse_line(line: str, user: str) -> Request | None:
    """The request on one audit log line, or None when ``user`` did not make it (or the line is torn)."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None  # the last line of a log being written
    if event.get("user", {}).get("username") != user:
        return None
    return Request(
        audit_id=event["auditID"],
        verb=event["verb"],
        target=_target(event),
        user_agent=event.get("userAgent", ""),
        received=datetime.fromisoformat(event["requestReceivedTimestamp"]).timestamp(),
        namespace=(event.get("objectRef") or {}).get("namespace", ""),
    )


# The one ConfigMap every site of a namespace writes: told apart from the sites' own ConfigMaps, since it is
# where the writes of N sites meet (SPEC.md, "Finalizer and registry").
REGISTRY = "staticsite-registry"
REGISTRY_TARGET = "configmaps (registry)"


def _target(event: dict) -> str:
    reference = event.get("objectRef")
    if reference:
        if reference["resource"] == "configmaps" and reference.get("name") == REGISTRY:
            return REGISTRY_TARGET
        subresource = reference.get("subresource")
        return f"{reference['resource']}/{subresource}" if subresource else reference["resource"]
    # No object: a non-resource URL. Discovery (/api, /apis/...) is what kubectl asks before its requests.
    first_segment = event["requestURI"].split("?")[0].strip("/").split("/")[0]
    return "discovery" if first_segment in ("api", "apis") else f"/{first_segment}"


def in_window(requests: list[Request], start: float, end: float) -> list[Request]:
    return [request for request in requests if start <= request.received < end]


def count(requests: list[Request]) -> dict[str, int]:
    """Requests by "verb target", e.g. {"patch staticsites/status": 100, "watch deployments": 1}."""
    return dict(sorted(Counter(request.label for request in requests).items()))


def writes(counts: dict[str, float], events: bool = False) -> float:
    """Write requests in a count: Events only (``events=True``) or everything but Events."""
    total = 0.0
    for label, number in counts.items():
        verb, target = label.split(" ", 1)
        if verb in WRITE_VERBS and (target == EVENTS) == events:
            total += number
    return total


@dataclass(frozen=True)
class Position:
    """A place in the audit log: which file (by inode, since rotation renames it) and how far into it."""

    inode: int
    offset: int


class AuditLogRotatedAway(RuntimeError):
    """The file a run started in is gone (rotated and deleted), so its requests cannot all be counted."""


class AuditLog:
    """The audit log, read from a remembered position so each run parses only its own lines.

    kube-apiserver writes the log through lumberjack, which rotates it at 100 MB (the default of
    --audit-log-maxsize): the file is renamed to ``audit-<timestamp>.log`` and a new, empty ``audit.log``
    begins. One N = 1,000 run can cross that line, so a position names the file by inode and reading
    follows the rotation: the rest of the file the run started in, then every newer file in full.
    """

    def __init__(self, path: Path, user: str):
        self.path = path
        self.user = user

    def available(self) -> bool:
        return self.path.is_file()

    def position(self) -> Position:
        if not self.available():
            return Position(inode=0, offset=0)
        status = self.path.stat()
        return Position(inode=status.st_ino, offset=status.st_size)

    def requests_since(self, position: Position) -> list[Request]:
        """The user's requests logged from ``position`` on, each once (its first line)."""
        unique: dict[str, Request] = {}
        for line in self._lines_since(position):
            request = parse_line(line, self.user)
            if request is not None:
                unique.setdefault(request.audit_id, request)
        return list(unique.values())

    def _lines_since(self, position: Position) -> list[str]:
        files = self._files_oldest_first()
        inodes = [file.stat().st_ino for file in files]
        if position.inode == 0:  # there was no log yet: everything there is now is new
            start, offset = 0, 0
        elif position.inode in inodes:
            start, offset = inodes.index(position.inode), position.offset
        else:
            raise AuditLogRotatedAway(f"{self.path}: the file this run started in was rotated and removed")
        lines: list[str] = []
        for index, file in enumerate(files[start:]):
            with open(file, "rb") as log:
                log.seek(offset if index == 0 else 0)
                lines += log.read().decode(errors="replace").splitlines()
        return lines

    def _files_oldest_first(self) -> list[Path]:
        """Rotated files (their names carry a sortable timestamp), then the live one."""
        if not self.available():
            return []
        rotated = sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))
        return [*rotated, self.path]
