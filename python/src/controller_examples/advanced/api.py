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
  and Bash (jq) versions. An answer the controller has no use for (the registry after a patch, about
  90 KB with a thousand sites; a created registry or Event) is not even decoded: `discard` drains it from
  the socket and hands the connection back.
- **The typed methods, not the dynamic client.** `CoreV1Api.patch_namespaced_config_map` and friends
  name their endpoint as plainly as a URL does. The dynamic client would first fetch the API discovery
  documents and cache them in a file, which a read-only container cannot write.

Every request passes the *fence* first (`KubeApi(api_client, fence)`): once the leader election has set it
(the Lease lost, leader.py), no request starts, so a replica that may no longer lead writes nothing more.

Server-side apply is a PATCH with content type `application/apply-patch+yaml`, a `fieldManager`, and
`force=true`: the controller takes over any field of its children someone else changed. The body is
JSON, which is YAML, nearly: see `apply_body` for the one difference that matters, and why `apply` builds
its request with the client's `param_serialize` and `call_api` instead of a typed `patch_*` method.
"""

import json
import re
import threading
from collections.abc import Callable
from typing import Any, cast

from kubernetes import client
from kubernetes.client import ApiException

from controller_examples.advanced.site import FIELD_MANAGER, GROUP, PLURAL, VERSION, Object
from controller_examples.common.errors import causes, is_connection_failure, one_line, server_message

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"

# Where server-side apply PATCHes each kind of child (the paths the typed patch_namespaced_* methods use).
APPLY_PATHS = {
    "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps/{name}",
    "Deployment": "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    "Service": "/api/v1/namespaces/{namespace}/services/{name}",
}

# Every request gets an answer or an error within this time, so a hung connection cannot hold a worker
# (and a graceful shutdown waiting for it) forever.
REQUEST_TIMEOUT_SECONDS = 20
# An event is written by a background thread (events.py), one at a time: a hung request would hold every
# event behind it, so it gets less.
EVENT_TIMEOUT_SECONDS = 5


class Fenced(RuntimeError):
    """A request refused before it started: this process has lost the Lease."""


class KubeApi:
    """The reconciler's requests to the API server; each returns the object the server answered with."""

    def __init__(self, api_client: client.ApiClient, fence: threading.Event | None = None) -> None:
        self._fence = fence or threading.Event()  # never set without leader election
        core = client.CoreV1Api(api_client)
        apps = client.AppsV1Api(api_client)
        self._api_client = api_client
        self._core = core
        self._custom = client.CustomObjectsApi(api_client)
        self._read_child = {
            "ConfigMap": core.read_namespaced_config_map,
            "Deployment": apps.read_namespaced_deployment,
            "Service": core.read_namespaced_service,
        }

    def get(self, kind: str, namespace: str, name: str) -> Object | None:
        """GET a child by kind and name; None when it does not exist."""
        try:
            return decode(self._send(self._read_child[kind], name, namespace))
        except ApiException as error:
            if is_not_found(error):
                return None
            raise

    def apply(self, obj: Object) -> Object:
        """Server-side apply a child: create it, or set exactly the fields it lists.

        Written with the client's request builder rather than `patch_namespaced_config_map` and friends:
        those accept only a dict body and serialize it with `json.dumps`, whose escapes the API server's
        YAML parser refuses for characters beyond U+FFFF (see `apply_body`). This is the one request the
        typed methods cannot send as it must be.
        """
        self._check_fence()
        metadata = obj["metadata"]
        request = self._api_client.param_serialize(
            method="PATCH",
            resource_path=APPLY_PATHS[obj["kind"]],
            path_params={"namespace": metadata["namespace"], "name": metadata["name"]},
            query_params=[("fieldManager", FIELD_MANAGER), ("force", True)],
            header_params={"Content-Type": APPLY_PATCH, "Accept": "application/json"},
            body=apply_body(obj),
            auth_settings=["BearerToken"],
        )
        response = self._api_client.call_api(*request, _request_timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            response.read()
            if not 200 <= response.status <= 299:
                raise ApiException.from_response(http_resp=response, body=None, data=None)
            applied: Object = json.loads(cast(bytes, response.data))  # set by read()
            return applied
        finally:
            response.response.release_conn()

    def patch_site(self, namespace: str, name: str, patch: Object) -> Object:
        """JSON merge patch of a site (its metadata: the controller never writes a site's spec)."""
        method = self._custom.patch_namespaced_custom_object
        return decode(self._send(method, GROUP, VERSION, namespace, PLURAL, name, patch, _content_type=MERGE_PATCH))

    def patch_site_status(self, namespace: str, name: str, patch: Object) -> Object:
        """JSON merge patch of a site's status subresource (a PATCH of the site itself ignores `status`)."""
        method = self._custom.patch_namespaced_custom_object_status
        return decode(self._send(method, GROUP, VERSION, namespace, PLURAL, name, patch, _content_type=MERGE_PATCH))

    def patch_config_map(self, namespace: str, name: str, patch: Object) -> None:
        discard(self._send(self._core.patch_namespaced_config_map, name, namespace, patch, _content_type=MERGE_PATCH))

    def create_config_map(self, namespace: str, body: Object) -> None:
        discard(self._send(self._core.create_namespaced_config_map, namespace, body))

    def create_event(self, namespace: str, body: Object) -> None:
        discard(self._send(self._core.create_namespaced_event, namespace, body, timeout=EVENT_TIMEOUT_SECONDS))

    def _send(
        self, method: Callable[..., Any], *args: Any, timeout: float = REQUEST_TIMEOUT_SECONDS, **kwargs: Any
    ) -> Any:
        """Call an API method for its raw, unread response, unless fenced. Non-2xx raises ApiException."""
        self._check_fence()
        return method(*args, _preload_content=False, _request_timeout=timeout, **kwargs)

    def _check_fence(self) -> None:
        if self._fence.is_set():
            raise Fenced("the Lease is lost: no more requests")


# DEL and every character from U+0080 to U+FFFF: apply_body escapes them, as ensure_ascii does.
_ESCAPED = re.compile("[\u007f-\uffff]")


def apply_body(obj: Object) -> bytes:
    """The server-side apply body: JSON, with every character the API server's YAML parser reads back exactly.

    The apply content type is YAML (Kubernetes has no JSON apply content type), so the API server parses the body
    with a YAML parser, and JSON is YAML except in two ways that matter here:
    - `json.dumps` (ensure_ascii, the client's default) writes a character beyond U+FFFF, an emoji like
      U+1F600, as a UTF-16 surrogate pair `\\ud83d\\ude00`. YAML's `\\u` escapes are code points, not
      UTF-16: a surrogate is no character, so the API server answers 400 "found invalid Unicode character
      escape code", on every retry.
    - Raw, with `ensure_ascii=False`, YAML refuses other characters (DEL, the C1 controls, U+FFFE) and reads
      U+0085 as a line break, which a double-quoted scalar folds into a space: the file silently changes.
    So: DEL and every character from U+0080 to U+FFFF escaped as `\\uXXXX` (exactly ensure_ascii's escapes,
    which YAML decodes to the same code point), and every character beyond U+FFFF raw, in UTF-8 (which YAML
    accepts as it is). The result is still valid JSON. (Go's client and kubectl write everything raw:
    the CRD refuses the characters YAML would refuse or fold, so no language meets them.)
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _ESCAPED.sub(lambda match: f"\\u{ord(match[0]):04x}", text).encode()


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
        body: Object = json.loads(response.data)
        return body
    finally:
        response.release_conn()


def discard(response: Any) -> None:
    """Read a raw response's body off the connection unseen, and hand the connection back to the pool."""
    response.drain_conn()
    response.release_conn()
