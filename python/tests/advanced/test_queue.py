"""The work queue: client-go's workqueue semantics."""

import threading
import time

import pytest

from controller_examples.advanced.queue import ItemExponentialBackoff, RateLimitingQueue, WorkQueue


def eventually(check, timeout=5.0):
    """Poll ``check`` until it holds; fail after ``timeout`` seconds (a deadline, never a sleep that hopes)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.fixture
def queue():
    queue = RateLimitingQueue()
    yield queue
    queue.shutdown()


def test_a_key_added_twice_is_queued_once(queue):
    queue.add("demo/a")
    queue.add("demo/b")
    queue.add("demo/a")

    assert len(queue) == 2
    assert [queue.get(), queue.get()] == ["demo/a", "demo/b"]


def test_a_key_added_while_processed_waits_for_done(queue):
    queue.add("demo/a")
    key = queue.get()

    queue.add("demo/a")
    queue.add("demo/a")
    assert len(queue) == 0  # not handed to a second worker while the first holds it

    queue.done(key)
    assert len(queue) == 1  # queued again, once
    assert queue.get() == "demo/a"


def test_a_key_processed_without_new_adds_is_not_queued_again(queue):
    queue.add("demo/a")
    queue.done(queue.get())

    assert len(queue) == 0


def test_no_key_is_ever_processed_by_two_workers_at_once():
    queue = WorkQueue()
    keys = [f"demo/site-{number}" for number in range(3)]
    in_progress: set[str] = set()
    overlaps = []
    lock = threading.Lock()

    def worker():
        while (key := queue.get()) is not None:
            with lock:
                if key in in_progress:
                    overlaps.append(key)
                in_progress.add(key)
            time.sleep(0.001)
            with lock:
                in_progress.discard(key)
            queue.done(key)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    for round_number in range(200):
        queue.add(keys[round_number % len(keys)])
        time.sleep(0.0002)  # events spread over time, as informers send them
    queue.shutdown()
    for thread in workers:
        thread.join(timeout=5)

    assert overlaps == []


def test_backoff_doubles_from_5_ms_and_is_capped_at_60_s():
    backoff = ItemExponentialBackoff()

    delays = [backoff.when("demo/a") for _ in range(20)]

    assert delays[:4] == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert delays[13] == pytest.approx(40.96)
    assert delays[14:] == [60.0] * 6
    assert backoff.failures("demo/a") == 20
    assert backoff.when("demo/b") == pytest.approx(0.005)  # per key


def test_backoff_never_overflows():
    backoff = ItemExponentialBackoff()
    for _ in range(2000):
        delay = backoff.when("demo/a")

    assert delay == 60.0


def test_forget_resets_the_backoff(queue):
    assert queue.add_rate_limited("demo/a") == pytest.approx(0.005)
    assert queue.add_rate_limited("demo/a") == pytest.approx(0.01)
    assert queue.num_requeues("demo/a") == 2

    queue.forget("demo/a")

    assert queue.num_requeues("demo/a") == 0
    assert queue.add_rate_limited("demo/a") == pytest.approx(0.005)


def test_add_after_adds_the_key_once_the_delay_has_passed(queue):
    queue.add_after("demo/a", 0.1)

    assert len(queue) == 0
    eventually(lambda: len(queue) == 1)
    assert queue.get() == "demo/a"


def test_add_after_keeps_the_earliest_of_two_delays(queue):
    queue.add_after("demo/a", 5)
    queue.add_after("demo/a", 0.05)
    queue.add_after("demo/a", 10)

    eventually(lambda: len(queue) == 1, timeout=2)  # after 0.05 s, long before 5 or 10


def test_add_after_with_no_delay_adds_at_once(queue):
    queue.add_after("demo/a", 0)

    assert len(queue) == 1


def test_add_rate_limited_adds_the_key_after_its_backoff(queue):
    queue.add_rate_limited("demo/a")

    eventually(lambda: len(queue) == 1)
    assert queue.get() == "demo/a"


def test_shutdown_wakes_blocked_workers_and_hands_out_no_more_keys():
    queue = RateLimitingQueue()
    results = []
    waiting = threading.Thread(target=lambda: results.append(queue.get()))
    waiting.start()

    queue.shutdown()
    waiting.join(timeout=5)

    assert results == [None]
    queue.add("demo/a")
    assert queue.get() is None


def test_shutdown_lets_the_keys_in_flight_finish():
    queue = RateLimitingQueue()
    queue.add("demo/a")
    queue.add("demo/b")
    started, release = threading.Event(), threading.Event()
    finished = []

    def worker():
        while (key := queue.get()) is not None:
            started.set()
            release.wait(5)
            finished.append(key)
            queue.done(key)

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(5)

    queue.shutdown()  # while demo/a is being processed
    queue.add("demo/a")
    release.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert finished == ["demo/a"]  # finished; demo/b, still queued, was not handed out
    assert len(queue) == 1


def test_shutdown_cancels_delayed_adds():
    queue = RateLimitingQueue()
    queue.add_after("demo/a", 5)

    queue.shutdown()
    queue._waiter.join(timeout=5)  # the delay thread has ended: nothing can add the key any more

    assert not queue._waiter.is_alive()
    assert len(queue) == 0
