"""staticsite-controller: the process that runs the StaticSite controller (shared-manifests/SPEC.md).

It wires the parts together, the way client-go's sample-controller and controller-runtime's manager do:

    informers --(site keys)--> work queue --> N worker threads --> reconciler --> API server
        ^                                                                             |
        +-------------------------- watch events ------------------------------------+

1. Connect (kubeconfig as kubectl finds it, else the pod's service account: `common.kube`).
2. Serve /healthz, /readyz and /metrics.
3. Start the informers. Their handlers only add keys to the queue.
4. With --leader-elect, stand by until this process holds the Lease, then keep renewing it.
5. Wait for the caches to be complete, then start the workers. Each takes a key, reconciles it, and
   reports the outcome to the queue: `forget` on success, `add_rate_limited` on failure (`handle_error`,
   the one place the retry policy lives).
6. On SIGTERM/SIGINT: stop handing out keys, let the reconciles in flight finish (the Lease is renewed
   meanwhile), release the Lease, exit 0.
   If the Lease cannot be renewed within the renew deadline, a standby may lead any moment: the API layer
   is fenced (no new request starts) and the process exits 1 at once, without waiting for the requests in
   flight and without releasing the Lease (it is not ours).
"""

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from typing import NoReturn

from kubernetes import client

from controller_examples.advanced.api import KubeApi, explain
from controller_examples.advanced.endpoints import Metrics, host_port, serve_health, serve_metrics
from controller_examples.advanced.events import BackgroundEventRecorder, EventRecorder
from controller_examples.advanced.informer import build_informers
from controller_examples.advanced.leader import LeaderElector, validate_timing
from controller_examples.advanced.queue import RateLimitingQueue
from controller_examples.advanced.reconciler import Reconciler
from controller_examples.common.cli import ArgumentParser, non_empty, positive_int, run
from controller_examples.common.errors import CommandError
from controller_examples.common.kube import connect

PROGRAM = "staticsite-controller"

log = logging.getLogger(PROGRAM)


def parse_options(argv: Sequence[str]) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROGRAM, description="Run the StaticSite controller.", allow_abbrev=False)
    parser.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")
    parser.add_argument("--namespace", type=non_empty, metavar="NS", help="watch only this namespace (default: all)")
    parser.add_argument("--workers", type=positive_int, default=4, metavar="N", help="concurrent reconciles (4)")
    parser.add_argument("--leader-elect", action="store_true", help="hold a Lease before reconciling")
    parser.add_argument(
        "--leader-election-namespace", type=non_empty, default="staticsite-system", metavar="NS",
        help="the Lease's namespace (staticsite-system)",
    )  # fmt: skip
    parser.add_argument(
        "--leader-election-id", type=non_empty, default="staticsite-controller", metavar="NAME",
        help="the Lease's name (staticsite-controller)",
    )  # fmt: skip
    parser.add_argument(
        "--identity", type=non_empty, default=f"{socket.gethostname()}_{os.getpid()}", metavar="ID",
        help="the Lease holder identity (HOSTNAME_PID)",
    )  # fmt: skip
    for flag, default in (("--lease-duration", 15), ("--renew-deadline", 10), ("--retry-period", 2)):
        parser.add_argument(flag, type=positive_int, default=default, metavar="SECONDS", help=f"({default})")
    parser.add_argument(
        "--health-addr", type=host_port, default=("127.0.0.1", 8081), metavar="HOST:PORT",
        help="serve /healthz and /readyz here (127.0.0.1:8081)",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-addr", type=host_port, default=("127.0.0.1", 8080), metavar="HOST:PORT",
        help="serve /metrics here (127.0.0.1:8080)",
    )  # fmt: skip
    options = parser.parse_args(argv)
    problem = validate_timing(options.lease_duration, options.renew_deadline, options.retry_period)
    if problem:
        parser.error(problem)
    return options


