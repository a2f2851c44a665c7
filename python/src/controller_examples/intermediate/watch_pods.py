"""watch-pods: print every change to pods as it happens: the list-then-watch pattern of every controller.

A controller needs to know the current state and then every change to it. Polling (listing again and
again) is slow and expensive; the Kubernetes API offers *watches* instead:

1. **List** the pods. The list's `resourceVersion` names the exact point in the cluster's history the
   list shows. We print each pod as an `ADDED` event.
2. **Watch from that resourceVersion.** The server then streams every change after that point, one JSON
   event per line (`ADDED`, `MODIFIED`, `DELETED`), so nothing between the list and the watch is missed or
   seen twice. With `allowWatchBookmarks` the server also sends `BOOKMARK` events: no change, only a newer
   resourceVersion to resume from.
3. **Resume after a dropped connection** from the last resourceVersion seen (with a growing delay between
   attempts), again without missing or repeating anything.
4. **Re-list when the resourceVersion has expired.** The server keeps a limited history; resuming from a
   point it no longer has is answered with `410 Gone`. Then the only way forward is a new list. Printing it
   whole would repeat what was printed before, so we print the *difference* between what we have printed
   and the new list; a consumer applying our events still ends up with the truth.

This is what client-go's informers (the Go library under most controllers) do for you; here it is by hand.

Why not `kubernetes.watch.Watch().stream()` from the official client? Reading its code (watch/watch.py)
shows it hides the very things this program is about:

- after a `410` ERROR event it silently retries once, from the same expired resourceVersion, before it
  raises; a 410 is our cue to re-list, so that retry only costs a request;
- when the stream ends it reconnects at once in a loop, with no backoff, but when the connection breaks it
  raises: two policies for what is, to us, one situation;
- it builds a V1Pod model object for every event (heavy, see `common.pods`); and when asked not to
  (`deserialize=False`) it stops tracking the resourceVersion (so it resumes from the start and repeats
  events) and fails on ERROR events with a KeyError.

So we send the watch request ourselves (`PodQuery.request(watch=True, ...)`) and split the stream into
lines with the client's own `iter_resp_lines`; everything else is the loop in `PodWatcher`.
"""

import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, NoReturn, Protocol

from kubernetes.client import ApiException
from kubernetes.watch.watch import iter_resp_lines

from controller_examples.common.cli import build_parser, chosen_namespace, json_line, run, timeout_seconds
from controller_examples.common.errors import explained, http_status, is_connection_failure, is_tls_verification_failure
from controller_examples.common.kube import connect
from controller_examples.common.pods import REQUEST_TIMEOUT, PodListing, PodQuery, PodRecord, list_pods, pod_record

# Like client-go's reflector, ask the server to end each watch after a while (it picks 5 to 10 minutes):
# a long-lived request can otherwise outlive a proxy's patience without either end noticing. An ended
# watch is resumed like a dropped one.
WATCH_TIMEOUT_SECONDS = 300
# Our own bound on a watch: connect as for any request; between two reads, a little longer than the server's
# timeoutSeconds, so the server normally ends the watch first, but a server or path gone silent cannot hold
# us forever. (Bookmarks and events keep a healthy watch's reads well apart from this.)
WATCH_REQUEST_TIMEOUT = (REQUEST_TIMEOUT[0], WATCH_TIMEOUT_SECONDS + 30)

TABLE_ROW = "%-9s %-20s %-40s %s"

Key = tuple[str, str]
Event = tuple[str, PodRecord]  # ("ADDED" | "MODIFIED" | "DELETED", the pod)


def main(argv: Sequence[str]) -> None:
    parser = build_parser("watch-pods", "Print pods, then every change to them, as they happen.")
    parser.add_argument(
        "--timeout", type=timeout_seconds, metavar="SECONDS", help="stop after this many seconds (default: never)"
    )
    options = parser.parse_args(argv)
    stop_on_signals(options.timeout)
    connection = connect(options.kubeconfig, options.context)
    namespace = chosen_namespace(options, connection.namespace)
    source = KubePodSource(PodQuery(connection.api, namespace, options.selector))

    with explained("list pods", connection.host):
        listing = source.list()
    if options.output == "table":
        print(TABLE_ROW % ("EVENT", "NAMESPACE", "NAME", "PHASE"), flush=True)

    def emit(kind: str, pod: PodRecord) -> None:
        print(event_line(options.output, kind, pod), flush=True)  # consumers read the output live

    with explained("watch pods", connection.host):
        PodWatcher(source, emit).run(listing)


