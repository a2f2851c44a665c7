"""staticsite-controller, built with kopf: the process around the handlers of kopf_handlers.py.

Run it with `python -m controller_examples.framework.kopf_operator --help`: the flags are SPEC.md's, parsed
by the hand-built controller's own parser (`advanced.manager.parse_options`), and mapped onto kopf:

- `--kubeconfig`, `--context`: a `@kopf.on.login` handler. The official client finds the cluster (and
  refuses one whose TLS is not verified), kopf gets its server, CA and credentials (`kopf.ConnectionInfo`).
- `--namespace`: `kopf.operator(namespaces=[NS])`, else `clusterwide=True`.
- `--workers`: the thread pool the reconciles run on (kopf_handlers.py).
- `--leader-elect` and the Lease's flags: **not kopf's**. Its "peering" is not a Lease (below): the
  hand-built `advanced.leader.LeaderElector` runs around kopf.
- `--health-addr`, `--metrics-addr`: **not kopf's**. Its one probe (`--liveness`) has no readiness and no
  metrics: `advanced.endpoints` serves both.

Leader election. kopf's peering makes standbys *pause* (they keep watching) while a peer of higher
priority announces itself in a KopfPeering object; it has no lease duration, no renew deadline and no
fencing. SPEC.md wants a Lease, a standby that does
nothing, and a leader that stops writing and exits 1 once it cannot renew for the renew deadline. So
peering is off (`standalone`), and kopf runs only inside the Lease: stand by (`acquire`), renew on a
thread, run kopf; a lost Lease fences the reconciler's requests and ends the process (`exit_lost`, exit
1), which also ends kopf's own requests (its finalizer patches), the only way to stop them at once. On
SIGTERM/SIGINT kopf stops (its daemons finish their reconciles in flight), then the Lease is released.

Reused from the hand-built manager (`advanced.manager`): the parser, logging, the connection, `exit_lost`,
the signal handlers while standing by, and `_listen` (private there: one place to serve an endpoint).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import client

from controller_examples.advanced.api import REQUEST_TIMEOUT_SECONDS, KubeApi
from controller_examples.advanced.endpoints import Metrics
from controller_examples.advanced.events import BackgroundEventRecorder, EventRecorder
from controller_examples.advanced.manager import (
    configure_logging,
    connect_api,
    make_elector,
    run_serving,
    standing_by,
    stop_on_signals,
)
from controller_examples.advanced.options import Options, parse_options
from controller_examples.advanced.site import FINALIZER, MANAGED_SELECTOR
from controller_examples.common.cli import run
from controller_examples.framework.kopf_diffbase import InMemoryDiffBaseStorage
from controller_examples.framework.kopf_handlers import CHILD_RESOURCES, Runtime, build_registry

# A watch request ends after this many seconds (the API server's side) and is opened again; the client
# gives up on it a little later, so a connection that went silent is noticed.
WATCH_SERVER_TIMEOUT_SECONDS = 300
WATCH_CLIENT_MARGIN_SECONDS = 30
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long a daemon asked to stop may take to finish the reconcile in flight (its requests are bounded).
DAEMON_EXIT_SECONDS = 2 * REQUEST_TIMEOUT_SECONDS

log = logging.getLogger("staticsite-controller")


def operator_settings(options: Options, diffbase: InMemoryDiffBaseStorage) -> kopf.OperatorSettings:
    """kopf's settings for SPEC.md: its finalizer, nothing of kopf's own written to a site, every request bounded."""
    settings = kopf.OperatorSettings()
    # kopf adds and removes this finalizer around the delete handler: SPEC.md's name, not kopf's marker.
    settings.persistence.finalizer = FINALIZER
    # kopf keeps each object's last handled spec ("diff base") in an annotation and rewrites it after every
    # change it sees: a write per change, which SPEC.md's no-op reconcile forbids. The controller needs no
    # diff (it is level-based), so the diff base stays in memory.
    settings.persistence.diffbase_storage = diffbase
    # The delete handler's progress (only written if it fails and is retried) goes to annotations, not to
    # status.kopf, which the CRD's status schema does not have (and the goldens compare the status).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    # kopf would write a k8s Event of its own for each handler's outcome: the events are SPEC.md's only.
    settings.posting.enabled = False
    # kopf would watch CRDs and namespaces to follow new ones: this controller's RBAC does not allow it.
    settings.scanning.disabled = True
    # Only the controller's own children, filtered by the API server (kopf would otherwise watch every
    # ConfigMap, Deployment and Service of the namespace(s) and filter them itself).
    for resource in CHILD_RESOURCES.values():
        settings.watching.label_selectors[resource] = MANAGED_SELECTOR
    settings.peering.standalone = True  # leader election is the Lease's, around kopf (module docstring)
    # A site being deleted keeps its finalizer until its daemon has exited. kopf gives a daemon a few event
    # loop cycles to exit, then checks again only after `cancellation_polling` (60 s by default), by a
    # dummy patch of the site: wait up to a reconcile's length for the exit instead, and poll every second.
    settings.background.instant_exit_timeout = DAEMON_EXIT_SECONDS
    settings.background.cancellation_polling = 1.0
    settings.networking.request_timeout = REQUEST_TIMEOUT_SECONDS
    settings.networking.connect_timeout = REQUEST_TIMEOUT_SECONDS
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT_SECONDS
    settings.watching.client_timeout = WATCH_SERVER_TIMEOUT_SECONDS + WATCH_CLIENT_MARGIN_SECONDS
    settings.watching.connect_timeout = REQUEST_TIMEOUT_SECONDS
    return settings


def connection_info(configuration: client.Configuration) -> kopf.ConnectionInfo:
    """The cluster the official client found (kubeconfig or in-cluster), as kopf's credentials."""
    # "Bearer TOKEN" (the client refreshes an expiring token here, e.g. a kubeconfig's exec plugin's).
    header = configuration.get_api_key_with_prefix("BearerToken", alias="authorization") or ""
    scheme, _, token = header.partition(" ")
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=False,  # `connect` already refused a kubeconfig that turns verification off
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


