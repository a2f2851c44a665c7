"""Leader election over a fake Lease API: acquire, stand by, renew, lose, release."""

import copy
import threading
import time

import pytest
from helpers import wait_until
from kubernetes import client
from kubernetes.client import ApiException

from controller_examples.advanced import leader
from controller_examples.advanced.api import Fenced, KubeApi
from controller_examples.advanced.leader import LeaderElector, LeaseTiming, validate_timing


def not_found():
    error = ApiException(status=404, reason="Not Found")
    error.body = '{"kind": "Status", "code": 404}'
    return error


class FakeLeases:
    """coordination.k8s.io/v1 for one Lease, with optimistic concurrency, the way LeaseLock uses it."""

    def __init__(self):
        self.lease = None
        self.version = 0
        self.broken = False  # every request fails as if the API server were unreachable
        self.hang = False  # every request takes its whole timeout, then fails (a partition)
        self.timeouts = []

    def read_namespaced_lease(self, name, namespace, _request_timeout=None):
        self._check(_request_timeout)
        if self.lease is None:
            raise not_found()
        return copy.deepcopy(self.lease)

    def create_namespaced_lease(self, namespace, body, _request_timeout=None):
        self._check(_request_timeout)
        if self.lease is not None:
            raise ApiException(status=409, reason="AlreadyExists")
        return self._store(body)

    def replace_namespaced_lease(self, name, namespace, body, _request_timeout=None):
        self._check(_request_timeout)
        if body.metadata.resource_version != self.lease.metadata.resource_version:
            raise ApiException(status=409, reason="Conflict")
        return self._store(body)

    def holder(self):
        return self.lease.spec.holder_identity

    def _check(self, timeout):
        self.timeouts.append(timeout)
        if self.hang:
            time.sleep(timeout)
            raise TimeoutError("read timed out")
        if self.broken:
            raise ConnectionRefusedError("connection refused")

    def _store(self, body):
        self.version += 1
        stored = copy.deepcopy(body)
        if stored.metadata is None or isinstance(stored.metadata, dict):
            stored.metadata = client.V1ObjectMeta(name="lease")
        stored.metadata.resource_version = str(self.version)
        self.lease = stored
        return copy.deepcopy(stored)


@pytest.fixture
def leases(monkeypatch):
    fake = FakeLeases()
    monkeypatch.setattr(leader.client, "CoordinationV1Api", lambda api_client=None: fake)
    return fake


class Lost:
    """The elector's on_lost: records the call (the manager's ends the process)."""

    def __init__(self):
        self.called = threading.Event()

    def __call__(self):
        self.called.set()


FAST = LeaseTiming(lease_duration=3, renew_deadline=2, retry_period=1)


def elector(identity, stop, timing=FAST, fence=None, on_lost=None):
    return LeaderElector(
        None, lease_namespace="staticsite-system", lease_name="lease", identity=identity, timing=timing, stop=stop,
        fence=fence or threading.Event(), on_lost=on_lost or Lost(),
    )  # fmt: skip


def test_the_first_candidate_creates_the_lease_and_leads(leases):
    candidate = elector("a", threading.Event())

    assert candidate.acquire()
    assert candidate.is_leader
    assert leases.holder() == "a"
    assert leases.lease.spec.lease_duration_seconds == 3
    assert leases.timeouts and all(0 < timeout <= 1 for timeout in leases.timeouts)  # at most the retry period


def test_a_candidate_stands_by_while_the_lease_is_held_and_stops_when_asked(leases):
    assert elector("a", threading.Event()).acquire()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()

    assert not elector("b", stop).acquire()
    assert leases.holder() == "a"


def test_release_clears_the_holder_so_a_standby_takes_over_at_once(leases):
    stop = threading.Event()
    first = elector("a", stop)
    first.acquire()
    first.renew_in_background()

    stop.set()
    first.release()

    assert leases.holder() == ""
    assert not first.is_leader
    second = elector("b", threading.Event())
    assert second.acquire()
    assert leases.holder() == "b"
    assert leases.version == 3  # created by a, released by a, taken by b: no expiry waited out


def test_the_lease_is_renewed_during_the_drain_until_released(leases):
    stop = threading.Event()
    leader_ = elector("a", stop)
    leader_.acquire()
    leader_.renew_in_background()
    stop.set()  # SIGTERM: the drain begins
    version = leases.version
    wait_until(lambda: leases.version >= version + 2, "two renewals after the stop")

    leader_.release()
    assert leases.holder() == ""


def test_a_leader_that_cannot_renew_until_the_deadline_fences_itself_and_is_lost(leases):
    stop, fence, lost = threading.Event(), threading.Event(), Lost()
    candidate = elector("a", stop, fence=fence, on_lost=lost)
    candidate.acquire()
    candidate.renew_in_background()

    leases.broken = True
    assert lost.called.wait(10)  # renew deadline 2 s

    assert fence.is_set()  # set before on_lost: no request starts any more
    assert stop.is_set()
    assert not candidate.is_leader
    candidate.release()  # nothing to release: it is not ours any more
    leases.broken = False
    assert leases.holder() == "a"


def test_a_renew_attempt_never_runs_past_the_renew_deadline(leases):
    """Each request's timeout is what is left of the attempt: at most the retry period, and never past the
    last renewal + the renew deadline, so hung requests end by the deadline and no request starts after."""
    lost = Lost()
    candidate = elector("a", threading.Event(), timing=FAST, on_lost=lost)
    candidate.acquire()
    candidate.renew_in_background()

    leases.timeouts.clear()
    leases.hang = True
    assert lost.called.wait(10)

    # Attempts start 1 s after the renewal; each request may use only what is left before 2 s.
    assert leases.timeouts, "no renewal was attempted"
    assert all(timeout <= 1 for timeout in leases.timeouts)
    assert sum(leases.timeouts) <= 2 - 1 + 0.01  # from the first attempt (1 s in) to the deadline (2 s)


def test_the_budget_refuses_a_request_when_nothing_is_left():
    api = leader._WithBudget(FakeLeases())
    api.deadline = time.monotonic() - 0.001
    with pytest.raises(TimeoutError):
        api.read_namespaced_lease("lease", "staticsite-system")


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        ((15, 10, 2), None),
        ((10, 10, 2), "--lease-duration must be greater than --renew-deadline"),
        ((15, 2, 2), "--renew-deadline must be greater than 1.2 x --retry-period"),
    ],
)
def test_timing_follows_client_go_rules(timing, problem):
    assert validate_timing(*timing) == problem


def test_the_fence_stops_every_request_of_the_api_layer_before_it_starts():
    fence = threading.Event()
    api = KubeApi(client.ApiClient(client.Configuration(host="https://127.0.0.1:1")), fence)
    sent = []
    api._core = type("Core", (), {"create_namespaced_event": lambda *args, **kwargs: sent.append(args)})()

    fence.set()
    with pytest.raises(Fenced):
        api.create_event("demo", {"kind": "Event"})
    with pytest.raises(Fenced):
        api.get("ConfigMap", "demo", "hello")
    assert sent == []
