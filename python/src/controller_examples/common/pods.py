"""Pods as small records, listed page by page.

A pod object is large (spec, status, managed fields: often several kilobytes), and a cluster can have tens
of thousands of them. Both programs only need a few fields per pod, so they keep a `PodRecord` and drop
the object as soon as it has been read.

Listing uses the API's pagination: each request asks for at most `PAGE_SIZE` pods (`limit`) and the
response carries a `continue` token for the next page, until a page comes back without one. All the pages
come from one consistent snapshot of the cluster, whose `resourceVersion` is the point a watch can start
from without missing or repeating a change.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import urllib3
from kubernetes import client

PAGE_SIZE = 500

# How long a request may wait: (to connect, TCP and TLS; for each read of the answer), in seconds. Without a
# bound, a server that accepts the connection and never answers would hang the program forever. A watch
# passes its own, longer read timeout (see watch_pods.py): the server stays silent between events.
REQUEST_TIMEOUT = (10, 30)


@dataclass(frozen=True, slots=True)
class PodRecord:
    """The fields of a pod that list-pods and watch-pods print (conformance/CONTRACT.md)."""

    namespace: str
    name: str
    phase: str  # status.phase, "" when absent
    node: str  # spec.nodeName, "" when not scheduled
    ready: str  # "R/T": ready containers / containers in the spec
    restarts: int  # restarts of the spec's containers (init containers not counted)
    containers: tuple[str, ...]  # spec.containers names, in spec order
    images: tuple[str, ...]  # their images, in the same order
    created: str  # metadata.creationTimestamp, RFC 3339, "" when absent
    resource_version: str  # metadata.resourceVersion: changes with every change to the pod

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a pod, and the order pods are printed in: namespace, then name."""
        # Python compares strings by code point, which for UTF-8 text is the same as byte order.
        return (self.namespace, self.name)


def pod_record(pod: dict[str, Any]) -> PodRecord:
    """Read a PodRecord from a pod as the API server sends it (JSON decoded to dicts and lists).

    Init containers appear in neither spec.containers nor status.containerStatuses (they have their own
    lists), so they count in neither READY nor RESTARTS, as the contract asks.
    """
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for container_status in statuses if container_status.get("ready") is True)
    return PodRecord(
        namespace=metadata.get("namespace", ""),
        name=metadata.get("name", ""),
        phase=status.get("phase") or "",
        node=spec.get("nodeName") or "",
        ready=f"{ready}/{len(containers)}",
        restarts=sum(container_status.get("restartCount") or 0 for container_status in statuses),
        containers=tuple(container.get("name", "") for container in containers),
        images=tuple(container.get("image", "") for container in containers),
        created=metadata.get("creationTimestamp") or "",
        resource_version=metadata.get("resourceVersion", ""),
    )


@dataclass(frozen=True)
class PodQuery:
    """Which pods to ask for: those of one namespace (all namespaces when None) matching a selector."""

    api: client.CoreV1Api
    namespace: str | None
    selector: str | None

    def request(self, timeout: tuple[float, float] = REQUEST_TIMEOUT, **params: Any) -> urllib3.HTTPResponse:
        """Send a list request (a watch, with watch=True) and return the response unread.

        `_preload_content=False` is the official client's way to get the raw HTTP response instead of
        model objects. Its V1Pod models are heavy: every field of every nested object becomes a Python
        object, and we would build them only to read ten fields. We decode the JSON ourselves instead.
        A status other than 2xx still raises ApiException. `timeout` is (connect, read) in seconds.
        """
        params.update(label_selector=self.selector, _preload_content=False, _request_timeout=timeout)
        # The client's annotations name the model it returns by default, not this raw response.
        if self.namespace is None:
            return cast(urllib3.HTTPResponse, self.api.list_pod_for_all_namespaces(**params))
        return cast(urllib3.HTTPResponse, self.api.list_namespaced_pod(self.namespace, **params))


@dataclass(frozen=True)
class PodListing:
    """The result of a complete list: the pods, sorted by namespace then name, and the snapshot's version."""

    pods: list[PodRecord]
    resource_version: str


def list_pods(query: PodQuery) -> PodListing:
    """List the pods page by page, keeping only a PodRecord of each."""
    pods: list[PodRecord] = []
    resource_version = ""
    for page in pages(query):
        pods.extend(pod_record(item) for item in page.get("items") or [])
        resource_version = (page.get("metadata") or {}).get("resourceVersion", "")
    pods.sort(key=lambda pod: pod.key)
    return PodListing(pods=pods, resource_version=resource_version)


def pages(query: PodQuery) -> Iterator[dict[str, Any]]:
    """Yield each page of the list (a decoded PodList), following the continue tokens."""
    # exercise: pagination begin
    token = None
    while True:
        response = query.request(limit=PAGE_SIZE, _continue=token)
        try:
            page = json.loads(response.data)
        finally:
            response.release_conn()
        yield page
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return
    # exercise: pagination end
