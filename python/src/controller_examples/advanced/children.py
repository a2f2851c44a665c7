"""The objects a StaticSite owns, as the controller wants them, and how to tell whether they drifted.

A controller never edits its children field by field. It renders the *desired* object from the site alone
(a pure function: same site, same object), compares it with what the cluster has, and when they differ
sends the whole desired object with server-side apply. The API server merges it: the fields listed are
set and owned by our field manager, every other field (defaults, status, other managers' fields) is kept.

Each site NAME owns a ConfigMap `NAME-content` (its files), a Deployment `NAME` (nginx serving them) and a
Service `NAME`. All three carry the same labels, and one ownerReference marking the site as their
*controller*: garbage collection deletes them with the site, and their events lead back to it.
"""

import hashlib
from typing import Any

from controller_examples.advanced.site import (
    API_VERSION,
    APP_NAME,
    INSTANCE_LABEL,
    KIND,
    MANAGED_BY_LABEL,
    MANAGER_NAME,
    NAME_LABEL,
    Object,
    site_key,
)

CONTENT_HASH_ANNOTATION = "sites.example.com/content-hash"
WEB_ROOT = "/usr/share/nginx/html"
HTTP_PORT = 80

# The order children are rendered, applied, and checked for conflicts in.
CHILD_KINDS = ("ConfigMap", "Deployment", "Service")

# The most a ConfigMap holds: its keys and values together, in UTF-8 bytes (the API server's limit, 1 MiB).
CONFIG_MAP_MAX_BYTES = 1048576


def content_hash(content: dict[str, str]) -> str:
    """SHA-256 (lowercase hex) of `name NUL body NUL` for each file, in byte order of the names.

    The hash goes into the pod template, so a content change changes the template and the Deployment rolls
    its pods (nginx serves the files from a mounted ConfigMap, but a restart is the simple way to be sure
    every pod serves the new version). NUL separators keep {"ab": "c"} and {"a": "bc"} apart.
    """
    digest = hashlib.sha256()
    for name in sorted(content, key=lambda name: name.encode()):
        digest.update(name.encode() + b"\0" + content[name].encode() + b"\0")
    return digest.hexdigest()


def content_size(content: dict[str, str]) -> int:
    """The bytes the content takes in a ConfigMap: every name and body, in UTF-8 (what the API server counts)."""
    return sum(len(name.encode()) + len(body.encode()) for name, body in content.items())


def child_name(kind: str, site_name: str) -> str:
    return f"{site_name}-content" if kind == "ConfigMap" else site_name


def selector_labels(site_name: str) -> dict[str, str]:
    """The labels that select the site's pods (a Deployment's selector can never change: keep it minimal)."""
    return {NAME_LABEL: APP_NAME, INSTANCE_LABEL: site_name}


def child_labels(site_name: str) -> dict[str, str]:
    return {**selector_labels(site_name), MANAGED_BY_LABEL: MANAGER_NAME}


def owner_reference(site: Object) -> Object:
    metadata = site["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def desired_children(site: Object) -> list[Object]:
    """The three children of the site, in CHILD_KINDS order, as server-side apply bodies."""
    return [desired_config_map(site), desired_deployment(site), desired_service(site)]


def desired_config_map(site: Object) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _child_metadata(site, "ConfigMap"),
        "data": dict(site["spec"]["content"]),
    }


def desired_deployment(site: Object) -> Object:
    name = site["metadata"]["name"]
    spec = site["spec"]  # replicas and image are always there: the API server applies the CRD's defaults
    container = {
        "name": "web",
        "image": spec["image"],
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "volumeMounts": [{"name": "content", "mountPath": WEB_ROOT, "readOnly": True}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _child_metadata(site, "Deployment"),
        "spec": {
            "replicas": spec["replicas"],
            "selector": {"matchLabels": selector_labels(name)},
            "template": {
                "metadata": {
                    "labels": child_labels(name),
                    "annotations": {CONTENT_HASH_ANNOTATION: content_hash(spec["content"])},
                },
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "content", "configMap": {"name": child_name("ConfigMap", name)}}],
                },
            },
        },
    }


def desired_service(site: Object) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _child_metadata(site, "Service"),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(site["metadata"]["name"]),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT, "protocol": "TCP"}],
        },
    }


def _child_metadata(site: Object, kind: str) -> Object:
    metadata = site["metadata"]
    return {
        "name": child_name(kind, metadata["name"]),
        "namespace": metadata["namespace"],
        "labels": child_labels(metadata["name"]),
        "ownerReferences": [owner_reference(site)],
    }


