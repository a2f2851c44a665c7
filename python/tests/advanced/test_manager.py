"""The command line (options.py), the workers' retry policy (queue.py), and the manager's wiring."""

import threading

import pytest
from kubernetes import client

from controller_examples.advanced.leader import LeaseTiming
from controller_examples.advanced.manager import Manager
from controller_examples.advanced.options import parse_options


def test_defaults_are_the_specs():
    options = parse_options([])

    assert options.kubeconfig is None and options.context is None and options.namespace is None
    assert options.workers == 4
    assert not options.leader_elect
    assert options.leader_election_namespace == "staticsite-system"
    assert options.leader_election_id == "staticsite-controller"
    assert options.lease_timing == LeaseTiming(lease_duration=15, renew_deadline=10, retry_period=2)
    assert options.health_addr == ("127.0.0.1", 8081)
    assert options.metrics_addr == ("127.0.0.1", 8080)
    assert options.identity.endswith(f"_{__import__('os').getpid()}")


def test_every_flag_is_read():
    options = parse_options(
        [
            "--kubeconfig=/k", "--context", "c", "--namespace", "ns", "--workers", "2", "--leader-elect",
            "--leader-election-namespace", "le", "--leader-election-id", "id", "--identity", "me",
            "--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1",
            "--health-addr", "0.0.0.0:9", "--metrics-addr", "localhost:10",
        ]
    )  # fmt: skip

    assert (options.kubeconfig, options.context, options.namespace, options.workers) == ("/k", "c", "ns", 2)
    assert (options.leader_elect, options.leader_election_namespace, options.leader_election_id) == (True, "le", "id")
    assert (options.identity, options.lease_timing) == ("me", LeaseTiming(4, 3, 1))
    assert (options.health_addr, options.metrics_addr) == (("0.0.0.0", 9), ("localhost", 10))


@pytest.mark.parametrize(
    "argv",
    [
        ["--workers", "0"],
        ["--health-addr", "8081"],
        ["--metrics-addr", "host:99999"],
        ["--renew-deadline", "20"],
        ["--lease-duration", "1.5"],
        ["--name", "x"],  # no abbreviations
        ["extra"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_options(argv)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")


class FakeReconciler:
    def __init__(self, error=None):
        self.error = error

    def reconcile(self, key):
        if self.error:
            raise self.error


@pytest.fixture
def manager():
    # No request is made: the informers are built but never started.
    api_client = client.ApiClient(client.Configuration(host="https://127.0.0.1:1"))
    manager = Manager(parse_options([]), api_client, stop=threading.Event())
    yield manager
    manager._queue.shutdown()


def sample(manager, name, **labels):
    return manager.metrics.registry.get_sample_value(name, labels or None)


def process(manager, key):
    """One turn of a worker: the key is queued, taken and reconciled."""
    manager._queue.add(key)
    assert manager._workers.process_next_work_item()


def test_a_failed_reconcile_is_counted_and_retried_with_backoff(manager, caplog):
    manager._workers.sync_handler = FakeReconciler(RuntimeError("boom")).reconcile

    process(manager, "demo/a")
    manager._queue.add("demo/a")  # the backoff is too long for the test to wait: the key is added at once
    assert manager._workers.process_next_work_item()

    assert sample(manager, "staticsite_reconcile_total", result="error") == 2
    assert manager._queue.num_requeues("demo/a") == 2
    assert "reconcile demo/a failed (attempt 2, retry in 0.01s): RuntimeError: boom" in caplog.text
    assert sample(manager, "staticsite_reconcile_duration_seconds_count") == 2


def test_a_successful_reconcile_forgets_the_failures(manager):
    manager._workers.sync_handler = FakeReconciler(RuntimeError("boom")).reconcile
    process(manager, "demo/a")
    manager._workers.sync_handler = FakeReconciler().reconcile

    process(manager, "demo/a")

    assert manager._queue.num_requeues("demo/a") == 0
    assert sample(manager, "staticsite_reconcile_total", result="success") == 1


def test_queue_depth_is_read_at_scrape_time(manager):
    manager._queue.add("demo/a")
    manager._queue.add("demo/b")

    assert sample(manager, "staticsite_queue_depth") == 2
