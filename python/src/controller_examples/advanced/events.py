"""Events: the controller's notes on a site, shown by `kubectl describe staticsite NAME`.

An Event (core/v1) is an object of its own that points at the site (`involvedObject`). Events are for
people, not for the controller's logic, so writing one is best effort: a failure (say the namespace is
terminating and refuses new objects) is logged and ignored, never an error of the reconcile. Nor may a
slow events API slow the reconciles down: the manager records through a `BackgroundEventRecorder`, which
hands each event to a thread of its own and returns at once (client-go's recorder works the same way).

The reconciler records an event when it changed something (applied children, or moved the Ready condition
to a problem), not at every pass: a reconcile that finds everything in order writes nothing, events
included, and a conflict retried with backoff does not pile up one Event per retry. (client-go's recorder
solves the second problem differently, by patching a `count` on repeats.)
"""

import logging
import queue
import threading
import time
from typing import Protocol

from controller_examples.advanced.api import KubeApi, explain
from controller_examples.advanced.site import API_VERSION, KIND, MANAGER_NAME, Object, object_key, site_key
from controller_examples.advanced.site import SYNCED as SYNCED  # re-exported: the bench's floor names it here

# Event types; the reasons are the site's vocabulary (site.py: SYNCED, and the condition's reasons).
NORMAL = "Normal"
WARNING = "Warning"

# How many events may wait for the background writer; more are dropped (with a log line), not queued
# without bound while the events API is down.
EVENT_QUEUE_CAPACITY = 100

log = logging.getLogger(__name__)


class Recorder(Protocol):
    def record(self, site: Object, event_type: str, reason: str, message: str) -> None: ...


class EventRecorder:
    """Writes core/v1 Events about sites, one request each, in the caller's thread; never raises."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api

    def record(self, site: Object, event_type: str, reason: str, message: str) -> None:
        self.write(event_for(site, event_type, reason, message))

    def write(self, event: Object) -> None:
        try:
            self._api.create_event(event["metadata"]["namespace"], event)
        except Exception as error:
            involved = event["involvedObject"]
            key = site_key(involved["namespace"], involved["name"])
            log.warning("cannot record event %s on %s: %s", event["reason"], key, explain(error))


class BackgroundEventRecorder:
    """Records events from a thread of its own: `record` never waits for the API server.

    The event is built at once (its time is the moment it happened) and put on a bounded queue; one daemon
    thread writes the queue's events in order. When the queue is full (the events API has been slow or
    down for a while), a new event is dropped with a log line: the reconciles go on at their own speed
    either way. Events still queued when the process exits are lost, as in client-go.
    """

    def __init__(self, recorder: EventRecorder, capacity: int = EVENT_QUEUE_CAPACITY) -> None:
        self._recorder = recorder
        self._queue: queue.Queue[Object] = queue.Queue(maxsize=capacity)
        threading.Thread(target=self._write_forever, name="events", daemon=True).start()

    def record(self, site: Object, event_type: str, reason: str, message: str) -> None:
        try:
            self._queue.put_nowait(event_for(site, event_type, reason, message))
        except queue.Full:
            log.warning("dropping event %s on %s: %d events wait to be written", reason, object_key(site),
                        self._queue.maxsize)  # fmt: skip

    def _write_forever(self) -> None:
        while True:
            self._recorder.write(self._queue.get())


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
