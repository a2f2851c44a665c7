"""The bench's own Kubernetes plumbing: clients, namespaces, a thread pool, and waiting on a watch.

The bench drives the cluster as admin (not audited, so never counted as a controller's request) and
observes it with list-then-watch rather than polling: a figure should not depend on a poll interval, and
1,000 sites listed every 0.2 s would take CPU from the program being measured.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from kubernetes import client, config, watch

from bench.settings import say
from bench.suite import controllers, kube

T = TypeVar("T")
R = TypeVar("R")
Object = dict

# Concurrent requests of the bench's own clients (creating sites and pods, the floor client): enough to
# keep the API server busy without queueing much in a Python process.
CLIENT_THREADS = 8
BENCH_LABEL = {"controller-examples/bench": "true"}


def admin_client(cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


def service_account_client(cluster, api: client.ApiClient, path: Path, user_agent: str,
                           lifetime_seconds: int) -> client.ApiClient:  # fmt: skip
    """A client with the controller's ServiceAccount credentials, so its requests are audited."""
    kubeconfig = controllers.controller_kubeconfig(cluster, api, path, lifetime_seconds)
    sa_client = config.new_client_from_config(config_file=str(kubeconfig))
    sa_client.user_agent = user_agent
    return sa_client


def in_parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``function`` over ``items`` on CLIENT_THREADS threads; the first exception is raised."""
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        return list(pool.map(function, items))


def discard(response) -> None:
    """Drop a raw response (from a call with ``_preload_content=False``, made to skip building a model)
    and give its connection back to the pool."""
    response.drain_conn()
    response.release_conn()


def create_namespace(api: client.ApiClient, prefix: str) -> str:
    core = client.CoreV1Api(api)
    name = f"bench-{prefix}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=BENCH_LABEL)))
    # Pods are refused until the controller-manager has created the default ServiceAccount.
    kube.wait_for(lambda: core.read_namespaced_service_account("default", name), timeout=60, what=f"{name}/default")
    return name


def delete_namespace(api: client.ApiClient, name: str, timeout: float) -> None:
    """Delete and wait until it is gone: the next measurement must not share the API server with its cleanup."""
    core = client.CoreV1Api(api)
    say(f"  deleting namespace {name}")
    core.delete_namespace(name, propagation_policy="Background")
    kube.wait_namespace_gone(core, name, timeout=timeout, what=f"namespace {name} to be deleted")


def wait_all(
    list_objects: Callable[..., Object],
    names: Iterable[str],
    satisfied: Callable[[Object | None], bool],
    *,
    timeout: float,
    what: str,
    on_satisfied: Callable[[Object | None], object] | None = None,
    observe: Callable[[str, Object | None], object] | None = None,
    progress: Callable[[int], object] | None = None,
) -> dict[str, Object]:
    """Block until ``satisfied`` holds for every named object (None: the object does not exist).

    List, then watch from the list's resourceVersion, keeping the set of names still pending: each event
    costs one check, not one per object. A watch that ends (server timeout, 410 Gone) means list again.
    ``on_satisfied`` is called once per name, as soon as its object first satisfies the condition;
    ``observe`` with every (name, object) checked, to follow a second condition on the same watch.
    ``progress`` with how many are still pending, after an event (the caller throttles it: see Every).
    Returns the objects as last seen, by name. Raises TimeoutError naming how many are still pending.
    """
    deadline = time.monotonic() + timeout
    pending, seen_satisfied = set(names), set()

    def check(objects: dict[str, Object], name: str) -> None:
        if observe is not None:
            observe(name, objects.get(name))
        if not satisfied(objects.get(name)):
            pending.add(name)
            return
        pending.discard(name)
        if on_satisfied is not None and name not in seen_satisfied:
            seen_satisfied.add(name)
            on_satisfied(objects.get(name))

    wanted = set(pending)
    while True:
        listing = list_objects()
        objects = {item["metadata"]["name"]: item for item in listing["items"]}
        for name in wanted:
            check(objects, name)
        remaining = deadline - time.monotonic()
        if not pending:
            return objects
        if remaining <= 0:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}: {len(pending)} pending")
        stream = watch.Watch().stream(
            list_objects,
            resource_version=listing["metadata"]["resourceVersion"],
            timeout_seconds=max(1, int(remaining)),
        )
        try:
            with contextlib.closing(stream):  # returning early must close the connection too
                for event in stream:
                    _apply_event(objects, event)
                    name = event["object"]["metadata"]["name"]
                    if name in wanted:
                        check(objects, name)
                    if not pending:
                        return objects
                    if progress is not None:
                        progress(len(pending))
        except client.ApiException as error:
            if error.status != 410:
                raise


# A wait at N = 10,000 lasts many minutes: a line this often says it is moving.
PROGRESS_SECONDS = 60.0


class Every:
    """Calls ``report`` at most once per ``interval`` seconds, the first time an interval after it was made:
    a long wait's progress lines, however many events arrive."""

    def __init__(self, report: Callable[..., object], interval: float = PROGRESS_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.report, self.interval, self.clock = report, interval, clock
        self.last = clock()

    def __call__(self, *arguments: object) -> None:
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.report(*arguments)


def _apply_event(objects: dict[str, Object], event: dict) -> None:
    obj = event["object"]
    if event["type"] == "DELETED":
        objects.pop(obj["metadata"]["name"], None)
    else:
        objects[obj["metadata"]["name"]] = obj
