"""Test doubles for the StaticSite controller: an in-memory cluster that is both the API and the caches."""

import copy
import itertools
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from kubernetes.client import ApiException

from controller_examples.advanced.informer import Caches
from controller_examples.advanced.site import API_VERSION, KIND, MANAGED_BY_LABEL, Object


def make_site(
    name: str = "hello",
    namespace: str = "demo",
    *,
    replicas: int = 2,
    content: dict[str, str] | None = None,
    uid: str = "uid-1",
    generation: int = 1,
    finalizers: list[str] | None = None,
    deleting: bool = False,
    status: Object | None = None,
) -> Object:
    """A StaticSite as the API server returns it (defaults applied)."""
    metadata: Object = {
        "name": name,
        "namespace": namespace,
        "uid": uid,
        "generation": generation,
        "resourceVersion": "1",
    }
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    site: Object = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {"replicas": replicas, "image": "nginx:1.27.3", "content": content or {"index.html": "<h1>hi</h1>"}},
    }
    if status is not None:
        site["status"] = status
    return site


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, without modifying `target`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def api_error(status: int) -> ApiException:
    return ApiException(status=status, reason="fake")


class FakeCluster:
    """Objects by (kind, namespace, name), the KubeApi methods over them, and a log of every request.

    Each write stores a *new* dict, so an object handed out by a cache is never changed behind a test's back.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Object] = {}
        self.requests: list[tuple[str, ...]] = []  # (verb, kind, name)
        self.events: list[Object] = []
        self.fail_events = False
        self.stale: dict[tuple[str, str, str], Object] = {}  # what the caches show instead, while they lag
        self._versions = itertools.count(100)

    # ----- test set-up ---------------------------------------------------------------------------------
    def put(self, obj: Object) -> Object:
        metadata = obj["metadata"]
        self.objects[(obj["kind"], metadata["namespace"], metadata["name"])] = obj
        return obj

    def find(self, kind: str, namespace: str, name: str) -> Object | None:
        return self.objects.get((kind, namespace, name))

    @property
    def caches(self) -> Caches:
        kinds = ("ConfigMap", "Deployment", "Service")
        return Caches(
            sites=FakeCache(self, KIND), children={kind: FakeCache(self, kind, managed_only=True) for kind in kinds}
        )

    def writes(self) -> list[tuple[str, ...]]:
        return [request for request in self.requests if request[0] != "get"]

    # ----- KubeApi -------------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> Object | None:
        self.requests.append(("get", kind, name))
        return copy.deepcopy(self.find(kind, namespace, name))

    def apply(self, obj: Object) -> Object:
        metadata = obj["metadata"]
        self.requests.append(("apply", obj["kind"], metadata["name"]))
        existing = self.find(obj["kind"], metadata["namespace"], metadata["name"])
        applied = merge_patch(existing or {"metadata": {"uid": f"uid-{metadata['name']}"}}, obj)
        if "data" in obj:  # the fields we own: a key we no longer send is removed
            applied["data"] = copy.deepcopy(obj["data"])
        return self._store(applied)

    def patch_site(self, namespace: str, name: str, patch: Object) -> Object:
        self.requests.append(("patch", KIND, name))
        site = self._existing(KIND, namespace, name)
        expected = patch.get("metadata", {}).get("resourceVersion")
        if expected is not None and expected != site["metadata"]["resourceVersion"]:
            raise api_error(409)
        return self._store(merge_patch(site, patch))

    def patch_site_status(self, namespace: str, name: str, patch: Object) -> Object:
        self.requests.append(("patch-status", KIND, name))
        site = self._existing(KIND, namespace, name)
        return self._store(merge_patch(site, {"status": patch["status"]}))

    def patch_config_map(self, namespace: str, name: str, patch: Object) -> Object:
        self.requests.append(("patch", "ConfigMap", name))
        return self._store(merge_patch(self._existing("ConfigMap", namespace, name), patch))

    def create_config_map(self, namespace: str, body: Object) -> Object:
        self.requests.append(("create", "ConfigMap", body["metadata"]["name"]))
        if self.find("ConfigMap", namespace, body["metadata"]["name"]) is not None:
            raise api_error(409)
        return self._store(copy.deepcopy(body))

    def create_event(self, namespace: str, body: Object) -> Object:
        self.requests.append(("create", "Event", body["reason"]))
        if self.fail_events:
            raise api_error(403)
        self.events.append(body)
        return body

    def _existing(self, kind: str, namespace: str, name: str) -> Object:
        obj = self.find(kind, namespace, name)
        if obj is None:
            raise api_error(404)
        return obj

    def _store(self, obj: Object) -> Object:
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        self.put(obj)
        return copy.deepcopy(obj)


class FakeCache:
    """An informer cache over the fake cluster: hands out the stored objects themselves, as the real one does."""

    def __init__(self, cluster: FakeCluster, kind: str, managed_only: bool = False) -> None:
        self._cluster = cluster
        self._kind = kind
        self._managed_only = managed_only

    def get_by_key(self, key: str) -> Object | None:
        namespace, _, name = key.partition("/")
        stale = self._cluster.stale.get((self._kind, namespace, name))
        obj = stale if stale is not None else self._cluster.find(self._kind, namespace, name)
        if obj is None or (self._managed_only and MANAGED_BY_LABEL not in obj["metadata"].get("labels", {})):
            return None
        return obj

    def list_keys(self) -> list[str]:
        return [f"{namespace}/{name}" for kind, namespace, name in self._cluster.objects if kind == self._kind]


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread: the requests a reconciler sends "at the same
    time" then reach the fake cluster in a fixed order (the order they were submitted in)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future
