"""watch-pods: the re-list difference, event lines, and the watch loop driven by a scripted source."""

import json
import ssl

import pytest
import urllib3
from helpers import make_pod
from kubernetes.client import ApiException

from controller_examples.common.pods import PodListing, pod_record
from controller_examples.intermediate.watch_pods import (
    WATCH_REQUEST_TIMEOUT,
    WATCH_TIMEOUT_SECONDS,
    Backoff,
    KubePodSource,
    PodWatcher,
    difference,
    event_line,
)


def record(name: str, rv: str, phase: str = "Running", namespace: str = "demo"):
    return pod_record(make_pod(name, namespace, resource_version=rv, phase=phase))


def listing(resource_version: str, *pods) -> PodListing:
    return PodListing(pods=sorted(pods, key=lambda pod: pod.key), resource_version=resource_version)


def event(kind: str, name: str, rv: str, phase: str = "Running") -> dict:
    return {"type": kind, "object": make_pod(name, resource_version=rv, phase=phase)}


def bookmark(rv: str) -> dict:
    return {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": rv}}}


def error_event(code: int, message: str = "too old resource version: 1 (2)") -> dict:
    return {"type": "ERROR", "object": {"kind": "Status", "status": "Failure", "code": code, "message": message}}


# --- difference ------------------------------------------------------------------------------------------


def test_difference_against_nothing_is_every_pod_added():
    a, b = record("a", "1"), record("b", "2")
    assert difference({}, [a, b]) == [("ADDED", a), ("ADDED", b)]


def test_difference_orders_added_and_modified_by_the_list_then_deleted_sorted():
    printed = {pod.key: pod for pod in [record("b", "1"), record("d", "2"), record("c", "3"), record("a", "4")]}
    fresh = [record("a", "4"), record("b", "9", phase="Succeeded"), record("bb", "10"), record("e", "11")]
    assert difference(printed, fresh) == [
        ("MODIFIED", fresh[1]),
        ("ADDED", fresh[2]),
        ("ADDED", fresh[3]),
        ("DELETED", printed[("demo", "c")]),  # as last printed: phase and resourceVersion
        ("DELETED", printed[("demo", "d")]),
    ]


def test_difference_sorts_deleted_by_namespace_then_name():
    printed = {pod.key: pod for pod in [record("a", "1", namespace="z"), record("b", "2", namespace="y")]}
    assert [pod.key for _, pod in difference(printed, [])] == [("y", "b"), ("z", "a")]


# --- event lines -----------------------------------------------------------------------------------------


def test_event_line_json():
    line = event_line("json", "MODIFIED", record("web-0", "123", phase="Pending"))
    assert line == '{"type":"MODIFIED","namespace":"demo","name":"web-0","phase":"Pending","resourceVersion":"123"}'


def test_event_line_table():
    assert event_line("table", "ADDED", record("web-0", "1")) == (
        "ADDED     demo                 web-0                                    Running"
    )
    long_namespace = "n" * 21
    assert event_line("table", "DELETED", record("x", "1", phase="", namespace=long_namespace)) == (
        f"DELETED   {long_namespace} x" + " " * 40
    )


# --- the watch loop --------------------------------------------------------------------------------------


class EndOfScript(BaseException):
    """Raised by the scripted source when the test has nothing more to say; nothing may catch it."""


class ScriptedSource:
    """Plays back re-lists and watch sessions; a session is a list of events and exceptions to raise."""

    def __init__(self, relists: list[PodListing], sessions: list[list]):
        self.relists = relists
        self.sessions = sessions
        self.watched_from: list[str] = []
        self.closed = 0

    def list(self) -> PodListing:
        item = self.relists.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def watch(self, resource_version: str):
        self.watched_from.append(resource_version)
        if not self.sessions:
            raise EndOfScript
        return self._play(self.sessions.pop(0))

    def _play(self, session):
        try:
            for item in session:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed += 1


def run(initial: PodListing, relists: list, sessions: list[list]):
    """Run a watcher to the end of the script; return (printed lines, sleeps, the source)."""
    source = ScriptedSource(relists, sessions)
    lines: list[str] = []
    sleeps: list[float] = []

    def emit(kind, pod):
        lines.append(f"{kind} {pod.name} {pod.resource_version}")

    watcher = PodWatcher(source, emit, sleeps.append)
    with pytest.raises(EndOfScript):
        watcher.run(initial)
    return lines, sleeps, source


def dropped() -> Exception:
    return urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset"))


def test_list_then_events_in_server_order():
    lines, sleeps, source = run(
        listing("100", record("b", "11"), record("a", "10")),
        [],
        [[event("MODIFIED", "b", "101"), event("ADDED", "c", "102"), event("DELETED", "a", "103", phase="Running")]],
    )
    assert lines == ["ADDED a 10", "ADDED b 11", "MODIFIED b 101", "ADDED c 102", "DELETED a 103"]
    assert source.watched_from == ["100", "103"]  # the stream ended: resume from the last event
    assert sleeps == [0.2]


def test_bookmarks_are_not_printed_but_move_the_resource_version():
    lines, _, source = run(listing("100"), [], [[bookmark("150")], [bookmark("160"), event("ADDED", "a", "170")]])
    assert lines == ["ADDED a 170"]
    assert source.watched_from == ["100", "150", "170"]


def test_dropped_connection_resumes_from_the_last_event_without_repeating():
    lines, sleeps, source = run(
        listing("100", record("a", "10")),
        [],
        [[event("MODIFIED", "a", "101"), dropped()], [dropped()], [event("MODIFIED", "a", "102")]],
    )
    assert lines == ["ADDED a 10", "MODIFIED a 101", "MODIFIED a 102"]
    assert source.watched_from == ["100", "101", "101", "102"]
    assert sleeps == [0.2, 0.4, 0.2]  # an event resets the backoff
    assert source.closed == 3


def test_backoff_doubles_up_to_five_seconds():
    refused = urllib3.exceptions.NewConnectionError(None, "refused")
    _, sleeps, _ = run(listing("1"), [], [[refused]] * 8)
    assert sleeps == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


def test_server_errors_are_retried():
    _, sleeps, source = run(listing("1"), [], [[error_event(500, "etcd hiccup")], [ApiException(status=503)]])
    assert sleeps == [0.2, 0.4]
    assert source.watched_from == ["1", "1", "1"]


def test_410_in_the_stream_relists_and_prints_the_difference():
    initial = listing("100", record("a", "10"), record("b", "11"), record("c", "12"))
    relisted = listing("200", record("a", "10"), record("b", "150", phase="Failed"), record("d", "160"))
    lines, sleeps, source = run(
        initial,
        [relisted],
        [[event("MODIFIED", "c", "101"), bookmark("120"), error_event(410)], [event("ADDED", "e", "201")]],
    )
    assert lines == [
        "ADDED a 10",
        "ADDED b 11",
        "ADDED c 12",
        "MODIFIED c 101",
        "MODIFIED b 150",
        "ADDED d 160",
        "DELETED c 101",  # as last printed
        "ADDED e 201",
    ]
    assert source.watched_from == ["100", "200", "201"]
    assert sleeps == [0.2]  # no waiting before the re-list, only after the last stream ended


def test_410_answer_to_the_watch_request_relists_too():
    gone = ApiException(status=410, reason="Gone")
    lines, _, source = run(listing("100", record("a", "10")), [listing("300")], [[gone]])
    assert lines == ["ADDED a 10", "DELETED a 10"]
    assert source.watched_from == ["100", "300"]


def test_a_failed_relist_is_retried():
    refused = urllib3.exceptions.NewConnectionError(None, "refused")
    lines, sleeps, source = run(listing("1"), [refused, listing("5", record("a", "4"))], [[error_event(410)], []])
    assert lines == ["ADDED a 4"]
    assert sleeps == [0.2, 0.4]  # only events reset the backoff
    assert source.watched_from == ["1", "5", "5"]


def test_a_410_during_the_relist_relists_again_after_a_backoff():
    # A re-list's continue token can expire under compaction too: 410 again. Retry the re-list, after a delay
    # (never in a hot loop), and with the delays growing while it keeps failing.
    expired = ApiException(status=410, reason="Expired")
    lines, sleeps, source = run(
        listing("1", record("a", "1")),
        [expired, expired, listing("9", record("b", "8"))],
        [[error_event(410)], []],
    )
    assert lines == ["ADDED a 1", "ADDED b 8", "DELETED a 1"]
    assert sleeps == [0.2, 0.4, 0.8]  # before each re-list that follows a failed one, then after the last stream
    assert source.watched_from == ["1", "9", "9"]


class RecordingQuery:
    def __init__(self):
        self.params: dict = {}

    def request(self, **params):
        self.params = params
        return FakeStream()


class FakeStream:
    def stream(self, *args, **kwargs):
        return iter([])

    def close(self):
        pass

    def release_conn(self):
        pass


def test_the_watch_asks_the_server_to_end_it_and_bounds_it_a_little_longer():
    query = RecordingQuery()
    assert list(KubePodSource(query).watch("42")) == []  # type: ignore[arg-type]
    assert query.params["timeout_seconds"] == WATCH_TIMEOUT_SECONDS == 300
    assert query.params["timeout"] == WATCH_REQUEST_TIMEOUT
    connect, read = WATCH_REQUEST_TIMEOUT
    assert connect == 10 and WATCH_TIMEOUT_SECONDS < read <= WATCH_TIMEOUT_SECONDS + 60


@pytest.mark.parametrize(
    "failure",
    [
        ApiException(status=401, reason="Unauthorized"),
        ApiException(status=403, reason="Forbidden", body=json.dumps({"message": "pods is forbidden"})),
        ssl.SSLCertVerificationError(1, "certificate verify failed"),
    ],
)
def test_lasting_failures_end_the_watch(failure):
    source = ScriptedSource([], [[event("ADDED", "a", "2"), failure]])
    lines: list[str] = []
    with pytest.raises(type(failure)):
        PodWatcher(source, lambda kind, pod: lines.append(kind), lambda _: None).run(listing("1"))
    assert lines == ["ADDED"]
    assert source.closed == 1


def test_backoff_reset():
    delays = Backoff()
    assert [delays.next() for _ in range(3)] == [0.2, 0.4, 0.8]
    delays.reset()
    assert delays.next() == 0.2
