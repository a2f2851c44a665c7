"""Leader election under a network partition: a leader that loses its Lease stops writing (SPEC.md).

Two replicas of one language run with leader election, each through its own
fault proxy and with its own ServiceAccount, so the API server's audit log
tells their requests apart. The leader is cut off from the API server; the
standby takes the Lease over; the old leader's connection comes back. By then
the old leader must have stopped writing and exited 1 with nothing of its
process group left, and the audit log must show no write from it after the
standby's first write of the Lease (its take-over). The order is read from the
audit log, never from the test's clock.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest
from bench.audit import WRITE_VERBS, AuditLog
from controllers import (
    CONTROLLER_ACCOUNT,
    CONTROLLER_NAMESPACE,
    create_site,
    lease_holder,
    patch_site_spec,
    wait_ready,
)
from kubernetes import client

from kube import service_account_kubeconfig, wait_for
from programs import environment

pytestmark = pytest.mark.track("advanced")

# Short timings, as in test_leader_election_one_writer: the old leader must give up
# (renew deadline + one retry period = 5 s) before the standby may take over (6 s).
ELECTION = ("--leader-elect", "--lease-duration=6", "--renew-deadline=4", "--retry-period=1")
SECOND_ACCOUNT = "staticsite-controller-standby"
CHANGE_INTERVAL_SECONDS = 0.3  # how often the site stream changes a site while the leader is cut off
EXIT_TIMEOUT = 60  # headroom on a loaded machine; the SPEC bound itself is 5 s here


def account_user(account: str) -> str:
    return f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{account}"


@pytest.fixture
def second_account(cluster, api, sa_kubeconfig, tmp_path) -> Path:
    """A second ServiceAccount with exactly the controller's bindings; its kubeconfig.

    The bindings are copied from the cluster (every binding whose subjects name
    the controller's account), so the copy follows shared-manifests/rbac as it is.
    """
    rbac = client.RbacAuthorizationV1Api(api)
    core = client.CoreV1Api(api)
    subject = client.RbacV1Subject(kind="ServiceAccount", name=SECOND_ACCOUNT, namespace=CONTROLLER_NAMESPACE)
    core.create_namespaced_service_account(
        CONTROLLER_NAMESPACE, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=SECOND_ACCOUNT))
    )
    made: list[tuple[str, str | None]] = []  # (binding name, namespace or None for cluster-wide)
    try:
        for binding in rbac.list_cluster_role_binding().items:
            if _binds_controller(binding):
                rbac.create_cluster_role_binding(_copy_binding(binding, subject))
                made.append((f"{binding.metadata.name}-standby", None))
        for binding in rbac.list_namespaced_role_binding(CONTROLLER_NAMESPACE).items:
            if _binds_controller(binding):
                rbac.create_namespaced_role_binding(CONTROLLER_NAMESPACE, _copy_binding(binding, subject))
                made.append((f"{binding.metadata.name}-standby", CONTROLLER_NAMESPACE))
        assert made, f"no binding names the ServiceAccount {CONTROLLER_NAMESPACE}/{CONTROLLER_ACCOUNT}"
        path = tmp_path / "standby.kubeconfig"
        yield service_account_kubeconfig(cluster, api, CONTROLLER_NAMESPACE, SECOND_ACCOUNT, path)
    finally:
        for name, namespace in made:
            with contextlib.suppress(client.ApiException):
                if namespace is None:
                    rbac.delete_cluster_role_binding(name)
                else:
                    rbac.delete_namespaced_role_binding(name, namespace)
        with contextlib.suppress(client.ApiException):
            core.delete_namespaced_service_account(SECOND_ACCOUNT, CONTROLLER_NAMESPACE)


def _binds_controller(binding) -> bool:
    return any(
        s.kind == "ServiceAccount" and s.name == CONTROLLER_ACCOUNT and s.namespace == CONTROLLER_NAMESPACE
        for s in binding.subjects or []
    )


def _copy_binding(binding, subject):
    metadata = client.V1ObjectMeta(name=f"{binding.metadata.name}-standby", namespace=binding.metadata.namespace)
    kind = type(binding)
    return kind(metadata=metadata, role_ref=binding.role_ref, subjects=[subject])


class SiteStream:
    """Changes a site's content every CHANGE_INTERVAL_SECONDS on a thread, so a leader always has work."""

    def __init__(self, api, namespace: str, name: str):
        self._api, self._namespace, self._name = api, namespace, name
        self._stop = threading.Event()
        self.changes = 0
        self._thread = threading.Thread(target=self._run, name="site-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CHANGE_INTERVAL_SECONDS):
            self.changes += 1
            content = {"index.html": f"<h1>change {self.changes}</h1>"}
            with contextlib.suppress(client.ApiException):
                patch_site_spec(self._api, self._namespace, self._name, {"content": content})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def wait_exited(process, timeout: float, what: str) -> int:
    wait_for(lambda: process.poll() is not None, timeout=timeout, what=what)
    return process.poll()


def group_alive(process_group: int) -> bool:
    try:
        os.killpg(process_group, 0)
    except ProcessLookupError:
        return False
    return True


# The proxies and the second account come first, so they outlive the controllers at teardown (the new
# leader finalizes the sites through its proxy).
def test_lost_lease_stops_writing(fault_proxy, second_account, sa_kubeconfig, api, cluster, controllers,
                                  site_namespace, language, tmp_path):  # fmt: skip
    audit = AuditLog(cluster.audit_log, "") if getattr(cluster, "audit_log", None) else None
    start_position = audit.position() if audit else None

    replicas = {}  # identity -> (controller, its proxy, its account)
    for account, kubeconfig in ((CONTROLLER_ACCOUNT, sa_kubeconfig), (SECOND_ACCOUNT, second_account)):
        proxy = fault_proxy(kubeconfig)
        proxied = proxy.kubeconfig(kubeconfig, tmp_path / f"{account}.proxied.kubeconfig")
        replica = controllers.start(language, f"--namespace={site_namespace}", *ELECTION,
                                    env=environment(cluster, proxied))  # fmt: skip
        replicas[replica.identity] = (replica, proxy, account)
    holder = wait_for(lambda: (h := lease_holder(api)) in replicas and h, timeout=60,
                      what="one of the two replicas to hold the Lease")  # fmt: skip
    leader, leader_proxy, leader_account = replicas[holder]
    standby, _, standby_account = next(r for identity, r in replicas.items() if identity != holder)
    create_site(api, site_namespace, "before")
    wait_ready(api, site_namespace, "before")
    create_site(api, site_namespace, "streamed")
    wait_ready(api, site_namespace, "streamed")

    cut_position = audit.position() if audit else None
    leader_proxy.blackhole()
    stream = SiteStream(api, site_namespace, "streamed")
    try:
        wait_for(lambda: lease_holder(api) == standby.identity, timeout=60, what="the standby to take the Lease over")
        create_site(api, site_namespace, "after")  # a new site: work for whoever leads
        leader_proxy.restore()
        code = wait_exited(leader.process, EXIT_TIMEOUT, "the old leader to exit")
        assert not group_alive(leader.process.pid), "a process of the old leader's group outlived it"
    finally:
        stream.stop()
    assert code == 1, f"the old leader exited {code}, not 1:\n{leader.log_tail()}"
    assert stream.changes > 0
    assert standby.process.poll() is None, f"the new leader exited:\n{standby.log_tail()}"
    for name in ("before", "streamed", "after"):
        wait_ready(api, site_namespace, name)

    if audit is None:
        pytest.skip(f"{cluster.name} has no audit log: the order of writes (old leader, new leader) was not checked")
    assert_no_write_after_take_over(audit, start_position, cut_position, leader_account, standby_account)


def assert_no_write_after_take_over(audit, start_position, cut_position, leader_account, standby_account) -> None:
    """No write of the old leader's account reached the API server after the standby's first Lease write."""
    old = AuditLog(audit.path, account_user(leader_account))
    new = AuditLog(audit.path, account_user(standby_account))
    old_writes = [r for r in old.requests_since(start_position) if r.verb in WRITE_VERBS]
    assert any(r.target == "leases" for r in old_writes), "the audit log has no Lease write of the old leader"
    take_over = min(
        (r.received for r in new.requests_since(cut_position) if r.verb in WRITE_VERBS and r.target == "leases"),
        default=None,
    )
    assert take_over is not None, "the audit log has no Lease write of the standby after the cut"
    late = sorted((r.received - take_over, r.label) for r in old_writes if r.received >= take_over)
    assert not late, f"the old leader wrote after the standby took the Lease over (seconds after, request): {late}"
