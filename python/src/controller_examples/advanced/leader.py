"""Leader election: of several copies of the controller, one reconciles and the others stand by.

Two processes reconciling the same sites would fight (and double every write), yet one process is a single
point of failure. So every copy runs, and they elect a leader through a lock object in the API server, a
coordination.k8s.io/v1 Lease: its `holderIdentity` names the leader, `renewTime` says when the leader last
renewed its claim, `leaseDurationSeconds` how long a claim lasts.

- A candidate reads the Lease. If it has no holder, or if it has not changed for a whole lease duration,
  the candidate writes itself in (an update carrying the resourceVersion it read, so of two candidates
  only one succeeds). "Not changed for" is measured on the candidate's own clock, from when it last saw
  the Lease change, so the machines' clocks need not agree.
- Otherwise it stands by and tries again every retry period.
- The leader renews every retry period. If it cannot renew for a whole renew deadline (shorter than the
  lease duration, so it steps down before anyone may take over), it must assume it lost the Lease: it
  *fences* itself (the shared `fence` event, which the API layer checks before every request, so no new
  write starts), and calls `on_lost`, which ends the process (exit 1) at once rather than wait for the
  requests in flight (a thread cannot be cancelled); whatever restarts it makes it a candidate again.
- On a clean shutdown the leader keeps renewing while the reconciles in flight finish, then *releases*
  the Lease by clearing `holderIdentity`, so a standby takes over at its next retry instead of waiting
  out the lease duration.

The official client (`kubernetes.leaderelection`) has the parts: `LeaseLock` reads, creates and updates
the Lease, and `LeaderElection.try_acquire_or_renew` takes the decision above; both are used as they are.
Its `LeaderElection.run` loop does not meet the spec, so `LeaderElector` replaces it:
- it cannot be stopped (its loops sleep and retry forever) and it never releases the Lease;
- an error that is not an API answer (connection refused, timeout) escapes its loop and ends the election
  thread, instead of counting as one failed attempt;
- `LeaseLock` talks through a default-configured client, with no timeout. We give it a client of its own
  (its own connection pool, and no urllib3 retries: a retry would start the request's timeout again) whose
  every request is bounded by what is left of the attempt's budget: the retry period, and never past the
  last renewal + the renew deadline. So a hung request cannot hold the renew loop past its deadline.
"""

import copy
import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kubernetes import client
from kubernetes.leaderelection.electionconfig import Config
from kubernetes.leaderelection.leaderelection import LeaderElection
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from controller_examples.advanced.api import explain

# client-go's rule (and the official client's Config check): renew deadline > retry period * 1.2.
JITTER_FACTOR = 1.2

log = logging.getLogger(__name__)


class LeaderElector:
    """Acquire, renew in the background, and release one Lease.

    `stop` ends standing by. Once leading, renewals go on until `release` (after the drain); if they fail
    for the renew deadline, `fence` is set (no new request) and `on_lost` is called.
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        lease: tuple[str, str],  # (namespace, name)
        identity: str,
        timing: tuple[int, int, int],  # (lease duration, renew deadline, retry period), in seconds
        stop: threading.Event,
        fence: threading.Event,
        on_lost: Callable[[], None],
    ) -> None:
        namespace, name = lease
        lease_duration, renew_deadline, retry_period = timing
        self._lock = LeaseLock(name, namespace, identity)
        self._api = _WithBudget(client.CoordinationV1Api(_without_retries(api_client)))
        self._lock.api_instance = self._api
        config = Config(self._lock, lease_duration, renew_deadline, retry_period, _not_used, onstopped_leading=None)
        self._election = LeaderElection(config)
        self._renew_deadline = renew_deadline
        self._retry_period = retry_period
        self._stop = stop
        self._fence = fence
        self._on_lost = on_lost
        self._releasing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._last_renewal = 0.0  # time.monotonic() at the start of the last successful attempt
        self.is_leader = False

    @property
    def lease_name(self) -> str:
        return f"{self._lock.namespace}/{self._lock.name}"

    def acquire(self) -> bool:
        """Stand by until this process holds the Lease (True), or until `stop` is set (False)."""
        seen_holder = None
        while not self._stop.is_set():
            started = time.monotonic()
            if self._attempt(started + self._retry_period):
                self._last_renewal = started
                self.is_leader = True
                log.info("became the leader: holding lease %s as %s", self.lease_name, self._lock.identity)
                return True
            holder = self._holder()
            if holder != seen_holder:
                log.info("standing by: lease %s is held by %s", self.lease_name, holder or "nobody")
                seen_holder = holder
            self._stop.wait(self._retry_period)
        return False

    def renew_in_background(self) -> None:
        """Keep renewing the Lease on a thread until `release`; if that fails for the renew deadline, lose it."""
        self._renewer = threading.Thread(target=self._renew_until_released, name="lease-renewer", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and clear the Lease's holder, if it is still ours, so a standby takes over at once."""
        self._releasing.set()
        if self._renewer is not None:
            self._renewer.join()
        if not self.is_leader:
            return
        self.is_leader = False
        self._api.deadline = self._attempt_deadline()  # a Lease that may be lost is not written
        try:
            released = self._clear_holder()
        except Exception as error:
            log.warning("could not release lease %s: %s", self.lease_name, explain(error))
            return
        if released:
            log.info("released lease %s", self.lease_name)
        else:
            log.warning("did not release lease %s: it is no longer ours, or the update failed", self.lease_name)

    def _clear_holder(self) -> bool:
        found, record = self._lock.get(self._lock.name, self._lock.namespace)  # also the current resourceVersion
        if not found or record.holder_identity != self._lock.identity:
            return False
        return self._lock.update(self._lock.name, self._lock.namespace, _released_record())

    def _renew_until_released(self) -> None:
        pause = self._retry_period
        while not self._releasing.wait(pause):
            started = time.monotonic()
            if self._attempt(self._attempt_deadline()):
                self._last_renewal = started
                pause = self._retry_period
                continue
            left = self._last_renewal + self._renew_deadline - time.monotonic()
            if left <= 0:
                self._lose()
                return
            log.warning("renewing lease %s failed; retrying until the renew deadline", self.lease_name)
            pause = min(self._retry_period, left)  # the last try comes at the deadline, not after it

    def _lose(self) -> None:
        """Past the renew deadline a standby may take over any moment: no new request, then `on_lost`."""
        self._fence.set()
        self.is_leader = False
        log.error("could not renew lease %s for %ss: leadership lost", self.lease_name, self._renew_deadline)
        self._stop.set()
        self._on_lost()

    def _attempt_deadline(self) -> float:
        """When the next attempt must be over: one retry period from now, and never past the renew deadline."""
        return min(time.monotonic() + self._retry_period, self._last_renewal + self._renew_deadline)

    def _attempt(self, deadline: float) -> bool:
        """One try to acquire or renew, done by `deadline` (time.monotonic()); any failure is just a failed try."""
        # exercise: leader-election begin
        self._api.deadline = deadline
        try:
            return self._election.try_acquire_or_renew()
        except Exception as error:
            log.warning("lease %s: %s", self.lease_name, explain(error))
            return False
        # exercise: leader-election end

    def _holder(self) -> str | None:
        record = self._election.observed_record
        return record.holder_identity if record is not None else None


def validate_timing(lease_duration: int, renew_deadline: int, retry_period: int) -> str | None:
    """What is wrong with these durations (client-go's checks), or None."""
    if lease_duration <= renew_deadline:
        return "--lease-duration must be greater than --renew-deadline"
    if renew_deadline <= JITTER_FACTOR * retry_period:
        return f"--renew-deadline must be greater than {JITTER_FACTOR} x --retry-period"
    return None


def _released_record() -> LeaderElectionRecord:
    # LeaseLock's record keeps times as str(datetime) in local time; client-go releases with a 1 s duration.
    now = str(datetime.now())
    return LeaderElectionRecord(holder_identity="", lease_duration="1", acquire_time=now, renew_time=now)


def _not_used() -> None:
    """Config requires an `onstarted_leading` callback; only LeaderElection.run calls it, and we do not."""


def _without_retries(api_client: client.ApiClient | None) -> client.ApiClient | None:
    """A client of the same cluster with its own connection pool and no urllib3 retries."""
    if api_client is None:  # the unit tests' fake API needs none
        return None
    configuration = copy.deepcopy(api_client.configuration)
    configuration.retries = 0
    return client.ApiClient(configuration)


class _WithBudget:
    """An API object whose every call is bounded by what is left until `deadline` (LeaseLock passes no
    timeout). With nothing left, no request starts."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self.deadline = 0.0  # time.monotonic() by which the current attempt must be over

    def __getattr__(self, name: str) -> Any:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no time left before the renew deadline")
        return functools.partial(getattr(self._api, name), _request_timeout=left)