class Operator:
    """kopf, its handlers' shared parts, and the Lease around them."""

    def __init__(self, options: Options, api_client: client.ApiClient, stop: threading.Event) -> None:
        self._options = options
        self._api_client = api_client
        self._stop = stop
        self._fence = threading.Event()  # set when the Lease is lost: no request of the reconciler may start
        self._ready = threading.Event()  # kopf's ready flag
        self.metrics = Metrics()
        api = KubeApi(api_client, self._fence)
        workers = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="worker")
        recorder = BackgroundEventRecorder(EventRecorder(api))
        self._runtime = Runtime(api, recorder, self.metrics, workers, InMemoryDiffBaseStorage())
        self.metrics.queue_depth.set_function(lambda: self._runtime.waiting)
        self._elector = make_elector(options, api_client, stop, self._fence)

    def is_ready(self) -> bool:
        """/readyz: kopf has started, or this process is a standby waiting for the Lease."""
        return standing_by(self._elector) or self._ready.is_set()

    def run(self) -> None:
        """Stand by for the Lease (with --leader-elect), then run kopf until a signal; release the Lease."""
        if self._elector is not None:
            if not self._elector.acquire():
                return  # stopped while standing by
            self._elector.renew_in_background()
        self.metrics.leader.set(1)
        try:
            asyncio.run(self._operate())
        finally:
            # Closing kopf's event loop put SIGTERM/SIGINT back to their default action (end the process at
            # once): the shutdown is under way, a second signal must not cut the Lease's release short.
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
            self.metrics.leader.set(0)
            if self._elector is not None:
                self._elector.release()

    async def _operate(self) -> None:
        registry = build_registry(self._runtime)
        configuration = self._api_client.configuration

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return connection_info(configuration)

        # kopf stops on SIGTERM/SIGINT with handlers of its event loop, which it installs once started. Until
        # then, ours set `stopping` (a signal received while standing by has set `self._stop`). An asyncio
        # flag, not the threading one: kopf waits for a threading.Event on a thread it cannot cancel.
        stopping = asyncio.Event()
        for signum in STOP_SIGNALS:
            asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
        if self._stop.is_set():
            stopping.set()

        @kopf.on.cleanup(registry=registry)
        async def stopped(**_: Any) -> None:
            # Stopped by kopf's own signal handler, kopf leaves its wait for our flag pending, and waits 5 s
            # for such "hung" tasks before it returns: end that wait.
            stopping.set()

        namespace = self._options.namespace
        await kopf.operator(
            registry=registry,
            settings=operator_settings(self._options, self._runtime.diffbase),
            standalone=True,
            clusterwide=namespace is None,
            namespaces=[namespace] if namespace else (),
            stop_flag=stopping,
            ready_flag=self._ready,
        )


def main(argv: Sequence[str]) -> None:
    options = parse_options(argv)
    configure_logging()
    # kopf logs every handler's success at INFO, per event: keep its warnings and errors only.
    logging.getLogger("kopf").setLevel(logging.WARNING)
    stop = stop_on_signals()
    api_client = connect_api(options)
    operator = Operator(options, api_client, stop)
    flavour = f" (kopf {importlib.metadata.version('kopf')})"
    run_serving(options, flavour, operator.metrics, operator.is_ready, operator.run)


if __name__ == "__main__":
    run(main)
