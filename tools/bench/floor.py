"""The floor: exactly the writes SPEC.md requires (bench/required.py), by a client told what to write.

Per site it makes the requests of ``required.REQUIRED`` in SPEC's order, and nothing else: no informer,
no queue, no cache, no comparison, no read. It uses the controller's ServiceAccount (so the audit log
counts it like a controller) and as many concurrent writers as the controllers get ``--workers``: a
thread pool of that size carries every site's chain of writes, and one more thread writes the ``Synced``
events in the background, as SPEC has the controllers do. The objects are the Python reference's own
(``children``, ``status``, ``registry``, ``events``), so the floor writes byte for byte what a controller
writes.

A site's chain starts the moment the bench's request for that site returns (its create, spec change or
delete), as a controller's reconcile starts on the watch event:

- create: finalizer (with the resourceVersion of the create's answer), registry key, the three applies, the
  event (in the background), status Progressing from the Deployment the apply returned; when a watch on the
  Deployments sees it rolled out, status Available (after that site's Progressing, never before);
- update: the ConfigMap and Deployment applies, the event, Progressing; Available on rollout;
- delete: registry key removed, then the finalizer removed (with the resourceVersion of the delete's
  answer); the API server then deletes the site.

Each phase is timed like a controller's, from the bench's first request to all sites Ready (or gone).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from kubernetes import client

from bench import sites
from bench.context import Bench, Window
from bench.kubeutil import create_namespace, delete_namespace, service_account_client, wait_all
from bench.phases import run_phases
from bench.settings import FLOOR, say
from bench.suite import controllers
from controller_examples.advanced import events, registry
from controller_examples.advanced.api import KubeApi
from controller_examples.advanced.children import desired_children
from controller_examples.advanced.site import FINALIZER, site_url
from controller_examples.advanced.status import desired_status, ready_replicas, rollout_verdict

USER_AGENT = "bench-floor"
UNCHANGED_ON_UPDATE = "Service"  # the one child a content change leaves as it is


# ----- one site's writes (what required.REQUIRED lists; unit-tested against it) -----------------
def write_created(writer: KubeApi, record: Callable[[dict, str], None], site: dict) -> dict:
    """Create: finalizer, registry key, three applies, event, Progressing. Returns the site as last written."""
    metadata = site["metadata"]
    patch = {"metadata": {"finalizers": [FINALIZER], "resourceVersion": metadata["resourceVersion"]}}
    site = writer.patch_site(metadata["namespace"], metadata["name"], patch)
    _add_registry_key(writer, metadata["namespace"], metadata["name"])
    return _apply_and_report(writer, record, site, desired_children(site))


def write_updated(writer: KubeApi, record: Callable[[dict, str], None], site: dict) -> dict:
    """Update (new content): the ConfigMap and Deployment applies, event, Progressing."""
    changed = [child for child in desired_children(site) if child["kind"] != UNCHANGED_ON_UPDATE]
    return _apply_and_report(writer, record, site, changed)


def write_available(writer: KubeApi, site: dict, deployment: dict) -> dict:
    return _write_status(writer, site, deployment)


def write_deleted(writer: KubeApi, site: dict) -> None:
    """Delete: the registry key, then the finalizer (the site as the delete answered: its resourceVersion)."""
    metadata = site["metadata"]
    registry.remove_entry(writer, metadata["namespace"], metadata["name"])
    patch = {"metadata": {"finalizers": [], "resourceVersion": metadata["resourceVersion"]}}
    writer.patch_site(metadata["namespace"], metadata["name"], patch)


def _add_registry_key(writer: KubeApi, namespace: str, name: str) -> None:
    try:
        registry.add_entry(writer, namespace, name, site_url(namespace, name))
    except client.ApiException as error:
        if error.status != 409:
            raise
        # Another writer created the registry between our 404 and our create: the key goes in by patch.
        registry.add_entry(writer, namespace, name, site_url(namespace, name))


def _apply_and_report(writer: KubeApi, record: Callable[[dict, str], None], site: dict,
                      children: list[dict]) -> dict:  # fmt: skip
    applied = {child["kind"]: writer.apply(child) for child in children}
    record(site, "applied " + ", ".join(f"{child['kind']} {child['metadata']['name']}" for child in children))
    return _write_status(writer, site, applied["Deployment"])


def _write_status(writer: KubeApi, site: dict, deployment: dict) -> dict:
    status = desired_status(site, rollout_verdict(site, deployment), ready_replicas(deployment), datetime.now(UTC))
    metadata = site["metadata"]
    return writer.patch_site_status(metadata["namespace"], metadata["name"], {"status": status})


# ----- a phase: the chains on the writers' pool, Available on rollout ---------------------------
class FloorClient:
    """The floor's writers for one run: ``workers`` threads for the chains, one for the events."""

    def __init__(self, writer: KubeApi, workers: int):
        self.writer = writer
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="floor")
        self.event_thread = ThreadPoolExecutor(1, thread_name_prefix="floor-events")
        self.recorder = events.EventRecorder(writer)
        self.chains: dict[str, Future] = {}  # the latest chain of each site
        self.deployment_generation: dict[str, int] = {}  # per site, from the last apply before this phase
        self.lock = threading.Lock()

    def record(self, site: dict, message: str) -> None:
        self.event_thread.submit(self.recorder.record, site, events.NORMAL, events.SYNCED, message)

    def start(self, chain: Callable[..., dict | None], site: dict) -> None:
        """Called by the bench's load thread as the site's request returns: the site's chain is queued."""
        with self.lock:
            self.chains[site["metadata"]["name"]] = self.pool.submit(chain, self.writer, self.record, site)

    def start_delete(self, site: dict) -> None:
        with self.lock:
            self.chains[site["metadata"]["name"]] = self.pool.submit(write_deleted, self.writer, site)

    def report_rollout(self, deployment: dict) -> None:
        """Status Available, once the site's Progressing is written (its chain ended)."""
        name = deployment["metadata"]["name"]
        with self.lock:
            chain = self.chains[name]

        def write() -> None:
            site = chain.result()  # the chain already runs: its apply made this rollout
            self.deployment_generation[name] = deployment["metadata"]["generation"]
            write_available(self.writer, site, deployment)

        with self.lock:
            self.chains[name] = self.pool.submit(write)

    def errors(self) -> list[str]:
        with self.lock:
            chains = list(self.chains.values())
        return [str(chain.exception()) for chain in chains if chain.done() and chain.exception() is not None]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.event_thread.shutdown(wait=True)


