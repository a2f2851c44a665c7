"""Leader election over a fake Lease API: acquire, stand by, renew, lose, release."""

import copy
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from controller_examples.advanced import leader
from controller_examples.advanced.leader import LeaderElector, validate_timing


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
        self.timeouts = set()

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
        self.timeouts.add(timeout)
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


def elector(identity, stop, timing=(3, 2, 1)):
    return LeaderElector(None, ("staticsite-system", "lease"), identity, timing, stop)


def test_the_first_candidate_creates_the_lease_and_leads(leases):
    candidate = elector("a", threading.Event())

    assert candidate.acquire()
    assert candidate.is_leader
    assert leases.holder() == "a"
    assert leases.lease.spec.lease_duration_seconds == 3
    assert leases.timeouts == {1}  # every request has a timeout (the retry period)


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
    started = time.monotonic()
    assert elector("b", threading.Event()).acquire()
    assert time.monotonic() - started < 1  # no lease duration to wait out
    assert leases.holder() == "b"


def test_a_leader_that_cannot_renew_until_the_deadline_loses_and_stops(leases):
    stop = threading.Event()
    candidate = elector("a", stop)
    candidate.acquire()
    candidate.renew_in_background()

    leases.broken = True
    assert stop.wait(5)  # renew deadline 2 s, then the stop is requested

    assert candidate.lost
    assert not candidate.is_leader
    candidate.release()  # nothing to release: it is not ours any more
    leases.broken = False
    assert leases.holder() == "a"


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
