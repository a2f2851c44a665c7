"""Track `basics`: list-pods in every language, compared with the API's own answer.

Expected output is computed here, from the pods the API returns, following
CONTRACT.md; every language's output must equal it field by field, so the
three languages also equal each other.
"""

from __future__ import annotations

import concurrent.futures
import socket
import subprocess

import pytest
import yaml
from kubernetes import client

from conftest import make_namespace
from kube import service_account_kubeconfig, wait_for
from programs import environment, insecure_kubeconfig, json_lines, run

pytestmark = pytest.mark.track("basics")

PAGINATION_PODS = 1500
# A scheduler that does not exist: pods stay Pending with no node and cost the
# cluster nothing, which is all a listing test needs.
NO_SCHEDULER = "none-such-scheduler"
# A real image, so scheduled pods also run on kind's real kubelet (kwok runs no
# container and ignores it): kubeadm's pause image of this release, which kind
# node images preload. `/pause -v` prints its version and exits 0, as an init
# container must.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.2"


# ----- the expected answer, from the API ------------------------------------------
def expected_records(api: client.ApiClient, namespaces: list[str], selector: str = "") -> list[dict]:
    core = client.CoreV1Api(api)
    pods = []
    for namespace in namespaces:
        pods += core.list_namespaced_pod(namespace, label_selector=selector).items
    records = [record_of(api.sanitize_for_serialization(pod)) for pod in pods]
    return sorted(records, key=lambda r: (r["namespace"], r["name"]))


def record_of(pod: dict) -> dict:
    """CONTRACT.md's record, written independently of every implementation."""
    spec, status = pod["spec"], pod.get("status", {})
    statuses = status.get("containerStatuses", [])
    return {
        "namespace": pod["metadata"]["namespace"],
        "name": pod["metadata"]["name"],
        "phase": status.get("phase", ""),
        "node": spec.get("nodeName", ""),
        "ready": f"{sum(1 for s in statuses if s.get('ready'))}/{len(spec['containers'])}",
        "restarts": sum(s.get("restartCount", 0) for s in statuses),
        "containers": [c["name"] for c in spec["containers"]],
        "images": [c["image"] for c in spec["containers"]],
    }


# ----- cluster state --------------------------------------------------------------
def pod(name: str, labels: dict | None = None, containers: int = 1, init: int = 0, scheduled: bool = True):
    def container(prefix: str, index: int) -> client.V1Container:
        command = ["/pause", "-v"] if prefix == "init" else None
        return client.V1Container(name=f"{prefix}{index}", image=PAUSE_IMAGE, command=command)

    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(
            containers=[container("app", i) for i in range(containers)],
            init_containers=[container("init", i) for i in range(init)] or None,
            scheduler_name=None if scheduled else NO_SCHEDULER,
        ),
    )


def create_running(api: client.ApiClient, namespace: str, *pods: client.V1Pod) -> None:
    core = client.CoreV1Api(api)
    for p in pods:
        core.create_namespaced_pod(namespace, p)

    def all_ready():
        items = core.list_namespaced_pod(namespace).items
        return len(items) == len(pods) and all(
            i.status.phase == "Running" and i.status.container_statuses for i in items
        )

    wait_for(all_ready, timeout=90, what=f"{len(pods)} pods Running in {namespace}")


def list_json(cluster, language: str, *args: str) -> list[dict]:
    result = run(cluster, "basics", language, ["-o", "json", *args])
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return json_lines(result.stdout)


def assert_one_line_error(result: subprocess.CompletedProcess, exit_code: int, *words: str) -> None:
    assert result.returncode == exit_code, f"exit {result.returncode}, stderr: {result.stderr!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


# ----- scenarios --------------------------------------------------------------------
def test_empty_namespace(cluster, namespace, language):
    assert list_json(cluster, language, "-n", namespace) == []
    table = run(cluster, "basics", language, ["-n", namespace])
    assert table.returncode == 0
    assert table.stdout == ""
    assert table.stderr.strip() == f"No resources found in {namespace} namespace."


def test_one_pod(cluster, api, namespace, language):
    create_running(api, namespace, pod("solo"))
    records = list_json(cluster, language, "-n", namespace)
    assert records == expected_records(api, [namespace])
    assert records[0]["phase"] == "Running" and records[0]["ready"] == "1/1"

    table = run(cluster, "basics", language, ["-n", namespace]).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"]
    name, ready, status, restarts, node, age = table[1].split()
    assert (name, ready, status, restarts, node) == ("solo", "1/1", "Running", "0", records[0]["node"])
    assert age[-1] in "smhdy" and age[:-1].replace("m", "").isdigit(), age


def test_multi_container_pod_with_init_container(cluster, api, namespace, language):
    create_running(api, namespace, pod("multi", containers=3, init=1))
    records = list_json(cluster, language, "-n", namespace)
    assert records == expected_records(api, [namespace])
    assert records[0]["containers"] == ["app0", "app1", "app2"], "every container, init containers excluded"
    assert records[0]["ready"] == "3/3"


