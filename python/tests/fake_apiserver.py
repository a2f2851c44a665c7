"""A scripted stand-in for the API server, on 127.0.0.1, to run the programs end to end without a cluster.

It answers pod lists (honouring `limit` and `continue`) from `snapshot`, and pod watches by playing the
next scripted session: some events, then either closing the stream or holding it open. Plain HTTP, no
authentication: what is under test is the programs, not TLS.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Snapshot:
    resource_version: str
    pods: list[dict[str, Any]]


@dataclass
class Session:
    """One watch request's answer: `events`, then close the stream, or hold it open if `hang`."""

    events: list[dict[str, Any]]
    hang: bool = False
    snapshot: Snapshot | None = None  # what lists return from the moment this session starts
    status: int = 200  # anything else: answer the watch request with this status and a Status body


@dataclass
class Script:
    snapshot: Snapshot
    sessions: list[Session] = field(default_factory=list)
    lists: list[dict[str, list[str]]] = field(default_factory=list)  # query of every list request
    watched_from: list[str] = field(default_factory=list)  # resourceVersion of every watch request


class FakeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = script
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeApiServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        if query.get("watch") == ["true"]:
            self._watch(query)
        else:
            self._list(query)

    def _list(self, query: dict[str, list[str]]) -> None:
        script = self.server.script
        script.lists.append(query)
        start = int(query.get("continue", ["0"])[0])
        end = start + int(query.get("limit", ["1000000"])[0])
        metadata = {"resourceVersion": script.snapshot.resource_version}
        if end < len(script.snapshot.pods):
            metadata["continue"] = str(end)
        self._send(200, {"kind": "PodList", "metadata": metadata, "items": script.snapshot.pods[start:end]})

    def _watch(self, query: dict[str, list[str]]) -> None:
        script = self.server.script
        script.watched_from.append(query["resourceVersion"][0])
        session = script.sessions.pop(0) if script.sessions else Session(events=[], hang=True)
        if session.snapshot is not None:
            script.snapshot = session.snapshot
        if session.status != 200:
            self._send(session.status, {"kind": "Status", "code": session.status, "message": "scripted failure"})
            return
        # Like the API server: chunked transfer encoding, one event per chunk (the client reads by chunk).
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in session.events:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        if session.hang:
            self.server.stopping.wait(60)
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean
