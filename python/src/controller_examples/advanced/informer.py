"""Informers: a local, always up-to-date copy of the objects the controller reads, and a signal when one changes.

An informer lists a resource, then watches it from the list's resourceVersion (the intermediate track's
watch-pods does this by hand): it keeps every object in a cache, and calls event handlers on each add,
update and delete. When the watch breaks it resumes from the last resourceVersion; when that version has
expired (410 Gone) it lists again. The reconciler then reads the cache instead of the API server, and the
handlers only *enqueue the key* of the site to reconcile, so a burst of events costs one reconcile.

The controller runs four informers:
- StaticSites: every change enqueues the site;
- ConfigMaps, Deployments and Services labelled `app.kubernetes.io/managed-by=staticsite-controller` (the
  label selector keeps the cache small: only the controller's own objects): every change enqueues the
  site that controls the object, so deleting or editing a child gets it repaired, and a Deployment's
  status changes update the site's status. A change of a namespace's registry ConfigMap (labelled, owned
  by no site) enqueues the sites whose key it lacks (registry.py), so a registry deleted or edited by hand
  is repaired at once.

Every field of an object is data: anyone who can write a labelled ConfigMap can give it an ownerReference
with any name (the API server checks only that it is not empty). A name no StaticSite can have (not a
DNS-1123 subdomain) is no site's key: the object is ignored, with one log line, not one per event.

We use the official client's `kubernetes.informer.SharedInformer` (list+watch, cache, resume, 410 → list
again, event handlers) and add only what it lacks for this controller:

1. **Plain dicts.** It calls the list function for the typed models (pydantic objects, heavy), and its
   list step cannot read a custom-object list at all (the client returns that as a dict, and it looks for
   `.items`). `ListWatch` gives it a list function that answers with dicts, page by page.
2. **`has_synced()`** for /readyz and for waiting before the workers start: `Informer` records the end of
   the first complete list.
3. **A pause before re-opening a watch that failed at once.** The official loop reconnects immediately,
   so an unreachable API server would be hammered in a tight loop; `ListWatch` backs off instead.
4. **One log line per failure** (from an ERROR handler) instead of its tracebacks.

Its periodic resync is a fresh LIST from the API server (client-go's replays the cache instead); either
way every site is enqueued again, the safety net of a level-based controller.
"""

import functools
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client import ApiException
from kubernetes.informer import ADDED, DELETED, ERROR, MODIFIED, SharedInformer

from controller_examples.advanced.api import decode, explain
from controller_examples.advanced.children import CHILD_KINDS, owner_site_key
from controller_examples.advanced.registry import cached_site_names, sites_to_repair
from controller_examples.advanced.site import (
    GROUP,
    MANAGED_SELECTOR,
    PLURAL,
    REGISTRY_NAME,
    VERSION,
    Object,
    object_key,
    site_key,
)

RESYNC_PERIOD_SECONDS = 600
PAGE_SIZE = 500
LIST_TIMEOUT_SECONDS = 60
# A watch that ends within this time of opening counts as failed, and the next one waits.
HEALTHY_WATCH_SECONDS = 1.0
WATCH_BACKOFF_SECONDS = (0.8, 30.0)  # first pause, longest pause (client-go's reflector uses the same)
# What the API server allows as a StaticSite's name (and a namespace's, a label): an owner's name is
# checked against it before it becomes a key.
_DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

log = logging.getLogger(__name__)


class Cache(Protocol):
    """The read side of an informer, all the reconciler needs (the official `ObjectCache` is one)."""

    def get_by_key(self, key: str) -> Object | None: ...

    def list_keys(self) -> list[str]: ...


@dataclass(frozen=True)
class Caches:
    sites: Cache
    children: Mapping[str, Cache]  # by kind: "ConfigMap", "Deployment", "Service"


class InformerStopped(Exception):
    """Raised instead of opening a watch once the informer is stopping."""


class ListWatch:
    """One resource's list and watch calls, in the form SharedInformer calls them, answering with dicts.

    SharedInformer calls it without `watch` to list, and reads `.items` and `.metadata.resource_version`
    from the answer. Then it passes it to `kubernetes.watch.Watch.stream`, which calls it with
    `watch=True` and `_preload_content=False` and reads the events from the raw response.
    """

    def __init__(self, resource: str, call: Callable[..., Any], stopping: threading.Event) -> None:
        self.resource = resource
        self._call = call
        self._stopping = stopping
        self._last_watch_opened = -math.inf
        self._watch_pause = 0.0

    # The return annotation matters: Watch.stream decodes each event's object as this type. For `object`
    # it keeps the dict (and still tracks the resourceVersion to resume from); with no annotation it would
    # stop tracking it, and every reconnect would replay the watch from the list's version.
    def __call__(self, **params: Any) -> object:
        if params.get("watch"):
            return self._open_watch(params)
        return self._list(params)

    def _list(self, params: dict[str, Any]) -> SimpleNamespace:
        """List every object, page by page (one consistent snapshot), as SharedInformer expects a list."""
        items: list[Object] = []
        token = None
        while True:
            response = self._call(
                **params,
                limit=PAGE_SIZE,
                _continue=token,
                _preload_content=False,
                _request_timeout=LIST_TIMEOUT_SECONDS,
            )
            page = decode(response)
            items.extend(page.get("items") or [])
            token = page["metadata"].get("continue")
            if not token:
                version = page["metadata"].get("resourceVersion")
                return SimpleNamespace(items=items, metadata=SimpleNamespace(resource_version=version))

    def _open_watch(self, params: dict[str, Any]) -> Any:
        self._pause_after_failed_watch()
        if self._stopping.is_set():
            raise InformerStopped(self.resource)
        # Bookmarks move the resourceVersion forward on quiet resources, so a resume rarely gets 410.
        return self._call(**params, allow_watch_bookmarks=True)

    def _pause_after_failed_watch(self) -> None:
        """Back off (doubling, capped) when the previous watch ended right after it was opened."""
        first, longest = WATCH_BACKOFF_SECONDS
        if time.monotonic() - self._last_watch_opened < HEALTHY_WATCH_SECONDS:
            self._watch_pause = min(longest, max(first, 2 * self._watch_pause))
            self._stopping.wait(self._watch_pause)
        else:
            self._watch_pause = 0.0
        self._last_watch_opened = time.monotonic()


class Informer(SharedInformer):
    """The official SharedInformer, over a ListWatch, with `has_synced()` and one-line error logs."""

    def __init__(self, resource: str, call: Callable[..., Any], label_selector: str | None = None, resync: int = 0):
        self._stopping = threading.Event()
        self.list_watch = ListWatch(resource, call, self._stopping)
        super().__init__(self.list_watch, label_selector=label_selector, resync_period=resync)
        self._synced = threading.Event()
        self.add_event_handler(ERROR, self._log_failure)

    @property
    def resource(self) -> str:
        return self.list_watch.resource

    def has_synced(self) -> bool:
        """True once the first complete list is in the cache (and its handlers have run)."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()  # wakes a watch backoff at once
        super().stop()

    def _initial_list(self) -> None:
        # Overrides SharedInformer's list step (also used for a re-list) to note when the cache is complete.
        super()._initial_list()
        self._synced.set()

    def _log_failure(self, error: object) -> None:
        if self._stopping.is_set():
            return
        if isinstance(error, ApiException) and error.status == 410:
            log.info("the watch of %s expired (410 Gone): listing again", self.resource)
        elif isinstance(error, BaseException):
            log.warning("list/watch of %s failed, retrying: %s", self.resource, explain(error))
        elif isinstance(error, dict):  # an ERROR event the watch did not turn into an exception: a Status object
            log.warning("watch of %s: %s", self.resource, error.get("message", error))
        else:
            log.warning("watch of %s: %s", self.resource, error)


class Informers:
    """The controller's four informers, started, synced and stopped together."""

    def __init__(self, sites: Informer, children: Mapping[str, Informer]) -> None:
        self.sites = sites
        self.children = children
        self._all = [sites, *children.values()]

    @property
    def caches(self) -> Caches:
        children = {kind: informer.cache for kind, informer in self.children.items()}
        return Caches(sites=self.sites.cache, children=children)

    def start(self) -> None:
        for informer in self._all:
            informer.start()

    def stop(self) -> None:
        for informer in self._all:
            informer.stop()

    def has_synced(self) -> bool:
        return all(informer.has_synced() for informer in self._all)

    def wait_for_sync(self, stop: threading.Event) -> bool:
        """Block until every cache is complete; False if `stop` was set first."""
        for informer in self._all:
            while not informer.wait_for_sync(timeout=1.0):
                if stop.is_set():
                    return False
        return True


