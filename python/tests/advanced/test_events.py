"""Events are written in the background: recording one never waits for the API server."""

import logging
import threading

from advanced.fakes import make_site
from controller_examples.advanced.events import BackgroundEventRecorder, EventRecorder

WAIT = 10  # seconds; only reached when the behaviour under test is broken


class StuckEventsApi:
    """An events API that answers only once released, as a hung API server would (until the timeout)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.writing = threading.Event()  # set once the writer is stuck in create_event
        self.created: list[str] = []
        self.all_created = threading.Event()
        self.expected = 0

    def create_event(self, namespace, body):
        self.writing.set()
        self.release.wait()
        self.created.append(body["message"])
        if len(self.created) == self.expected:
            self.all_created.set()
        return body


def test_record_returns_while_the_events_api_hangs_and_the_events_follow_in_order():
    api = StuckEventsApi()
    recorder = BackgroundEventRecorder(EventRecorder(api), capacity=10)
    api.expected = 3
    recording = threading.Thread(
        target=lambda: [recorder.record(make_site(), "Normal", "Synced", str(i)) for i in range(3)]
    )

    recording.start()
    recording.join(WAIT)

    assert not recording.is_alive(), "record() waited for the events API"
    api.release.set()
    assert api.all_created.wait(WAIT)
    assert api.created == ["0", "1", "2"]


def test_a_full_queue_drops_the_new_event_with_a_log_line(caplog):
    api = StuckEventsApi()
    recorder = BackgroundEventRecorder(EventRecorder(api), capacity=2)
    with caplog.at_level(logging.WARNING):
        for i in range(4):  # one taken by the writer (stuck in create_event), two queued, one too many
            recorder.record(make_site(), "Normal", "Synced", str(i))
            if i == 0:
                assert api.writing.wait(WAIT)
    assert [record.getMessage() for record in caplog.records] == [
        "dropping event Synced on demo/hello: 2 events wait to be written"
    ]
    api.expected = 3
    api.release.set()
    assert api.all_created.wait(WAIT)
    assert api.created == ["0", "1", "2"]
