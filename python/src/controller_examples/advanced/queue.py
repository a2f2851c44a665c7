"""The work queue between the informers and the workers, with client-go's workqueue semantics.

The official Python client has informers but no work queue, so this module is written by hand, after
client-go's `k8s.io/client-go/util/workqueue`. It is three layers, as there:

- `WorkQueue`: a FIFO of *keys* ("namespace/name"), not of events. A key already waiting is not added
  twice (de-duplication), and a key being processed is never handed to a second worker: if it is added
  again meanwhile, it is marked *dirty* and queued once more when the first worker calls `done`. So
  however many events arrive for a site, at most one reconcile of it runs at a time and at most one more is
  pending: the controller is level-based, it reconciles the latest state, not each event.
- `DelayingQueue`: `add_after(key, delay)` adds a key later, from one background thread that sleeps until
  the earliest due key (a heap), like client-go's `waitingLoop`.
- `RateLimitingQueue`: `add_rate_limited(key)` adds a key after a per-key exponential backoff
  (`ItemExponentialBackoff`: 5 ms, doubling, capped at 60 s); `forget(key)` resets it after a success.

Shutdown differs from client-go's on purpose: there, workers keep receiving the keys already queued until
the queue is empty. Here `get` returns None at once, so a stopping controller takes no new keys; the keys
it leaves behind are not lost, since the next leader (or the next start) lists every site again. Keys being
processed when `shutdown` is called finish normally; their worker's `done` then queues nothing.
"""

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

BASE_DELAY_SECONDS = 0.005
MAX_DELAY_SECONDS = 60.0


class ItemExponentialBackoff:
    """Per-key exponential backoff: the n-th consecutive failure of a key waits base * 2**n, up to a cap.

    client-go's `ItemExponentialFailureRateLimiter`. Thread-safe: workers report failures concurrently.
    """

    def __init__(self, base: float = BASE_DELAY_SECONDS, cap: float = MAX_DELAY_SECONDS) -> None:
        self._base = base
        self._cap = cap
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def when(self, key: str) -> float:
        """Count one more failure of `key` and return how long to wait before retrying it."""
        with self._lock:
            exponent = self._failures.get(key, 0)
            self._failures[key] = exponent + 1
        # 2**32 base delays are far beyond any sensible cap; stopping there keeps the float finite.
        return min(self._cap, self._base * 2 ** min(exponent, 32))

    def forget(self, key: str) -> None:
        """The key succeeded: its next failure starts from the base delay again."""
        with self._lock:
            self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        """How many times in a row the key has failed."""
        with self._lock:
            return self._failures.get(key, 0)


class WorkQueue:
    """A de-duplicating FIFO of keys that never hands one key to two workers at once.

    Three collections, guarded by one condition variable, as in client-go:
    - `_queue`: keys ready to be handed out, in order;
    - `_dirty`: keys that need processing (queued, or added again while being processed);
    - `_processing`: keys a worker holds between `get` and `done`.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._shutting_down = False

    def add(self, key: str) -> None:
        """Mark the key for processing; it is queued unless already queued or being processed."""
        # exercise: queue-dedup begin
        with self._condition:
            if self._shutting_down or key in self._dirty:
                return
            self._dirty.add(key)
            if key in self._processing:
                return  # `done` queues it again once the current reconcile of it ends
            self._queue.append(key)
            self._condition.notify()
        # exercise: queue-dedup end

    def get(self) -> str | None:
        """Block until a key is ready and hand it out; None once the queue is shutting down."""
        with self._condition:
            while not self._queue and not self._shutting_down:
                self._condition.wait()
            if self._shutting_down:
                return None
            key = self._queue.popleft()
            self._processing.add(key)
            self._dirty.discard(key)
            return key

    def done(self, key: str) -> None:
        """The worker finished with the key; if it was added meanwhile, queue it again."""
        with self._condition:
            self._processing.discard(key)
            if key in self._dirty and not self._shutting_down:
                self._queue.append(key)
                self._condition.notify()

    def shutdown(self) -> None:
        """Stop handing out keys: blocked and future `get` calls return None."""
        with self._condition:
            self._shutting_down = True
            self._condition.notify_all()

    def __len__(self) -> int:
        """The queue depth: keys waiting for a worker (not those being processed or delayed)."""
        with self._condition:
            return len(self._queue)


class DelayingQueue(WorkQueue):
    """A WorkQueue that can also add a key after a delay."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        # Its own condition: waking the delay thread must not wake the workers, and the other way round.
        self._delays = threading.Condition()
        self._due: dict[str, float] = {}  # key -> when it is due: one pending delayed add per key
        self._heap: list[tuple[float, int, str]] = []  # (due, tie-breaker, key), earliest first
        self._sequence = itertools.count()
        self._stopped = False
        self._waiter = threading.Thread(target=self._wait_loop, name="queue-delays", daemon=True)
        self._waiter.start()

    def add_after(self, key: str, delay: float) -> None:
        """Add the key once `delay` seconds have passed; an earlier pending add of the same key wins."""
        if delay <= 0:
            self.add(key)
            return
        with self._delays:
            due = self._clock() + delay
            if self._stopped or self._due.get(key, due + 1) <= due:
                return
            self._due[key] = due
            heapq.heappush(self._heap, (due, next(self._sequence), key))
            self._delays.notify()  # the new key may be due before the one the thread sleeps for

    def shutdown(self) -> None:
        super().shutdown()
        with self._delays:
            self._stopped = True
            self._due.clear()
            self._delays.notify()

    def _wait_loop(self) -> None:
        with self._delays:
            while not self._stopped:
                for key in self._pop_due_keys():
                    self.add(key)
                timeout = self._heap[0][0] - self._clock() if self._heap else None
                self._delays.wait(timeout)

    def _pop_due_keys(self) -> list[str]:
        now = self._clock()
        keys = []
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == due:  # else superseded by an earlier add_after of the same key
                del self._due[key]
                keys.append(key)
        return keys


class RateLimitingQueue(DelayingQueue):
    """A DelayingQueue whose retries wait a per-key exponential backoff."""

    def __init__(self, backoff: ItemExponentialBackoff | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self._backoff = backoff or ItemExponentialBackoff()

    def add_rate_limited(self, key: str) -> float:
        """Add the key again after its backoff; returns the delay chosen."""
        delay = self._backoff.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        """Reset the key's backoff (call after a successful reconcile)."""
        self._backoff.forget(key)

    def num_requeues(self, key: str) -> int:
        """How many times in a row the key has been retried."""
        return self._backoff.failures(key)