@pytest.fixture(scope="module")
def crowded_namespace(api) -> str:
    """1,500 pods in one namespace: three pages of 500 for every lister."""
    core = client.CoreV1Api(api)
    name = make_namespace(core, "pagination")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda i: core.create_namespaced_pod(name, pod(f"p-{i:04d}", scheduled=False)), range(PAGINATION_PODS)
            )
        )
    yield name
    core.delete_namespace(name, propagation_policy="Background")


_pagination_outputs: dict[str, list[dict]] = {}


def test_pagination_1500_pods(cluster, api, crowded_namespace, language):
    records = list_json(cluster, language, "-n", crowded_namespace)
    expected = expected_records(api, [crowded_namespace])
    assert len(expected) == PAGINATION_PODS
    assert len(records) == PAGINATION_PODS, "a lister that ignores `continue` stops at the first page"
    assert records == expected
    # Identical across languages, not merely each equal to the API.
    _pagination_outputs[language] = records
    assert all(other == records for other in _pagination_outputs.values())


def test_label_selector(cluster, api, namespace, language):
    core = client.CoreV1Api(api)
    for name, tier in [("web-1", "web"), ("web-2", "web"), ("db-1", "db")]:
        core.create_namespaced_pod(namespace, pod(name, labels={"tier": tier}, scheduled=False))
    records = list_json(cluster, language, "-n", namespace, "-l", "tier=web")
    assert [r["name"] for r in records] == ["web-1", "web-2"]
    assert records == expected_records(api, [namespace], selector="tier=web")


def test_all_namespaces(cluster, api, language):
    core = client.CoreV1Api(api)
    namespaces = sorted(make_namespace(core, f"all-ns-{i}") for i in range(3))
    try:
        for index, ns in enumerate(namespaces):
            for i in range(index + 1):
                core.create_namespaced_pod(ns, pod(f"pod-{i}", scheduled=False))
        records = list_json(cluster, language, "-A")
        ours = [r for r in records if r["namespace"] in namespaces]
        assert ours == expected_records(api, namespaces)
        assert records == sorted(records, key=lambda r: (r["namespace"], r["name"])), "sorted across namespaces"

        table = run(cluster, "basics", language, ["-A"]).stdout.splitlines()
        assert table[0].split()[:2] == ["NAMESPACE", "NAME"]
    finally:
        for ns in namespaces:
            core.delete_namespace(ns, propagation_policy="Background")


def test_missing_kubeconfig(cluster, language, tmp_path):
    result = run(cluster, "basics", language, ["--kubeconfig", str(tmp_path / "absent")])
    assert_one_line_error(result, 1, "kubeconfig")


def test_invalid_kubeconfig(cluster, language, tmp_path):
    broken = tmp_path / "broken"
    broken.write_text("this: [is not a kubeconfig\n")
    env = environment(cluster, broken)
    result = run(cluster, "basics", language, [], env=env)
    assert_one_line_error(result, 1, "kubeconfig")


def test_unreachable_server(cluster, language, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    kubeconfig = tmp_path / "unreachable"
    kubeconfig.write_text(yaml.safe_dump(config))
    result = run(cluster, "basics", language, ["--kubeconfig", str(kubeconfig)])
    assert_one_line_error(result, 1, "cannot reach the API server")


def test_server_that_never_answers(cluster, language, fault_proxy, tmp_path):
    """A server that accepts the connection and then says nothing: one line and exit 1, never a hang.

    The program's own bound is CONTRACT.md's request timeout (30 s); ``run``'s deadline is only a
    guard against hanging, not a speed assertion.
    """
    proxy = fault_proxy(cluster.kubeconfig)
    silent = proxy.kubeconfig(cluster.kubeconfig, tmp_path / "silent")
    proxy.blackhole()
    result = run(cluster, "basics", language, ["--kubeconfig", str(silent), "-n", "default"])
    assert_one_line_error(result, 1, "cannot reach the API server")
    assert result.stdout == ""


def test_kubeconfig_that_skips_tls_verification_is_refused(cluster, language, tmp_path):
    kubeconfig = insecure_kubeconfig(cluster, tmp_path / "insecure")
    result = run(cluster, "basics", language, ["--kubeconfig", str(kubeconfig), "-n", "default"])
    assert_one_line_error(result, 1, "TLS")
    assert result.stdout == ""


def test_forbidden_user(cluster, api, namespace, language, tmp_path):
    client.CoreV1Api(api).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    kubeconfig = service_account_kubeconfig(cluster, api, namespace, "nobody", tmp_path / "nobody")
    result = run(cluster, "basics", language, ["--kubeconfig", str(kubeconfig), "-n", namespace])
    assert_one_line_error(result, 1, "403 Forbidden", "list pods")


@pytest.mark.parametrize(
    "args", [["-n", "x", "-A"], ["-o", "yaml"], ["--no-such-flag"], ["extra"], ["-n", ""], ["--namespace="]]
)
def test_usage_errors(cluster, language, args):
    result = run(cluster, "basics", language, args)
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr!r}"
    assert result.stderr.startswith("error: "), result.stderr
