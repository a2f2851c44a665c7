"""Normalized snapshots of what a controller leaves in the cluster.

A snapshot keeps what the spec fixes and drops what differs run to run
(uids, timestamps, resourceVersions, the Service's allocated IP, the
namespace's random name), so the reference's snapshot can be checked in as a
golden file and every language compared with it field by field.
"""

from __future__ import annotations

import json
from pathlib import Path

from controllers import GROUP, PLURAL, REGISTRY, VERSION, custom
from kubernetes import client

GOLDEN_DIR = Path(__file__).parent / "golden" / "advanced"
NAMESPACE_PLACEHOLDER = "NAMESPACE"


# Written by the API server's own controllers, and racy: the Deployment's
# revision counts the rollouts that happened to start before a repair.
SERVER_ANNOTATIONS = {"deployment.kubernetes.io/revision"}


def _metadata(obj: dict) -> dict:
    meta = obj["metadata"]
    return {
        "name": meta["name"],
        "labels": meta.get("labels") or {},
        "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS},
        "ownerReferences": [{k: v for k, v in ref.items() if k != "uid"} for ref in meta.get("ownerReferences") or []],
    }


def _read(api, kind: str, namespace: str, name: str) -> dict | None:
    readers = {
        "ConfigMap": client.CoreV1Api(api).read_namespaced_config_map,
        "Service": client.CoreV1Api(api).read_namespaced_service,
        "Deployment": client.AppsV1Api(api).read_namespaced_deployment,
    }
    try:
        return api.sanitize_for_serialization(readers[kind](name, namespace))
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def _child(api, kind: str, namespace: str, name: str) -> dict | None:
    obj = _read(api, kind, namespace, name)
    if obj is None:
        return None
    snapshot = _metadata(obj)
    if kind == "ConfigMap":
        snapshot["data"] = obj.get("data") or {}
    elif kind == "Service":
        spec = dict(obj["spec"])
        for allocated in ("clusterIP", "clusterIPs"):
            spec.pop(allocated, None)
        snapshot["spec"] = spec
    else:
        snapshot["spec"] = obj["spec"]
    return snapshot


def _site(site: dict) -> dict:
    status = dict(site.get("status") or {})
    status["conditions"] = [
        {k: v for k, v in condition.items() if k != "lastTransitionTime"} for condition in status.get("conditions", [])
    ]
    return {
        "name": site["metadata"]["name"],
        "finalizers": site["metadata"].get("finalizers") or [],
        "spec": site["spec"],
        "status": status,
    }


def _events(api, namespace: str, name: str) -> list[list[str]]:
    """The site's events as (type, reason, message, source component), each once.

    The message and the component are the SPEC's as much as the reason: a
    language that wrote "applied" without naming the children, or under
    another component's name, differs here. How many times an event was
    written (its count, or duplicates) depends on timing and is not compared.
    """
    events = (
        client.CoreV1Api(api)
        .list_namespaced_event(namespace, field_selector=f"involvedObject.kind=StaticSite,involvedObject.name={name}")
        .items
    )
    return sorted({(e.type, e.reason, message, _component(e)) for e in events for message in _messages(e)})


def _messages(event) -> list[str]:
    """A Synced event's message per child it names ("applied ConfigMap a-content, Service a" -> two).

    Which repairs share one reconcile, and so one event, depends on timing (a deleted ConfigMap and Service
    may be seen together or one by one); which children were applied, and how each is named, does not.
    """
    prefix = "applied "
    if event.reason == "Synced" and (event.message or "").startswith(prefix):
        return [prefix + child for child in event.message.removeprefix(prefix).split(", ")]
    return [event.message]


def _component(event) -> str:
    return (event.source.component if event.source else None) or event.reporting_component or ""


def snapshot(api, namespace: str, names: list[str], events: bool = True) -> dict:
    """The normalized state of ``names`` (sites) and the namespace's registry (and the sites' events)."""
    sites = {}
    for name in names:
        site = custom(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        sites[name] = {
            "site": _site(site),
            "configMap": _child(api, "ConfigMap", namespace, f"{name}-content"),
            "deployment": _child(api, "Deployment", namespace, name),
            "service": _child(api, "Service", namespace, name),
        }
        if events:
            sites[name]["events"] = [list(event) for event in _events(api, namespace, name)]
    registry = _read(api, "ConfigMap", namespace, REGISTRY)
    state = {"sites": sites, "registry": (registry or {}).get("data") if registry else None}
    # The namespace's name is random per test: make it a placeholder.
    return json.loads(json.dumps(state).replace(namespace, NAMESPACE_PLACEHOLDER))


def golden_path(scenario: str) -> Path:
    return GOLDEN_DIR / f"{scenario}.json"


def write_golden(scenario: str, snapshots: dict) -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    golden_path(scenario).write_text(json.dumps(snapshots, indent=1, sort_keys=True) + "\n")


def read_golden(scenario: str) -> dict | None:
    path = golden_path(scenario)
    return json.loads(path.read_text()) if path.exists() else None