def stop_on_signals(timeout: int | None) -> None:
    """Exit with status 0 at once on SIGINT or SIGTERM, or when `timeout` seconds have passed.

    Most of the time the program is blocked reading the watch stream, possibly for minutes. A flag checked
    between events would wait for the next event; a short read timeout would wake the program up
    constantly for nothing. Signals do it properly: the read is interrupted, Python runs the handler in the
    main thread, and the SystemExit the handler raises propagates out of the read (closing the stream on
    the way, through the `finally` blocks). The timeout is a signal too: SIGALRM, set with alarm().
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, _exit_now)
    if timeout is not None:
        signal.alarm(timeout)


def _exit_now(signum: int, frame: object) -> NoReturn:
    sys.exit(0)


def event_line(output: str, kind: str, pod: PodRecord) -> str:
    """One event, as a JSON object or a table row."""
    if output == "json":
        return json_line(
            {
                "type": kind,
                "namespace": pod.namespace,
                "name": pod.name,
                "phase": pod.phase,
                "resourceVersion": pod.resource_version,
            }
        )
    return TABLE_ROW % (kind, pod.namespace, pod.name, pod.phase)


def difference(printed: Mapping[Key, PodRecord], pods: list[PodRecord]) -> list[Event]:
    """The events that take a consumer from what it has been told (`printed`) to a fresh list (`pods`).

    `ADDED` for pods it does not know, `MODIFIED` for those whose resourceVersion changed (any change to
    a pod changes it), in the list's order (pods are sorted by namespace then name); then `DELETED`, also
    sorted, for pods that are gone, as they were last printed. Against an empty `printed` this is every
    pod, `ADDED`: the start of the watch.
    """
    events: list[Event] = []
    for pod in pods:
        known = printed.get(pod.key)
        if known is None:
            events.append(("ADDED", pod))
        elif known.resource_version != pod.resource_version:
            events.append(("MODIFIED", pod))
    gone = printed.keys() - {pod.key for pod in pods}
    events.extend(("DELETED", printed[key]) for key in sorted(gone))
    return events


class PodSource(Protocol):
    """Where pods come from. The real one is the API server; tests use a scripted one."""

    def list(self) -> PodListing: ...

    def watch(self, resource_version: str) -> Generator[dict[str, Any], None, None]:
        """The decoded events after `resource_version`, until the server ends the stream."""
        ...


class KubePodSource:
    """Pods from the API server."""

    def __init__(self, query: PodQuery) -> None:
        self._query = query

    def list(self) -> PodListing:
        return list_pods(self._query)

    def watch(self, resource_version: str) -> Generator[dict[str, Any], None, None]:
        # exercise: resume-from-resource-version begin
        response = self._query.request(
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_TIMEOUT_SECONDS,
            timeout=WATCH_REQUEST_TIMEOUT,
        )
        try:
            for line in iter_resp_lines(response):
                if line:
                    yield json.loads(line)
        finally:
            # close(), not only release_conn(): the rest of the stream is unread, so this connection cannot
            # serve another request. release_conn() then gives the pool its slot back.
            response.close()
            response.release_conn()
        # exercise: resume-from-resource-version end


class Backoff:
    """The delays between attempts to reconnect: 0.2 s, doubling each time, at most 5 s."""

    FIRST = 0.2
    LONGEST = 5.0

    def __init__(self) -> None:
        self._next = self.FIRST

    def next(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self.LONGEST)
        return delay

    def reset(self) -> None:
        """Events are flowing again: the next failure starts over with a short delay."""
        self._next = self.FIRST


class PodWatcher:
    """Turns a list and then watch events into printed events, reconnecting and re-listing as needed.

    It remembers each pod as last printed, which is what a re-list is compared against.
    """

    def __init__(
        self,
        source: PodSource,
        emit: Callable[[str, PodRecord], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._source = source
        self._emit = emit
        self._sleep = sleep
        self._printed: dict[Key, PodRecord] = {}
        self._resource_version = ""

    def run(self, listing: PodListing) -> NoReturn:
        """Print the listing, then follow the changes, forever: only a signal or a lasting error ends it."""
        # exercise: relist-on-410 begin
        self._catch_up(listing)
        delays = Backoff()
        must_relist = False
        while True:
            try:
                if must_relist:
                    self._catch_up(self._source.list())
                    must_relist = False
                self._follow(delays)
            except Exception as error:
                expired = http_status(error) == 410
                if not (expired or is_worth_retrying(error)):
                    raise
                if expired and not must_relist:
                    must_relist = True
                    continue  # the watch's resourceVersion expired: re-list now, there is nothing to wait for
                # A re-list that failed, even with 410 (its continue token expired under compaction), is
                # retried like the rest, after a delay: never in a hot loop.
            # The stream ended or broke: wait a little, then resume from the last resourceVersion seen (or
            # re-list, if that is what failed).
            self._sleep(delays.next())
        # exercise: relist-on-410 end

    def _catch_up(self, listing: PodListing) -> None:
        for kind, pod in difference(self._printed, listing.pods):
            self._print(kind, pod)
        self._resource_version = listing.resource_version

    def _follow(self, delays: Backoff) -> None:
        # closing(): if handling an event raises, the stream is closed now, not whenever it is collected.
        with contextlib.closing(self._source.watch(self._resource_version)) as events:
            for event in events:
                self._handle(event)
                delays.reset()

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            # The object is a Status, like the body of an HTTP error; raise it as one, so that a 410 in the
            # stream and a 410 answer to the watch request are handled alike. No code means a server fault.
            raise ApiException(status=obj.get("code", 500), reason=obj.get("reason"), body=json.dumps(obj))
        if kind == "BOOKMARK":
            metadata = obj.get("metadata") or {}
            self._resource_version = metadata.get("resourceVersion") or self._resource_version
        elif kind in ("ADDED", "MODIFIED", "DELETED"):
            pod = pod_record(obj)
            self._print(kind, pod)
            self._resource_version = pod.resource_version

    def _print(self, kind: str, pod: PodRecord) -> None:
        if kind == "DELETED":
            self._printed.pop(pod.key, None)
        else:
            self._printed[pod.key] = pod
        self._emit(kind, pod)


def is_worth_retrying(error: Exception) -> bool:
    """Whether a failure while watching may go away: a broken connection, an overloaded or restarting
    server (429, 5xx). A refused request (401, 403, other 4xx) or an untrusted certificate will not."""
    status = http_status(error)
    if status is not None:
        return status == 429 or status >= 500
    return is_connection_failure(error) and not is_tls_verification_failure(error)


if __name__ == "__main__":
    run(main)
