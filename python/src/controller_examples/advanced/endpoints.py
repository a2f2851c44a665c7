"""What the process shows the outside world over HTTP: health probes and Prometheus metrics.

- `/healthz` (liveness): 200 as long as the process can answer at all. A kubelet restarts a container that
  stops answering.
- `/readyz` (readiness): 200 once the informers' caches are complete, or while standing by for the
  leader election (a standby is healthy, it just waits its turn); 503 before that.
- `/metrics` on its own address: the controller's four series, in Prometheus' text format. They live in a
  registry of their own, so the page shows exactly them (and tests can build a fresh set each time).
"""

import argparse
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Address = tuple[str, int]


class Metrics:
    """staticsite_reconcile_total, staticsite_reconcile_duration_seconds, staticsite_queue_depth, staticsite_leader."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # prometheus_client adds the `_total` suffix to a counter's name itself.
        self.reconciles = Counter("staticsite_reconcile", "Reconciles, by result.", ["result"], registry=self.registry)
        for result in ("success", "error"):
            self.reconciles.labels(result=result)  # both series exist from the start, at 0
        self.reconcile_duration = Histogram(
            "staticsite_reconcile_duration_seconds", "How long a reconcile took.", registry=self.registry
        )
        self.queue_depth = Gauge("staticsite_queue_depth", "Keys waiting in the work queue.", registry=self.registry)
        self.leader = Gauge(
            "staticsite_leader", "1 while this process is the one reconciling, else 0.", registry=self.registry
        )


def serve_metrics(address: Address, metrics: Metrics) -> HTTPServer:
    """Serve /metrics on a background thread; returns the server (call `shutdown()` to stop it)."""
    # Without this, each counter and histogram also gets a `..._created` series (a timestamp).
    prometheus_client.disable_created_metrics()
    server, _ = prometheus_client.start_http_server(address[1], address[0], registry=metrics.registry)
    return server


def serve_health(address: Address, is_ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serve /healthz and /readyz on a background thread; returns the server."""

    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                status, text = 200, "ok"
            elif self.path == "/readyz":
                status, text = (200, "ok") if is_ready() else (503, "informers not synced")
            else:
                status, text = 404, "not found"
            self._answer(status, text)

        def _answer(self, status: int, text: str) -> None:
            body = f"{text}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """No access log: probes every few seconds would drown the controller's own lines."""

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        daemon_threads = True  # a hung client never delays the process's exit

    server = Server(address, Probes)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def host_port(text: str) -> Address:
    """An argparse type: HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8081 or [::1]:8080."""
    host, separator, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"must be HOST:PORT, got {text!r}")
    return host, int(port)
