"""Helpers shared by the tests: pods as the API server sends them, and polling with a deadline."""

import time
from typing import Any


def make_pod(
    name: str,
    namespace: str = "demo",
    *,
    resource_version: str = "1",
    phase: str | None = "Running",
    node: str | None = "kwok-node-0",
    containers: tuple[tuple[str, str], ...] = (("app", "nginx:1.27"),),
    ready: tuple[bool, ...] | None = None,
    restarts: tuple[int, ...] | None = None,
    created: str | None = "2025-01-01T00:00:00Z",
) -> dict[str, Any]:
    """A pod object (decoded JSON), with a status entry per container unless told otherwise."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "resourceVersion": resource_version}
    if created is not None:
        metadata["creationTimestamp"] = created
    spec: dict[str, Any] = {"containers": [{"name": n, "image": image} for n, image in containers]}
    if node is not None:
        spec["nodeName"] = node
    ready = ready if ready is not None else tuple(True for _ in containers)
    restarts = restarts if restarts is not None else tuple(0 for _ in containers)
    statuses = [
        {"name": n, "ready": r, "restartCount": c} for (n, _), r, c in zip(containers, ready, restarts, strict=True)
    ]
    status: dict[str, Any] = {"containerStatuses": statuses}
    if phase is not None:
        status["phase"] = phase
    return {"metadata": metadata, "spec": spec, "status": status}


def wait_until(check, what, timeout=10.0):
    """Poll `check` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