def _watch_rollouts(api: client.ApiClient, floor: FloorClient, namespace: str, names: list[str],
                    timeout: float) -> None:  # fmt: skip
    """Call ``floor.report_rollout`` once per site whose Deployment is rolled out at a new generation."""
    previous = dict(floor.deployment_generation)

    def rolled_out(deployment: dict | None) -> bool:
        if deployment is None or deployment["metadata"]["generation"] <= previous.get(
            deployment["metadata"]["name"], 0
        ):
            return False  # not yet written by this phase's apply
        # The reference's own rule; the replicas wanted are the Deployment's (the floor applied the site's).
        wanted = {"spec": {"replicas": deployment["spec"].get("replicas", 1)}}
        return rollout_verdict(wanted, deployment).status == "True"

    wait_all(_list_deployments(api, namespace), names, rolled_out, timeout=timeout, what="rollouts",
             on_satisfied=floor.report_rollout)  # fmt: skip


def _converge(api: client.ApiClient, floor: FloorClient, namespace: str, names: list[str], timeout: float,
              load: Callable[[], object]) -> float:  # fmt: skip
    """The load (its requests start the chains), rollouts reported as they come; returns when "written"."""
    watcher_error: list[BaseException] = []

    def watch() -> None:
        try:
            _watch_rollouts(api, floor, namespace, names, timeout)
        except BaseException as error:
            watcher_error.append(error)

    watcher = threading.Thread(target=watch, name="floor-rollouts", daemon=True)
    watcher.start()
    load()
    written = _explained(floor, lambda: sites.wait_ready(api, namespace, names, timeout))
    watcher.join()
    if watcher_error:
        raise watcher_error[0]
    return written


def create(api, floor: FloorClient, namespace: str, names: list[str], timeout: float) -> float:
    load = functools.partial(
        sites.create_sites, api, namespace, names, then=lambda site: floor.start(write_created, site)
    )
    return _converge(api, floor, namespace, names, timeout, load)


def update(api, floor: FloorClient, namespace: str, names: list[str], timeout: float) -> float:
    load = functools.partial(
        sites.update_sites, api, namespace, names, then=lambda site: floor.start(write_updated, site)
    )
    return _converge(api, floor, namespace, names, timeout, load)


def delete(api, floor: FloorClient, namespace: str, names: list[str], timeout: float) -> None:
    sites.delete_sites(api, namespace, names, then=floor.start_delete)
    return _explained(floor, lambda: sites.wait_gone(api, namespace, names, timeout))


def _explained(floor: FloorClient, wait: Callable[[], float | None]) -> float | None:
    """A wait that timed out names the floor's own failed writes, the likely cause."""
    try:
        return wait()
    except TimeoutError as error:
        failures = floor.errors()
        raise TimeoutError(f"{error}; {len(failures)} floor writes failed, first: {failures[:1]}") from error


ACTIONS = {"create": create, "update": update, "delete": delete}


def _list_deployments(api: client.ApiClient, namespace: str):
    # The generic custom-objects call serves any API group and returns plain dicts, like the site lists.
    return functools.partial(client.CustomObjectsApi(api).list_namespaced_custom_object, "apps", "v1", namespace,
                             "deployments")  # fmt: skip


def measure_floor(bench: Bench, size: int, rep: int, workers: int) -> bool:
    say(f"floor client: N={size}, {workers} writers, repetition {rep}")
    namespace = create_namespace(bench.api, f"floor-{size}")
    kubeconfig = bench.work_dir / "floor.kubeconfig"
    writer = KubeApi(
        service_account_client(bench.cluster, bench.api, kubeconfig, USER_AGENT, bench.settings.token_seconds(size))
    )
    floor = FloorClient(writer, workers)
    names = sites.site_names(size)
    timeout = bench.settings.phase_timeout(size)
    key = {"language": FLOOR, "size": size, "workers": workers}
    log_position = bench.audit_log.position()
    windows: dict[str, Window] = {}
    steps = {
        phase: functools.partial(action, bench.api, floor, namespace, names, timeout)
        for phase, action in ACTIONS.items()
    }
    started = time.time()
    try:
        completed = run_phases(bench, steps, key, rep, windows)
    finally:
        windows["run"] = (started, time.time())
        floor.close()
        controllers.strip_finalizers(bench.api, namespace)  # after a failed phase: never a stuck namespace
        delete_namespace(bench.api, namespace, timeout=120 + 0.5 * size)
    bench.count_requests(FLOOR, size, rep, log_position, windows, workers=workers)
    return completed
