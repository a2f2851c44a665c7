"""Events: the controller's notes on a site, shown by `kubectl describe staticsite NAME`.

An Event (core/v1) is an object of its own that points at the site (`involvedObject`). Events are for
people, not for the controller's logic, so writing one is best effort: a failure (say the namespace is
terminating and refuses new objects) is logged and ignored, never an error of the reconcile.

The reconciler records an event when it changed something (applied children, or moved the Ready condition
to a problem), not at every pass: a reconcile that finds everything in order writes nothing, events
included, and a conflict retried with backoff does not pile up one Event per retry. (client-go's recorder
solves the second problem differently, by patching a `count` on repeats.)
"""

import logging
import time
from typing import Any

from controller_examples.advanced.api import KubeApi, explain
from controller_examples.advanced.children import MANAGER_NAME
from controller_examples.advanced.site import API_VERSION, KIND, object_key

NORMAL = "Normal"
WARNING = "Warning"

# Event reasons.
SYNCED = "Synced"
CHILD_CONFLICT = "ChildConflict"
INVALID_SPEC = "InvalidSpec"

log = logging.getLogger(__name__)

Object = dict[str, Any]


class EventRecorder:
    """Writes core/v1 Events about sites; never raises."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api

    def record(self, site: Object, event_type: str, reason: str, message: str) -> None:
        try:
            self._api.create_event(site["metadata"]["namespace"], event_for(site, event_type, reason, message))
        except Exception as error:
            log.warning("cannot record event %s on %s: %s", reason, object_key(site), explain(error))


def event_for(site: Object, event_type: str, reason: str, message: str) -> Object:
    metadata = site["metadata"]
    now = time.time_ns()
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now // 1_000_000_000))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        # client-go's naming: the object's name and a unique suffix (the time in nanoseconds, in hex).
        "metadata": {"name": f"{metadata['name']}.{now:x}", "namespace": metadata["namespace"]},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "namespace": metadata["namespace"],
            "name": metadata["name"],
            "uid": metadata["uid"],
            "resourceVersion": metadata["resourceVersion"],
        },
        "type": event_type,
        "reason": reason,
        "message": message,
        "source": {"component": MANAGER_NAME},
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }
