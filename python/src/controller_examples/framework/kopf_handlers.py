"""The StaticSite controller's kopf handlers: what replaces the hand-built informer, queue and workers.

kopf watches resources and calls *handlers* per object. What it offers, and what this controller takes:

- **Indexes** (`@kopf.index`): in-memory caches filled from kopf's watch streams. kopf starts no other
  handler until every index holds the first complete listing, which is what the hand-built manager's
  `wait_for_sync` gives. Four indexes, keyed `NAMESPACE/NAME` like the informers' caches, so the
  reconciler of the advanced track (`advanced.reconciler.Reconciler`) reads them through `IndexCache`
  unchanged.
- **Daemons** (`@kopf.daemon`): one asyncio task per StaticSite, started when kopf first sees the site and
  stopped when it is being deleted. Each daemon is the site's own queue entry: it waits to be woken,
  reconciles, and waits again. So one site is never reconciled twice at once (one daemon per site), and
  any number of wake-ups while it reconciles collapse into one more pass (an `asyncio.Event` is set
  once), the two guarantees of the hand-built work queue.
- **Event handlers** (`@kopf.on.event`): every watch event of a site, of a labelled child, or of the
  registry wakes the daemons it concerns (the same rules as the hand-built informer's handlers, reused:
  `advanced.informer.ChildHandler`).
- **The finalizer and deletion** (`@kopf.on.delete`): kopf adds `sites.example.com/registry` to every site
  (it is configured as kopf's finalizer, kopf_operator.py; the daemon waits for it: `kopf_is_due`), calls
  the delete handler when the site is being deleted, and removes the finalizer once that handler has
  succeeded and the daemon has exited.

Why not kopf's `@kopf.on.create` / `@kopf.on.update`? They are *edge*-triggered by changes of the site's
own spec, labels and annotations: a deleted or edited child, a Deployment becoming ready, or an edited
registry is no change of the site, and kopf has no "enqueue the owner" of controller-runtime's `Owns()`.
A level-based controller needs one entry point that any of those can trigger: the daemon.

Not provided by kopf, so kept from the hand-built controller: the per-key exponential backoff of a
failed reconcile (`advanced.queue.ItemExponentialBackoff`; kopf's own retries re-run change handlers,
which the daemon is not), the periodic resync (a daemon's wait times out), and the worker limit (a
thread pool of `--workers` threads: the reconciler is synchronous code on the official client).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from controller_examples.advanced.api import KubeApi, explain
from controller_examples.advanced.children import CHILD_KINDS
from controller_examples.advanced.endpoints import Metrics
from controller_examples.advanced.events import Recorder
from controller_examples.advanced.informer import RESYNC_PERIOD_SECONDS, Cache, Caches, ChildHandler
from controller_examples.advanced.queue import ItemExponentialBackoff
from controller_examples.advanced.reconciler import Reconciler
from controller_examples.advanced.registry import remove_entry
from controller_examples.advanced.site import FINALIZER, GROUP, PLURAL, VERSION, object_key, site_key
from controller_examples.framework.kopf_diffbase import InMemoryDiffBaseStorage

SITE_RESOURCE = (GROUP, VERSION, PLURAL)
# The children's watches select the label app.kubernetes.io/managed-by=staticsite-controller on the API
# server (kopf_operator.py: operator_settings), like the hand-built informers.
CHILD_RESOURCES: dict[str, tuple[str, str] | tuple[str, str, str]] = {
    "ConfigMap": ("v1", "configmaps"),
    "Deployment": ("apps", "v1", "deployments"),
    "Service": ("v1", "services"),
}
# The index of each kind: kopf passes every index to every handler as a keyword argument of this name.
INDEX_IDS = {"StaticSite": "sites", "ConfigMap": "config_maps", "Deployment": "deployments", "Service": "services"}
# A delete handler that failed is retried by kopf after this many seconds (its default is 60).
DELETE_BACKOFF_SECONDS = 1.0

log = logging.getLogger(__name__)

Object = dict[str, Any]


class IndexCache:
    """An informer cache's reading side (`get_by_key`, `list_keys`) over a kopf index keyed by NAMESPACE/NAME."""

    def __init__(self, index: kopf.Index[str, Object]) -> None:
        self._index = index

    def get_by_key(self, key: str) -> Object | None:
        store = self._index.get(key)
        return next(iter(store), None) if store is not None else None

    def list_keys(self) -> list[str]:
        return list(self._index)