class Manager:
    """The controller's parts, and the order they start and stop in."""

    def __init__(self, options: argparse.Namespace, api_client: client.ApiClient, stop: threading.Event) -> None:
        self._options = options
        self._stop = stop
        self.metrics = Metrics()
        self._queue = RateLimitingQueue()
        self.metrics.queue_depth.set_function(lambda: len(self._queue))
        self._informers = build_informers(api_client, options.namespace, self._queue.add)
        self._fence = threading.Event()  # set when the Lease is lost: no request may start any more
        api = KubeApi(api_client, self._fence)
        self._reconciler = Reconciler(api, self._informers.caches, BackgroundEventRecorder(EventRecorder(api)))
        self._elector = self._make_elector(api_client) if options.leader_elect else None
        self._workers: list[threading.Thread] = []

    def _make_elector(self, api_client: client.ApiClient) -> LeaderElector:
        options = self._options
        return LeaderElector(
            api_client,
            lease=(options.leader_election_namespace, options.leader_election_id),
            identity=options.identity,
            timing=(options.lease_duration, options.renew_deadline, options.retry_period),
            stop=self._stop,
            fence=self._fence,
            on_lost=exit_lost,
        )

    def is_ready(self) -> bool:
        """/readyz: the caches are complete, or this process is a standby waiting for the Lease."""
        standing_by = self._elector is not None and not self._elector.is_leader
        return standing_by or self._informers.has_synced()

    def run(self) -> None:
        """Run until stopped (returns); a lost Lease ends the process instead (`exit_lost`)."""
        self._informers.start()
        try:
            if self._elector is None or self._elector.acquire():
                self._lead()
        finally:
            self._informers.stop()

    def _lead(self) -> None:
        """Reconcile until `stop` is set by a signal; renew the Lease until the reconciles in flight are done."""
        if self._elector is not None:
            self._elector.renew_in_background()
        self.metrics.leader.set(1)
        if self._informers.wait_for_sync(self._stop):
            log.info("caches synced: starting %d workers", self._options.workers)
            self._start_workers()
        self._stop.wait()
        self._stop_workers()
        self.metrics.leader.set(0)
        if self._elector is not None:
            self._elector.release()

    # ----- workers ------------------------------------------------------------------------------------
    def _start_workers(self) -> None:
        for number in range(self._options.workers):
            worker = threading.Thread(target=self._work, name=f"worker-{number}")
            worker.start()
            self._workers.append(worker)

    def _stop_workers(self) -> None:
        """Hand out no more keys, and wait for the reconciles in flight to finish."""
        self._queue.shutdown()
        for worker in self._workers:
            worker.join()

    def _work(self) -> None:
        while (key := self._queue.get()) is not None:
            try:
                self._process(key)
            finally:
                self._queue.done(key)  # the queue may now hand this key out again

    def _process(self, key: str) -> None:
        started = time.monotonic()
        try:
            self._reconciler.reconcile(key)
        except Exception as error:
            self.handle_error(key, error)
        else:
            self._queue.forget(key)
            self.metrics.reconciles.labels(result="success").inc()
        finally:
            self.metrics.reconcile_duration.observe(time.monotonic() - started)

    def handle_error(self, key: str, error: Exception) -> None:
        """The retry policy, in one place: retry the key after its backoff (5 ms doubling, at most 60 s)."""
        self.metrics.reconciles.labels(result="error").inc()
        delay = self._queue.add_rate_limited(key)
        attempt = self._queue.num_requeues(key)
        log.error("reconcile %s failed (attempt %d, retry in %.3gs): %s", key, attempt, delay, explain(error))


def main(argv: Sequence[str]) -> None:
    options = parse_options(argv)
    configure_logging()
    stop = stop_on_signals()
    api_client = connect_api(options)
    manager = Manager(options, api_client, stop)
    servers = [
        _listen("metrics", options.metrics_addr, lambda: serve_metrics(options.metrics_addr, manager.metrics)),
        _listen("health", options.health_addr, lambda: serve_health(options.health_addr, manager.is_ready)),
    ]
    log.info(
        "starting: namespace %s, %d workers, leader election %s, identity %s",
        options.namespace or "(all)",
        options.workers,
        "on" if options.leader_elect else "off",
        options.identity,
    )
    try:
        manager.run()
    finally:
        for server in servers:
            server.shutdown()
    log.info("stopped")


def exit_lost() -> NoReturn:
    """The Lease is lost (leader.py): end the process now, exit status 1.

    The fence already keeps new requests from starting; the reconciles in flight cannot be cancelled (a
    Python thread cannot be), so the process does not wait for them: os._exit ends it with every thread,
    its sockets and whatever they were about to send. Nothing is released: the Lease is not ours.
    """
    log.error("stopped reconciling: the Lease was lost; exiting")
    logging.shutdown()  # flush the log before the hard exit
    os._exit(1)


def connect_api(options: argparse.Namespace) -> client.ApiClient:
    """An API client for the cluster kubectl would use (else in-cluster), with a connection pool to match."""
    configuration = connect(options.kubeconfig, options.context).api.api_client.configuration
    # Every worker and every open watch (four informers, each holding one) uses its own connection; a pool
    # smaller than that makes urllib3 open and throw away extra connections all the time.
    configuration.connection_pool_maxsize = options.workers + 8
    return client.ApiClient(configuration)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # The official informer logs each failure with a traceback; ours logs one line (informer.py).
    logging.getLogger("kubernetes.informer").setLevel(logging.CRITICAL)
    # The official leader election logs every attempt at INFO, every retry period; leader.py logs changes.
    logging.getLogger("leaderelection").setLevel(logging.WARNING)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the request to shut down gracefully."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s received: shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    # `common.cli.run` gives SIGPIPE its default action (end the process), right for a program whose output
    # is piped into `head`, fatal for a server: closing a watch's socket, or a client hanging up on
    # /metrics, would kill the controller. Ignored, a broken connection is an ordinary error again.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    return stop


def _listen(what: str, address: tuple[str, int], start: Callable[[], ThreadingHTTPServer]) -> ThreadingHTTPServer:
    try:
        return start()
    except OSError as error:
        raise CommandError(f"cannot serve {what} on {address[0]}:{address[1]}: {error.strerror or error}") from error


if __name__ == "__main__":
    run(main)