def build_informers(api_client: client.ApiClient, namespace: str | None, enqueue: Callable[[str], None]) -> Informers:
    """The four informers (of one namespace, or all when None), with handlers that enqueue site keys."""
    calls = _list_calls(api_client, namespace)
    sites = Informer("staticsites", calls["StaticSite"], resync=RESYNC_PERIOD_SECONDS)
    for event_type in (ADDED, MODIFIED, DELETED):
        sites.add_event_handler(event_type, functools.partial(enqueue_site, enqueue))
    children = {kind: Informer(f"{kind.lower()}s", calls[kind], MANAGED_SELECTOR) for kind in CHILD_KINDS}
    for kind, informer in children.items():
        handler = ChildHandler(kind, enqueue, sites.cache)
        for event_type in (ADDED, MODIFIED, DELETED):
            informer.add_event_handler(event_type, functools.partial(handler.on_change, event_type))
    return Informers(sites, children)


def enqueue_site(enqueue: Callable[[str], None], site: Object) -> None:
    enqueue(object_key(site))


def is_dns_1123_subdomain(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 253 and _DNS_1123_SUBDOMAIN.fullmatch(name) is not None


def is_site_key(key: str) -> bool:
    """NAMESPACE/NAME where both are names the API server allows (a namespace: a DNS-1123 label)."""
    namespace, _, name = key.partition("/")
    return _DNS_1123_LABEL.fullmatch(namespace) is not None and is_dns_1123_subdomain(name)


def is_registry(kind: str, obj: Object) -> bool:
    """The namespace's registry: a ConfigMap labelled like a child, named so, and controlled by no site."""
    return kind == "ConfigMap" and obj["metadata"].get("name") == REGISTRY_NAME and owner_site_key(obj) is None


class ChildHandler:
    """What a change of a labelled ConfigMap, Deployment or Service enqueues.

    A child: the site that controls it, a change to a child being a reason to reconcile its site; and the
    site that controlled it before, when that changed (someone edited its ownerReferences): that site then sees
    at once that its child is gone or no longer its own (a ChildConflict), not at the next resync. The Python
    client's handlers get only the new object, so the handler remembers each child's site itself (Go's update
    handler gets the old object; controller-runtime's EnqueueRequestForOwner does the same). The registry: the
    sites whose key it lacks. Called by one informer's thread only, so its state needs no lock.
    """

    def __init__(self, kind: str, enqueue: Callable[[str], None], sites: Cache) -> None:
        self._kind = kind
        self._enqueue = enqueue
        self._sites = sites
        self._ignored: set[str] = set()  # objects already logged as ignored
        self._owners: dict[str, str] = {}  # child -> the key of the site controlling it, as last seen

    def on_change(self, event_type: str, obj: Object) -> None:
        if is_registry(self._kind, obj):
            self._enqueue_registry_sites(obj["metadata"]["namespace"], None if event_type == DELETED else obj)
            return
        key = owner_site_key(obj)
        if key is not None and not is_site_key(key):
            key = None
            self._ignore(event_type, obj, owner_site_key(obj) or "")
        else:
            self._ignored.discard(object_key(obj))
        self._enqueue_former_owner(event_type, obj, key)
        if key is not None:
            self._enqueue(key)

    def _enqueue_former_owner(self, event_type: str, obj: Object, key: str | None) -> None:
        before = self._owners.pop(object_key(obj), None)
        if key is not None and event_type != DELETED:
            self._owners[object_key(obj)] = key
        if before is not None and before != key:
            self._enqueue(before)

    def _ignore(self, event_type: str, obj: Object, key: str) -> None:
        """The object's controller is a "StaticSite" no one can create: no site's child. Logged once."""
        if event_type == DELETED:
            self._ignored.discard(object_key(obj))
        elif object_key(obj) not in self._ignored:
            self._ignored.add(object_key(obj))
            log.warning(
                "ignoring %s %s: its controller ownerReference names a StaticSite that cannot exist "
                "(%r is not a DNS-1123 subdomain)", self._kind, object_key(obj), key.partition("/")[2][:300],
            )  # fmt: skip

    def _enqueue_registry_sites(self, namespace: str, registry: Object | None) -> None:
        for name in sites_to_repair(registry, namespace, cached_site_names(self._sites, namespace)):
            self._enqueue(site_key(namespace, name))


def _list_calls(api_client: client.ApiClient, namespace: str | None) -> dict[str, Callable[..., Any]]:
    core, apps, custom = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    if namespace is None:
        return {
            "StaticSite": functools.partial(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL),
            "ConfigMap": core.list_config_map_for_all_namespaces,
            "Deployment": apps.list_deployment_for_all_namespaces,
            "Service": core.list_service_for_all_namespaces,
        }
    return {
        "StaticSite": functools.partial(custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL),
        "ConfigMap": functools.partial(core.list_namespaced_config_map, namespace),
        "Deployment": functools.partial(apps.list_namespaced_deployment, namespace),
        "Service": functools.partial(core.list_namespaced_service, namespace),
    }
