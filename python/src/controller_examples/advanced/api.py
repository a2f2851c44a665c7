"""Every request the reconciler makes, in one place: the verbs of shared-manifests/rbac/rbac.yaml, no more.

Reads mostly come from the informers' caches; what goes to the API server is listed here: a GET of a
child missing from the cache, server-side apply of children, merge patches of a site (its finalizers),
of its status subresource and of the registry ConfigMap, creating that ConfigMap, creating Events.
Nothing is ever deleted or updated (PUT): the controller's RBAC does not allow it.

Two choices about the official client:

- **Plain dicts, not models.** In kubernetes 37 every API method builds pydantic model objects from the
  response: slow for large objects, and a model round trip can drop fields it does not know. Passing
  `_preload_content=False` makes a method return the raw HTTP response instead, which we decode with
  `json`. The reconciler then works on exactly the JSON the API server sent, like the Go (unstructured)
  and Bash (jq) versions.
- **The typed methods, not the dynamic client.** `CoreV1Api.patch_namespaced_config_map` and friends
  name their endpoint as plainly as a URL does. The dynamic client would first fetch the API discovery
  documents and cache them in a file, which a read-only container cannot write.

Every request passes the *fence* first (`KubeApi(api_client, fence)`): once the leader election has set it
(the Lease lost, leader.py), no request starts, so a replica that may no longer lead writes nothing more.

Server-side apply is a PATCH with content type `application/apply-patch+yaml` (JSON is valid YAML, and
the client serializes a dict body as JSON for any `+yaml` type), a `fieldManager`, and `force=true`: the
controller takes over any field of its children someone else changed.
"""

import json
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException

from controller_examples.advanced.children import MANAGER_NAME
from controller_examples.advanced.site import GROUP, PLURAL, VERSION
from controller_examples.common.errors import causes, is_connection_failure, one_line, server_message

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = MANAGER_NAME

# Every request gets an answer or an error within this time, so a hung connection cannot hold a worker
# (and a graceful shutdown waiting for it) forever.
REQUEST_TIMEOUT_SECONDS = 20

Object = dict[str, Any]


class Fenced(RuntimeError):
    """A request refused before it started: this process has lost the Lease."""


class KubeApi:
    """The reconciler's requests to the API server; each returns the object the server answered with."""

    def __init__(self, api_client: client.ApiClient, fence: threading.Event | None = None) -> None:
        self._fence = fence or threading.Event()  # never set without leader election
        core = client.CoreV1Api(api_client)
        apps = client.AppsV1Api(api_client)
        self._core = core
        self._custom = client.CustomObjectsApi(api_client)
        self._read_child = {
            "ConfigMap": core.read_namespaced_config_map,
            "Deployment": apps.read_namespaced_deployment,
            "Service": core.read_namespaced_service,
        }
        self._patch_child = {
            "ConfigMap": core.patch_namespaced_config_map,
            "Deployment": apps.patch_namespaced_deployment,
            "Service": core.patch_namespaced_service,
        }

    def get(self, kind: str, namespace: str, name: str) -> Object | None:
        """GET a child by kind and name; None when it does not exist."""
        try:
            return self._call(self._read_child[kind], name, namespace)
        except ApiException as error:
            if is_not_found(error):
                return None
            raise

    def apply(self, obj: Object) -> Object:
        """Server-side apply a child: create it, or set exactly the fields it lists."""
        metadata = obj["metadata"]
        return self._call(
            self._patch_child[obj["kind"]],
            metadata["name"],
            metadata["namespace"],
            obj,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
        )

    def patch_site(self, namespace: str, name: str, patch: Object) -> Object:
        """JSON merge patch of a site (its metadata: the controller never writes a site's spec)."""
        return self._merge_patch_site(self._custom.patch_namespaced_custom_object, namespace, name, patch)

    def patch_site_status(self, namespace: str, name: str, patch: Object) -> Object:
        """JSON merge patch of a site's status subresource (a PATCH of the site itself ignores `status`)."""
        return self._merge_patch_site(self._custom.patch_namespaced_custom_object_status, namespace, name, patch)

    def _merge_patch_site(self, method: Callable[..., Any], namespace: str, name: str, patch: Object) -> Object:
        return self._call(method, GROUP, VERSION, namespace, PLURAL, name, patch, _content_type=MERGE_PATCH)

    def patch_config_map(self, namespace: str, name: str, patch: Object) -> Object:
        return self._call(self._core.patch_namespaced_config_map, name, namespace, patch, _content_type=MERGE_PATCH)

    def create_config_map(self, namespace: str, body: Object) -> Object:
        return self._call(self._core.create_namespaced_config_map, namespace, body)

    def create_event(self, namespace: str, body: Object) -> Object:
        return self._call(self._core.create_namespaced_event, namespace, body)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Object:
        """Call an API method for its raw response and decode it, unless fenced. Non-2xx raises ApiException."""
        if self._fence.is_set():
            raise Fenced("the Lease is lost: no more requests")
        return decode(method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS, **kwargs))


def is_not_found(error: BaseException) -> bool:
    return isinstance(error, ApiException) and error.status == 404


def explain(error: BaseException) -> str:
    """Why a request (or a reconcile) failed, in one line fit for a log."""
    if isinstance(error, ApiException) and error.status:
        return f"HTTP {error.status}: {server_message(error)}"
    if is_connection_failure(error):
        *_, root = causes(error)
        return f"cannot reach the API server: {one_line(root) or type(root).__name__}"
    return f"{type(error).__name__}: {one_line(error)}"


def decode(response: Any) -> Object:
    """The JSON body of a raw response (from a call with `_preload_content=False`), as a dict."""
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()
