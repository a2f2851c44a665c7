"""staticsite-controller: the process that runs the StaticSite controller (shared-manifests/SPEC.md).

It wires the parts together, the way client-go's sample-controller and controller-runtime's manager do:

    informers --(site keys)--> work queue --> N worker threads --> reconciler --> API server
        ^                                                                             |
        +-------------------------- watch events ------------------------------------+

1. Connect (kubeconfig as kubectl finds it, else the pod's service account: `common.kube`).
2. Serve /healthz, /readyz and /metrics.
3. Start the informers. Their handlers only add keys to the queue.
4. With --leader-elect, stand by until this process holds the Lease, then keep renewing it.
5. Wait for the caches to be complete, then start the workers (`queue.Workers`). Each takes a key,
   reconciles it, and reports the outcome to the queue: `forget` on success, `add_rate_limited` on
   failure (`Workers.handle_error`, the one place the retry policy lives).
6. On SIGTERM/SIGINT: stop handing out keys, let the reconciles in flight finish (the Lease is renewed
   meanwhile), release the Lease, exit 0.
   If the Lease cannot be renewed within the renew deadline, a standby may lead any moment: the API layer
   is fenced (no new request starts) and the process exits 1 at once, without waiting for the requests in
   flight and without releasing the Lease (it is not ours).
"""

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import HTTPServer
from typing import NoReturn

from kubernetes import client

from controller_examples.advanced.api import KubeApi
from controller_examples.advanced.endpoints import Address, Metrics, serve_health, serve_metrics
from controller_examples.advanced.events import BackgroundEventRecorder, EventRecorder
from controller_examples.advanced.informer import build_informers
from controller_examples.advanced.leader import LeaderElector
from controller_examples.advanced.options import Options, parse_options
from controller_examples.advanced.queue import RateLimitingQueue, Workers
from controller_examples.advanced.reconciler import PARALLEL_REQUESTS, Reconciler
from controller_examples.common.cli import run
from controller_examples.common.errors import CommandError
from controller_examples.common.kube import load_configuration

log = logging.getLogger(__name__)


class Manager:
    """The controller's parts, and the order they start and stop in."""

    def __init__(self, options: Options, api_client: client.ApiClient, stop: threading.Event) -> None:
        self._options = options
        self._stop = stop
        self.metrics = Metrics()
        self._queue = RateLimitingQueue()
        self.metrics.queue_depth.set_function(lambda: len(self._queue))
        self._informers = build_informers(api_client, options.namespace, self._queue.add)
        self._fence = threading.Event()  # set when the Lease is lost: no request may start any more
        api = KubeApi(api_client, self._fence)
        recorder = BackgroundEventRecorder(EventRecorder(api))
        requests = ThreadPoolExecutor(options.workers * PARALLEL_REQUESTS, thread_name_prefix="request")
        reconciler = Reconciler(api, self._informers.caches, recorder, requests=requests)
        self._workers = Workers(self._queue, reconciler.reconcile, self.metrics)
        self._elector = make_elector(options, api_client, stop, self._fence)

    def is_ready(self) -> bool:
        """/readyz: the caches are complete, or this process is a standby waiting for the Lease."""
        return standing_by(self._elector) or self._informers.has_synced()

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
            self._workers.start(self._options.workers)
        self._stop.wait()
        self._workers.stop()
        self.metrics.leader.set(0)
        if self._elector is not None:
            self._elector.release()


def main(argv: Sequence[str]) -> None:
    options = parse_options(argv)
    configure_logging()
    stop = stop_on_signals()
    api_client = connect_api(options)
    manager = Manager(options, api_client, stop)
    run_serving(options, "", manager.metrics, manager.is_ready, manager.run)


def run_serving(
    options: Options, flavour: str, metrics: Metrics, is_ready: Callable[[], bool], run_controller: Callable[[], None]
) -> None:
    """Serve the endpoints, log the start (`flavour`: e.g. " (kopf 1.45.2)"), run, and stop serving after."""
    servers = serve_endpoints(options, metrics, is_ready)
    log.info(
        "starting%s: namespace %s, %d workers, leader election %s, identity %s",
        flavour,
        options.namespace or "(all)",
        options.workers,
        "on" if options.leader_elect else "off",
        options.identity,
    )
    try:
        run_controller()
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


def connect_api(options: Options) -> client.ApiClient:
    """An API client for the cluster kubectl would use (else in-cluster), with a connection pool to match."""
    configuration, _ = load_configuration(options.kubeconfig, options.context)
    # Every worker, each with the requests it sends at once (a reconcile applies its children in parallel:
    # reconciler.py), and every open watch (four informers, each holding one) uses its own connection; a
    # pool smaller than that makes urllib3 open and throw away extra connections all the time.
    configuration.connection_pool_maxsize = options.workers * PARALLEL_REQUESTS + 8
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


def make_elector(
    options: Options, api_client: client.ApiClient, stop: threading.Event, fence: threading.Event
) -> LeaderElector | None:
    """The Lease elector the flags ask for (None without --leader-elect); a lost Lease ends the process."""
    if not options.leader_elect:
        return None
    return LeaderElector(
        api_client,
        lease_namespace=options.leader_election_namespace,
        lease_name=options.leader_election_id,
        identity=options.identity,
        timing=options.lease_timing,
        stop=stop,
        fence=fence,
        on_lost=exit_lost,
    )


def standing_by(elector: LeaderElector | None) -> bool:
    """A standby waiting for the Lease is ready (/readyz): it is doing what it should."""
    return elector is not None and not elector.is_leader


def serve_endpoints(options: Options, metrics: Metrics, is_ready: Callable[[], bool]) -> list[HTTPServer]:
    """/metrics and /healthz, /readyz on the flags' addresses (a one-line error if one is taken)."""
    return [
        _listen("metrics", options.metrics_addr, lambda: serve_metrics(options.metrics_addr, metrics)),
        _listen("health", options.health_addr, lambda: serve_health(options.health_addr, is_ready)),
    ]


def _listen(what: str, address: Address, start: Callable[[], HTTPServer]) -> HTTPServer:
    try:
        return start()
    except OSError as error:
        raise CommandError(f"cannot serve {what} on {address[0]}:{address[1]}: {error.strerror or error}") from error


if __name__ == "__main__":
    run(main)
