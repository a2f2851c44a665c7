"""The advanced track's fixtures, shared by every ``test_advanced*.py`` module.

``controllers`` starts controller processes and tears down in the right order
(sites finalized by a live controller, then namespaces, then processes);
``site_namespace`` is a namespace whose sites the controller finalizes;
``golden`` compares a step's snapshot with the golden file (or, with
``--update-golden`` on the Python run, rewrites it). ``conftest.py`` loads this
module as a plugin.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

import pytest
from bench.audit import AuditLog
from controllers import (
    GROUP,
    VERSION,
    Controller,
    controller_kubeconfig,
    create_site,
    delete_all_sites,
    install_api_and_rbac,
    strip_finalizers,
)
from kubernetes import client

from conftest import LOCK_DIR, make_namespace
from kube import wait_for
from snapshots import read_golden, snapshot, write_golden

SETTLE_SECONDS = 1.0
SNAPSHOT_TIMEOUT = 60


def audit_log(cluster, user: str = "") -> AuditLog | None:
    """The API server's audit log (the requests of ``user``), or None for a provider that keeps none."""
    path = getattr(cluster, "audit_log", None)
    return AuditLog(path, user) if path else None


# ----- fixtures -----------------------------------------------------------------------
# The garbage collector learns of a new resource type when it next rediscovers the API (every 30 s in the
# controller-manager, with no flag to change it): until then it cannot collect a deleted site's children.
GARBAGE_COLLECTOR_TIMEOUT = 90