def caches_of(indices: Mapping[str, Any]) -> Caches:
    """The four indexes kopf passed to a handler, as the reconciler's caches."""
    sites: Cache = IndexCache(indices[INDEX_IDS["StaticSite"]])
    children: dict[str, Cache] = {kind: IndexCache(indices[INDEX_IDS[kind]]) for kind in CHILD_KINDS}
    return Caches(sites=sites, children=children)


def index_entry(body: Mapping[str, Any]) -> dict[str, Object]:
    """What an index holds for an object: a plain copy of it under its key (kopf's Body is a live view)."""
    return {object_key(dict(body)): copy.deepcopy(dict(body))}


@dataclass
class Runtime:
    """What the handlers share: the API, the events, the metrics, the worker threads, and each site's wake-up."""

    api: KubeApi
    recorder: Recorder
    metrics: Metrics
    workers: ThreadPoolExecutor
    diffbase: InMemoryDiffBaseStorage
    backoff: ItemExponentialBackoff = field(default_factory=ItemExponentialBackoff)
    wakeups: dict[str, asyncio.Event] = field(default_factory=dict)
    child_handlers: dict[str, ChildHandler] = field(default_factory=dict)
    waiting: int = 0  # reconciles waiting for a worker thread: the queue depth (changed by `_queued`)
    _waiting_lock: threading.Lock = field(default_factory=threading.Lock)

    def wake(self, key: str) -> None:
        """Ask the site's daemon for one more reconcile. A key with no daemon (yet) needs none: a daemon
        reconciles when it starts, and an owner name no site has must not leave a flag behind."""
        wake = self.wakeups.get(key)
        if wake is not None:
            wake.set()

    def child_handler(self, kind: str, sites: Cache) -> ChildHandler:
        """The hand-built informer's rules for a child's or the registry's change, one per kind (it logs once)."""
        if kind not in self.child_handlers:
            self.child_handlers[kind] = ChildHandler(kind, self.wake, sites)
        return self.child_handlers[kind]

    async def reconcile_until_stopped(self, key: str, stopped: kopf.DaemonStopped, caches: Caches) -> None:
        """The site's daemon: reconcile when woken (or every resync period), retry failures with backoff."""
        wake = self.wakeups[key] = asyncio.Event()
        wake.set()  # a site is reconciled when first seen: at its creation, or when the process starts
        loop = asyncio.get_running_loop()
        try:
            while not await woken_or_stopped(wake, stopped, RESYNC_PERIOD_SECONDS):
                wake.clear()
                if await self.reconcile(key, caches):
                    self.backoff.forget(key)
                else:
                    loop.call_later(self.backoff.when(key), wake.set)
        finally:
            if self.wakeups.get(key) is wake:
                del self.wakeups[key]

    async def reconcile(self, key: str, caches: Caches) -> bool:
        """One reconcile on a worker thread; True on success. The metrics are the hand-built workers'."""
        self._queued(1)
        return await asyncio.get_running_loop().run_in_executor(self.workers, self._reconcile, key, caches)

    def _queued(self, change: int) -> None:
        with self._waiting_lock:  # the event loop adds, the worker threads take away
            self.waiting += change

    def _reconcile(self, key: str, caches: Caches) -> bool:
        self._queued(-1)
        started = time.monotonic()
        try:
            if kopf_is_due(caches.sites.get_by_key(key)):
                return True
            Reconciler(self.api, caches, self.recorder).reconcile(key)
        except Exception as error:
            self.metrics.reconciles.labels(result="error").inc()
            attempt = self.backoff.failures(key) + 1
            log.error("reconcile %s failed (attempt %d): %s", key, attempt, explain(error))
            return False
        else:
            self.metrics.reconciles.labels(result="success").inc()
            return True
        finally:
            self.metrics.reconcile_duration.observe(time.monotonic() - started)

    def finalize(self, namespace: str, name: str) -> None:
        """SPEC's finalizer: remove the site's registry key (kopf removes the finalizer itself afterwards)."""
        remove_entry(self.api, namespace, name)


