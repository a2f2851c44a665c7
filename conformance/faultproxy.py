"""A TCP proxy between one program under test and the API server, with faults on demand.

The scenarios that need a network fault between a program and the API server
(a leader cut off from the cluster, a server that accepts TCP and never
answers, a slow path) put one of these in front of it and point the program's
kubeconfig at it. TLS passes through untouched: the program still verifies the
API server's certificate, whose address (127.0.0.1) is the proxy's too.

Modes, switched at any time:

* ``forward`` — bytes flow both ways (the start);
* ``blackhole`` — a partition: connections stay open, nothing flows either way,
  new connections are accepted and never answered;
* ``refuse`` — every connection is closed, new ones are closed at once.

``restore()`` goes back to ``forward``; the connections the fault held are
closed without delivering what was queued in them, as a real partition long
enough to matter ends with dead TCP connections, so the program must reconnect.

Everything listens on 127.0.0.1 only; a proxy lives no longer than its test.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from pathlib import Path

import pytest
import yaml

FORWARD, BLACKHOLE, REFUSE = "forward", "blackhole", "refuse"
_POLL_SECONDS = 0.1
_CHUNK = 65536


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.mode = FORWARD
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True).start()

    # ----- faults ------------------------------------------------------------------
    def blackhole(self) -> None:
        with self._lock:
            self.mode = BLACKHOLE
            for connection in self._connections:
                connection.held = True

    def refuse(self) -> None:
        with self._lock:
            self.mode = REFUSE
            self._close_connections()

    def restore(self) -> None:
        with self._lock:
            self.mode = FORWARD
            held = [c for c in self._connections if c.held]
            for connection in held:
                connection.close()
            self._connections = [c for c in self._connections if not c.held]

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            self._close_connections()

    # ----- the program's side ------------------------------------------------------
    def kubeconfig(self, source: Path, destination: Path) -> Path:
        """A copy of ``source`` whose clusters are reached through this proxy."""
        config = yaml.safe_load(source.read_text())
        for entry in config["clusters"]:
            entry["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        destination.write_text(yaml.safe_dump(config, sort_keys=False))
        destination.chmod(0o600)
        return destination

    # ----- plumbing ----------------------------------------------------------------
    def _close_connections(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections = []

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self.mode == REFUSE:
                    downstream.close()
                    continue
                connection = _Connection(downstream, self.upstream, held=self.mode == BLACKHOLE)
                self._connections.append(connection)
            threading.Thread(target=connection.pump, daemon=True).start()


class _Connection:
    """One client connection and, unless held from the start, its upstream twin."""

    def __init__(self, downstream: socket.socket, upstream: tuple[str, int], held: bool):
        self.downstream, self.upstream_address, self.held = downstream, upstream, held
        self.upstream: socket.socket | None = None
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.downstream, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def pump(self) -> None:
        try:
            while self.held and not self.closed.is_set():  # accepted during a partition: never answered
                self.closed.wait(_POLL_SECONDS)
            if self.closed.is_set():
                return
            self.upstream = socket.create_connection(self.upstream_address, timeout=10)
            self._copy_both_ways()
        except OSError:
            pass
        finally:
            self.close()

    def _copy_both_ways(self) -> None:
        peers = {self.downstream: self.upstream, self.upstream: self.downstream}
        while not self.closed.is_set():
            if self.held:  # a partition: bytes stay where they are
                self.closed.wait(_POLL_SECONDS)
                continue
            readable, _, _ = select.select(list(peers), [], [], _POLL_SECONDS)
            for sock in readable:
                if self.held:
                    break
                data = sock.recv(_CHUNK)
                if not data:
                    return
                peers[sock].sendall(data)


def upstream_of(kubeconfig: Path) -> tuple[str, int]:
    """The host and port of the (first) API server in a kubeconfig."""
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    host, _, port = server.removeprefix("https://").rstrip("/").rpartition(":")
    return host.strip("[]"), int(port or 443)


@pytest.fixture
def fault_proxy():
    """A factory: ``fault_proxy(kubeconfig)`` -> a FaultProxy in front of that kubeconfig's server.

    Every proxy made is closed when the test ends.
    """
    made: list[FaultProxy] = []

    def make(kubeconfig: Path) -> FaultProxy:
        proxy = FaultProxy(*upstream_of(kubeconfig))
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()