@pytest.fixture(scope="session")
def api_and_rbac(cluster, api) -> None:
    """The CRD and RBAC, installed once per worker; one worker at a time (two `kubectl apply` creating the
    same CRD at once: one fails with AlreadyExists). Then the garbage collector is made sure to know sites."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_DIR / "install", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        install_api_and_rbac(cluster)
        wait_until_sites_are_collected(api)


def wait_until_sites_are_collected(api) -> None:
    """Delete a site with an owned ConfigMap, and wait until the garbage collector has collected the ConfigMap.

    On a new cluster, the CRD is a few seconds old when the first scenario starts, and the garbage collector
    would take up to 30 s more to collect a deleted site's children: that scenario (whichever it is, in any
    column) would pay it, about 40 s where the others take 2. Paid once here, every scenario sees the same
    cluster. (Measured in issue 13: kopf's "slow delete" was this.)
    """
    core = client.CoreV1Api(api)
    namespace = make_namespace(core, "garbage-collector-probe")
    try:
        site = create_site(api, namespace, "probe")
        owner = client.V1OwnerReference(api_version=f"{GROUP}/{VERSION}", kind="StaticSite", name="probe",
                                        uid=site["metadata"]["uid"])  # fmt: skip
        child = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="probe-child", owner_references=[owner]))
        core.create_namespaced_config_map(namespace, child)
        assert delete_all_sites(api, namespace, timeout=30)  # no controller runs: no finalizer holds it

        def collected() -> bool:
            return "probe-child" not in [
                item.metadata.name for item in core.list_namespaced_config_map(namespace).items
            ]

        wait_for(collected, timeout=GARBAGE_COLLECTOR_TIMEOUT, what="the garbage collector to collect a site's child")
    finally:
        core.delete_namespace(namespace)


@pytest.fixture
def sa_kubeconfig(cluster, api, api_and_rbac, tmp_path) -> Path:
    """The controller's credentials, with a token requested for this test.

    A token per test, not per session: a token lives an hour, and a slow run of
    the whole suite on a loaded machine lasts longer than that.
    """
    return controller_kubeconfig(cluster, api, tmp_path / "controller.kubeconfig")


@pytest.fixture
def site_namespace(api, request, controllers) -> str:
    """A namespace whose sites are finalized by the controller before it stops."""
    core = client.CoreV1Api(api)
    name = make_namespace(core, request.node.originalname)
    controllers.namespaces.append(name)
    return name


class Controllers:
    """Starts controllers for a test and tears everything down in the right order."""

    def __init__(self, cluster, api, kubeconfig: Path, log_dir: Path):
        self.cluster, self.api, self.kubeconfig, self.log_dir = cluster, api, kubeconfig, log_dir
        self.running: list[Controller] = []
        self.namespaces: list[str] = []

    def start(self, language: str, *args: str, **kwargs) -> Controller:
        """Start a controller and return once it serves /healthz.

        Every scenario starts controllers here, so none can talk to a process
        that is still importing its libraries (a standby asked for /metrics
        before it listened was a flake).
        """
        controller = Controller(self.cluster, language, self.kubeconfig, self.log_dir, *args, **kwargs)
        self.running.append(controller)
        controller.wait_serving()
        return controller

    def teardown(self) -> None:
        alive = any(c.process.poll() is None for c in self.running)
        for namespace in self.namespaces:
            # While a controller runs, let it finalize; otherwise strip the
            # finalizers so no namespace is left stuck terminating.
            if not (alive and delete_all_sites(self.api, namespace, timeout=60)):
                strip_finalizers(self.api, namespace)
            client.CoreV1Api(self.api).delete_namespace(namespace, propagation_policy="Background")
        for controller in self.running:
            controller.stop()


@pytest.fixture
def controllers(cluster, api, sa_kubeconfig, tmp_path):
    started = Controllers(cluster, api, sa_kubeconfig, tmp_path)
    yield started
    started.teardown()


@pytest.fixture
def golden(request, language):
    """Collect snapshots per step; compare with (or, for Python, update) the golden file."""
    scenario = request.node.originalname.removeprefix("test_")
    update = request.config.getoption("--update-golden") and language == "python"
    steps: dict[str, dict] = {}
    expected = None if update else read_golden(scenario)
    if not update and expected is None:
        pytest.fail(f"no golden file for {scenario}: run the suite with --update-golden -k python")

    def take(step: str, api, namespace: str, names: list[str], events: bool = True) -> dict:
        if update:
            steps[step] = settled_snapshot(api, namespace, names, events)
        else:
            assert step in expected, f"golden {scenario} has no step {step}"
            steps[step] = converge_to(expected[step], api, namespace, names, events, f"{scenario}/{step}")
        return steps[step]

    yield take
    if update:
        write_golden(scenario, steps)


def settled_snapshot(api, namespace: str, names: list[str], events: bool) -> dict:
    """A snapshot that stays the same for SETTLE_SECONDS (events arrive late)."""
    previous = None
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT
    while time.monotonic() < deadline:
        current = snapshot(api, namespace, names, events)
        if current == previous:
            return current
        previous = current
        time.sleep(SETTLE_SECONDS)
    raise AssertionError(f"state of {names} in {namespace} never settled")


def converge_to(expected: dict, api, namespace: str, names: list[str], events: bool, what: str) -> dict:
    last = {}

    def matches():
        nonlocal last
        last = snapshot(api, namespace, names, events)
        return last == expected

    try:
        wait_for(matches, timeout=SNAPSHOT_TIMEOUT, what=f"snapshot {what} to equal the golden file")
    except AssertionError:
        diff = _diff(expected, last)
        raise AssertionError(f"snapshot {what} differs from the golden file:\n{diff}") from None
    return last


def _diff(expected, actual, path="") -> str:
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = [_diff(expected.get(k), actual.get(k), f"{path}.{k}") for k in sorted(set(expected) | set(actual))]
        return "\n".join(line for line in lines if line)
    if expected != actual:
        return f"{path}: expected {json.dumps(expected)} got {json.dumps(actual)}"
    return ""


def start(controllers, language: str, namespace: str, *args: str, **kwargs) -> Controller:
    """A controller watching ``namespace`` only, as most scenarios want."""
    return controllers.start(language, f"--namespace={namespace}", *args, **kwargs)


def metric(controller: Controller, name: str) -> float:
    """The sum of a metric's samples over all its labels."""
    return sum(value for key, value in controller.metrics().items() if key.split("{")[0] == name)