def informer_events(kopf_type: str | None) -> list[str]:
    """The informer events that stand for one kopf event of a child.

    kopf gives the objects of its first listing with no type: additions. And kopf hands an object's handlers
    only its latest state: events that arrive while the previous one is handled are merged, so an object
    created and deleted meanwhile (the garbage collector deletes an object whose owner uid does not exist
    within seconds) is seen only as deleted. The informer's handler logs an ignored object when it is added
    or modified, never deleted: a deletion first passes as a modification, so it is logged once all the same.
    """
    if kopf_type is None:
        return ["ADDED"]
    if kopf_type == "DELETED":
        return ["MODIFIED", "DELETED"]
    return [kopf_type]


def kopf_is_due(site: Object | None) -> bool:
    """True when kopf, not the reconciler, acts next on this site: SPEC's steps 2 and 3 are kopf's.

    A site being deleted goes to kopf's delete handler, then kopf removes the finalizer. A site without the
    finalizer yet is getting it from kopf (the daemon starts before kopf's patch is done): that patch's
    event wakes the daemon again. (The reconciler would add the finalizer itself, and race kopf's patch.)
    """
    if site is None:
        return False
    metadata = site["metadata"]
    return bool(metadata.get("deletionTimestamp")) or FINALIZER not in (metadata.get("finalizers") or [])


async def woken_or_stopped(wake: asyncio.Event, stopped: kopf.DaemonStopped, timeout: float) -> bool:
    """Wait until `wake` is set, `stopped` is, or `timeout` passes (the resync: counts as woken); True if stopped."""

    async def until_stopped() -> None:
        await stopped.wait()

    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(until_stopped())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(stopped)


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    """The handlers, in a registry of their own (not kopf's global one, which an import would fill)."""
    registry = kopf.OperatorRegistry()

    @kopf.index(*SITE_RESOURCE, id=INDEX_IDS["StaticSite"], registry=registry)
    def index_site(body: kopf.Body, **_: Any) -> dict[str, Object]:
        return index_entry(body)

    for kind in CHILD_KINDS:
        _register_child(registry, runtime, kind)

    @kopf.on.event(*SITE_RESOURCE, id="site-changed", registry=registry)
    async def site_changed(*, type: str, namespace: str | None, name: str, uid: str, **_: Any) -> None:
        if type == "DELETED":
            runtime.diffbase.forget(uid)
        else:
            runtime.wake(site_key(namespace or "", name))

    @kopf.daemon(*SITE_RESOURCE, id="reconcile", registry=registry)
    async def reconcile(*, namespace: str | None, name: str, stopped: kopf.DaemonStopped, **indices: Any) -> None:
        await runtime.reconcile_until_stopped(site_key(namespace or "", name), stopped, caches_of(indices))

    @kopf.on.delete(*SITE_RESOURCE, id="finalize", backoff=DELETE_BACKOFF_SECONDS, registry=registry)
    async def finalize(*, namespace: str | None, name: str, **_: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(runtime.workers, runtime.finalize, namespace or "", name)

    return registry


def _register_child(registry: kopf.OperatorRegistry, runtime: Runtime, kind: str) -> None:
    """A child kind's index, and its event handler: a change wakes the site that controls the object."""
    resource = CHILD_RESOURCES[kind]

    @kopf.index(*resource, id=INDEX_IDS[kind], registry=registry)
    def index_child(body: kopf.Body, **_: Any) -> dict[str, Object]:
        return index_entry(body)

    @kopf.on.event(*resource, id=f"{INDEX_IDS[kind]}-changed", registry=registry)
    async def child_changed(*, type: str, body: kopf.Body, **indices: Any) -> None:
        handler = runtime.child_handler(kind, caches_of(indices).sites)
        for event_type in informer_events(type):
            handler.on_change(event_type, dict(body))