def controller_reference(obj: Object) -> Object | None:
    """The ownerReference with `controller: true`, if any (an object has at most one controller)."""
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((reference for reference in references if reference.get("controller") is True), None)


def is_controlled_by(obj: Object, site: Object) -> bool:
    """True when the object's controller is this very site (same uid: a recreated site is another site)."""
    # exercise: conflict begin
    reference = controller_reference(obj)
    return reference is not None and reference.get("uid") == site["metadata"]["uid"]
    # exercise: conflict end


def owner_site_key(obj: Object) -> str | None:
    """The key of the StaticSite controlling this object, or None when a StaticSite does not control it."""
    reference = controller_reference(obj)
    if reference is None or reference.get("kind") != KIND or reference.get("apiVersion") != API_VERSION:
        return None
    return site_key(obj["metadata"]["namespace"], reference["name"])


def first_conflict(site: Object, children: dict[str, Object | None]) -> tuple[str, str] | None:
    """(kind, name) of the first existing child, in CHILD_KINDS order, that this site does not control."""
    for kind in CHILD_KINDS:
        child = children[kind]
        if child is not None and not is_controlled_by(child, site):
            return kind, child["metadata"]["name"]
    return None


def needs_apply(desired: Object, actual: Object | None) -> bool:
    """True when the child is missing or a field the controller sets differs in the actual object.

    Only the desired fields are compared; what the API server or another manager added is ignored (a
    Deployment gets dozens of defaulted fields and a status). Two refinements of "is a subset of":
    - a list matches when each desired item matches some actual item: the lists we set (containers,
      ports, volumes, ownerReferences) are keyed lists to server-side apply, where others may add items;
    - the ConfigMap's `data` must be equal, not a superset: a file removed from `spec.content` must be
      removed from the ConfigMap, and it is the one field whose set of keys follows the spec.
    `apiVersion` and `kind` name the object, they are not its state: the items of a list answer carry
    neither (the informer's first list fills the cache with such items, and a restarted controller would
    find every child "drifted"), and a child's cache holds one kind only.
    """
    # exercise: compare-before-write begin
    if actual is None:
        return True
    if desired["kind"] == "ConfigMap" and desired["data"] != actual.get("data", {}):
        return True
    state = {field: value for field, value in desired.items() if field not in ("apiVersion", "kind")}
    return not _contains(actual, state)
    # exercise: compare-before-write end


def _contains(actual: Any, desired: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(actual[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return isinstance(actual, list) and all(
            any(_contains(candidate, item) for candidate in actual) for item in desired
        )
    return bool(actual == desired)


def resource_version(obj: Object) -> int:
    """The object's resourceVersion as a number. Versions of one resource are comparable integers since
    Kubernetes 1.35 (KEP-5504, "Comparable Resource Version"): the larger is the later state."""
    return int(obj["metadata"]["resourceVersion"])


class LastApplied:
    """What our last apply of each child returned, until the child's cache has caught up with it.

    The informer's cache lags behind our own writes: a reconcile that runs right after an apply (the
    Deployment's status changed, say) may still find the child as it was *before* that apply, and judge
    it drifted. Asking the API server for the live object costs a GET per child per update; instead the
    apply's answer is kept, and a child is judged on whichever is later, the cached object or that answer
    (`fresher`). An object newer than our apply (someone edited it since) comes through the watch, so the
    cache then wins. Entries go as soon as the cache has caught up, so this holds only writes in flight.
    Workers reconcile different sites, so they touch different keys; each step is one dict operation.
    """

    def __init__(self) -> None:
        self._objects: dict[str, Object] = {}

    def remember(self, kind: str, applied: Object) -> None:
        self._objects[_child_key(kind, applied)] = applied

    def fresher(self, kind: str, cached: Object) -> Object:
        """The cached object, or our last apply's answer when the cache has not seen it yet."""
        key = _child_key(kind, cached)
        applied = self._objects.get(key)
        if applied is None:
            return cached
        if resource_version(cached) >= resource_version(applied):
            self._objects.pop(key, None)
            return cached
        return applied

    def forget_site(self, namespace: str, site_name: str) -> None:
        """The site is finalized: its children go with it (garbage collection)."""
        for kind in CHILD_KINDS:
            self._objects.pop(f"{kind}/{namespace}/{child_name(kind, site_name)}", None)


def _child_key(kind: str, obj: Object) -> str:
    # Not from obj["kind"]: the items of a list answer (the informer's first list) carry no kind.
    return f"{kind}/{obj['metadata']['namespace']}/{obj['metadata']['name']}"
