"""Track `intermediate`: watch-pods in every language, against the API's own event stream.

The suite opens its own watch (the API's answer) beside the program under
test, runs a scripted sequence of writes and compares the two event lists
field by field. Disruptions (API server restart, an expired resourceVersion)
need a cluster whose processes the suite owns: the `local` provider.
"""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest
from kubernetes import client, watch

from kube import service_account_kubeconfig, wait_for
from programs import Watcher, insecure_kubeconfig, run

pytestmark = pytest.mark.track("intermediate")

EVENT_TIMEOUT = 60
SENTINEL = "sentinel"
NO_SCHEDULER = "none-such-scheduler"  # pods stay Pending: only the script's writes make events


@pytest.fixture
def watchers():
    """Start watchers through this; every one is killed at teardown."""
    started: list[Watcher] = []

    def start(cluster, language: str, *args: str, kubeconfig=None) -> Watcher:
        w = Watcher(cluster, language, ["-o", "json", *args], kubeconfig=kubeconfig)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def requires_disruption(cluster) -> None:
    if not cluster.supports_disruption:
        pytest.skip(f"the {cluster.name} provider cannot restart the API server or compact etcd")


def new_pod(name: str, labels: dict | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(
            scheduler_name=NO_SCHEDULER,
            containers=[client.V1Container(name="app", image="registry.invalid/app:1")],
        ),
    )


def event_key(event: dict) -> tuple:
    return (event["type"], event["namespace"], event["name"], event["phase"], event["resourceVersion"])


def start_after_sentinel(cluster, api, namespace, watchers, language: str) -> tuple[Watcher, str]:
    """Create a sentinel pod, start the watcher, wait until it has listed it.

    Returns the watcher and the sentinel's resourceVersion. Once the list is
    printed the watcher resumes from the list's resourceVersion, so nothing
    written afterwards can be missed whether or not its watch is open yet.
    """
    core = client.CoreV1Api(api)
    sentinel = core.create_namespaced_pod(namespace, new_pod(SENTINEL))
    watcher = watchers(cluster, language, "-n", namespace)
    watcher.wait_for_event(lambda e: e["name"] == SENTINEL, EVENT_TIMEOUT, "ADDED sentinel")
    return watcher, sentinel.metadata.resource_version


def api_events(api, namespace: str, since: str, until_name: str, until_type: str) -> list[dict]:
    """The API's own event list: a raw watch from ``since`` until an event is seen."""
    core = client.CoreV1Api(api)
    events = []
    stream = watch.Watch().stream(
        core.list_namespaced_pod, namespace, resource_version=since, timeout_seconds=EVENT_TIMEOUT
    )
    for raw in stream:
        pod = raw["object"]
        events.append(
            {
                "type": raw["type"],
                "namespace": pod.metadata.namespace,
                "name": pod.metadata.name,
                "phase": pod.status.phase or "",
                "resourceVersion": pod.metadata.resource_version,
            }
        )
        if pod.metadata.name == until_name and raw["type"] == until_type:
            break
    return events


def watch_status(api, namespace: str, resource_version: str) -> int:
    """The status a watch from ``resource_version`` starts with: an HTTP 410,
    or a 200 whose first event is an ERROR carrying the code."""
    core = client.CoreV1Api(api)
    try:
        response = core.list_namespaced_pod(
            namespace, watch=True, resource_version=resource_version, timeout_seconds=1, _preload_content=False
        )
    except client.ApiException as error:
        return error.status
    first = json.loads(response.readline() or "{}")
    response.release_conn()
    return first.get("object", {}).get("code", 200) if first.get("type") == "ERROR" else 200


def replay(events: list[dict]) -> dict[str, str]:
    """What a consumer applying the events believes: name -> resourceVersion."""
    state: dict[str, str] = {}
    for event in events:
        if event["type"] == "DELETED":
            state.pop(event["name"], None)
        else:
            state[event["name"]] = event["resourceVersion"]
    return state


def truth(api, namespace: str) -> dict[str, str]:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
    return {p.metadata.name: p.metadata.resource_version for p in pods}


def assert_no_replayed_events(events: list[dict]) -> None:
    repeats = [key for key, count in Counter(map(event_key, events)).items() if count > 1]
    assert not repeats, f"events printed twice: {repeats}"


# ----- scenarios --------------------------------------------------------------------
def test_existing_pods_appear_as_added_first(cluster, api, namespace, watchers, language):
    core = client.CoreV1Api(api)
    for name in ("c-pod", "a-pod", "b-pod"):
        core.create_namespaced_pod(namespace, new_pod(name))
    watcher = watchers(cluster, language, "-n", namespace)
    events = watcher.wait_for_event(lambda e: e["name"] == "c-pod", EVENT_TIMEOUT, "the three existing pods")
    assert [(e["type"], e["name"]) for e in events[:3]] == [("ADDED", "a-pod"), ("ADDED", "b-pod"), ("ADDED", "c-pod")]
    listed = {p.metadata.name: p.metadata.resource_version for p in core.list_namespaced_pod(namespace).items}
    assert {e["name"]: e["resourceVersion"] for e in events[:3]} == listed


def test_scripted_sequence_matches_the_api(cluster, api, namespace, watchers, language):
    core = client.CoreV1Api(api)
    watcher, since = start_after_sentinel(cluster, api, namespace, watchers, language)

    # The script: create, label, phase change, delete.
    core.create_namespaced_pod(namespace, new_pod("one"))
    core.create_namespaced_pod(namespace, new_pod("two"))
    core.patch_namespaced_pod("one", namespace, {"metadata": {"labels": {"stage": "labelled"}}})
    core.patch_namespaced_pod_status("two", namespace, {"status": {"phase": "Running"}})
    core.delete_namespaced_pod("one", namespace, grace_period_seconds=0)
    core.delete_namespaced_pod("two", namespace, grace_period_seconds=0)

    expected = api_events(api, namespace, since, until_name="two", until_type="DELETED")
    assert [(e["type"], e["name"], e["phase"]) for e in expected] == [
        ("ADDED", "one", "Pending"),
        ("ADDED", "two", "Pending"),
        ("MODIFIED", "one", "Pending"),
        ("MODIFIED", "two", "Running"),
        ("MODIFIED", "one", "Pending"),  # deletionTimestamp set...
        ("DELETED", "one", "Pending"),  # ...then gone
        ("MODIFIED", "two", "Running"),
        ("DELETED", "two", "Running"),
    ], "the API itself did not produce the scripted events"
    seen = watcher.wait_for_event(lambda e: e["name"] == "two" and e["type"] == "DELETED", EVENT_TIMEOUT, "DELETED two")
    assert seen[0]["type"] == "ADDED" and seen[0]["name"] == SENTINEL
    assert seen[1:] == expected


def test_label_selector_filters_the_list_and_the_watch(cluster, api, namespace, watchers, language):
    """-l is the API server's labelSelector, on the list and on the watch: a pod that takes the label arrives
    as ADDED, one that loses it leaves as DELETED, and a pod without it never shows."""
    core = client.CoreV1Api(api)
    web = {"tier": "web"}
    core.create_namespaced_pod(namespace, new_pod("listed", web))
    core.create_namespaced_pod(namespace, new_pod("joins"))
    watcher = watchers(cluster, language, "-n", namespace, "-l", "tier=web")
    watcher.wait_for_event(lambda e: e["name"] == "listed", EVENT_TIMEOUT, "ADDED listed")

    core.create_namespaced_pod(namespace, new_pod("never"))
    core.create_namespaced_pod(namespace, new_pod("created", web))
    core.patch_namespaced_pod("joins", namespace, {"metadata": {"labels": web}})
    core.patch_namespaced_pod("created", namespace, {"metadata": {"labels": {"tier": None}}})

    seen = watcher.wait_for_event(
        lambda e: e["name"] == "created" and e["type"] == "DELETED", EVENT_TIMEOUT, "DELETED created"
    )
    assert [(e["type"], e["name"]) for e in seen] == [
        ("ADDED", "listed"),
        ("ADDED", "created"),
        ("ADDED", "joins"),  # took the label
        ("DELETED", "created"),  # lost it: gone from the selection, not from the cluster
    ]


@pytest.mark.disruptive
def test_apiserver_restart_mid_watch(cluster, api, namespace, watchers, language):
    requires_disruption(cluster)
    core = client.CoreV1Api(api)
    watcher, _ = start_after_sentinel(cluster, api, namespace, watchers, language)
    core.create_namespaced_pod(namespace, new_pod("before"))
    watcher.wait_for_event(lambda e: e["name"] == "before", EVENT_TIMEOUT, "ADDED before")
    printed_before_restart = list(watcher.events)

    cluster.restart_component("kube-apiserver")

    core.create_namespaced_pod(namespace, new_pod("after"))
    core.patch_namespaced_pod("before", namespace, {"metadata": {"labels": {"restarted": "yes"}}})
    core.delete_namespaced_pod(SENTINEL, namespace)
    core.create_namespaced_pod(namespace, new_pod("last"))
    events = watcher.wait_for_event(lambda e: e["name"] == "last", 2 * EVENT_TIMEOUT, "ADDED last")

    assert events[: len(printed_before_restart)] == printed_before_restart
    assert_no_replayed_events(events)
    assert replay(events) == truth(api, namespace)


def relist_difference(printed: list[dict], pods: list[client.V1Pod]) -> list[dict]:
    """CONTRACT.md's re-list output, written independently of every implementation: what a watcher that has
    printed ``printed`` prints after re-listing ``pods`` (one namespace)."""
    known: dict[str, dict] = {}
    for event in printed:
        if event["type"] == "DELETED":
            known.pop(event["name"], None)
        else:
            known[event["name"]] = event
    difference = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        line = {
            "namespace": pod.metadata.namespace,
            "name": pod.metadata.name,
            "phase": pod.status.phase or "",
            "resourceVersion": pod.metadata.resource_version,
        }
        if pod.metadata.name not in known:
            difference.append({"type": "ADDED", **line})
        elif known[pod.metadata.name]["resourceVersion"] != line["resourceVersion"]:
            difference.append({"type": "MODIFIED", **line})
    listed = {pod.metadata.name for pod in pods}
    for name in sorted(known.keys() - listed):  # gone: as last printed
        difference.append({**known[name], "type": "DELETED"})
    return difference


@pytest.mark.disruptive
def test_expired_resource_version_relists(cluster, api, namespace, watchers, language):
    requires_disruption(cluster)
    core = client.CoreV1Api(api)
    watcher, since = start_after_sentinel(cluster, api, namespace, watchers, language)
    core.create_namespaced_pod(namespace, new_pod("old"))
    watcher.wait_for_event(lambda e: e["name"] == "old", EVENT_TIMEOUT, "ADDED old")

    # Freeze the watcher, cut its connection, change the world, then compact
    # etcd so the resourceVersion it will resume from no longer exists.
    watcher.signal(signal.SIGSTOP)
    try:
        # What the watcher can resume from: at least the last resourceVersion it printed (a bookmark, not
        # printed, may have moved it on), at most the cluster's resourceVersion now that it is frozen.
        printed_before = list(watcher.events)
        last_printed = printed_before[-1]["resourceVersion"]
        frozen_at = core.list_namespaced_pod(namespace).metadata.resource_version
        cluster.restart_component("kube-apiserver")
        # Writes whose event stream differs from the re-list's difference: a resumed watch would print two
        # MODIFIED old, ADDED then DELETED doomed, zz before aa, and DELETED sentinel with a new
        # resourceVersion; the difference prints none of that.
        core.create_namespaced_pod(namespace, new_pod("zz-new"))
        core.create_namespaced_pod(namespace, new_pod("aa-new"))
        core.patch_namespaced_pod("old", namespace, {"metadata": {"labels": {"changed": "yes"}}})
        core.patch_namespaced_pod("old", namespace, {"metadata": {"labels": {"changed": "twice"}}})
        core.create_namespaced_pod(namespace, new_pod("doomed"))
        core.delete_namespaced_pod("doomed", namespace)
        core.delete_namespaced_pod(SENTINEL, namespace)
        cluster.compact_etcd()
        # The condition under test, for every resourceVersion the watcher may resume from (410 only grows
        # with age, so the two ends bound it), not only for the sentinel's.
        for resource_version in (since, last_printed, frozen_at):
            assert watch_status(api, namespace, resource_version) == 410, (
                f"a watch from {resource_version} is not 410: the condition under test was not forced"
            )
    finally:
        watcher.signal(signal.SIGCONT)

    def converged():
        events = watcher.events
        return replay(events) == truth(api, namespace) and events

    events = wait_for(converged, timeout=2 * EVENT_TIMEOUT, what=f"{language} watcher to converge after 410")
    assert events[: len(printed_before)] == printed_before
    # A re-list happened: what follows is exactly the difference CONTRACT.md prescribes, against the truth.
    expected = relist_difference(printed_before, core.list_namespaced_pod(namespace).items)
    assert events[len(printed_before) :] == expected
    # The sentinel's DELETED carries its resourceVersion as printed at the start, as no watch event could.
    assert printed_before[0]["resourceVersion"] == since
    assert {**printed_before[0], "type": "DELETED"} in expected
    assert not any(e["name"] == "doomed" for e in events)
    assert_no_replayed_events(events)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_watcher(cluster, api, namespace, watchers, language, signum):
    watcher, _ = start_after_sentinel(cluster, api, namespace, watchers, language)
    watcher.signal(signum)
    # A deadline against hanging, not a speed assertion: `make bench` times it.
    assert watcher.wait_exit(timeout=10) == 0


def test_timeout_ends_the_watch(cluster, namespace, watchers, language):
    watcher = watchers(cluster, language, "-n", namespace, "--timeout", "2")
    assert watcher.wait_exit(timeout=30) == 0


def test_forbidden_watch(cluster, api, namespace, watchers, language, tmp_path):
    """Allowed to list but not to watch: the error names the watch."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="lister"))
    )
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="list-only"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="lister"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="list-only"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="lister", namespace=namespace)],
        ),
    )
    kubeconfig = service_account_kubeconfig(cluster, api, namespace, "lister", tmp_path / "lister")
    watcher = watchers(cluster, language, "-n", namespace, kubeconfig=kubeconfig)
    assert watcher.wait_exit(timeout=60) == 1
    lines = watcher.stderr().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "403 Forbidden" in lines[0] and "watch pods" in lines[0], lines[0]


def test_server_that_never_answers(cluster, namespace, watchers, language, fault_proxy, tmp_path):
    """The first list meets a server that accepts the connection and says nothing: one line, exit 1.

    The program's own bound is CONTRACT.md's request timeout (30 s); the deadline here only guards
    against hanging.
    """
    proxy = fault_proxy(cluster.kubeconfig)
    silent = proxy.kubeconfig(cluster.kubeconfig, tmp_path / "silent")
    proxy.blackhole()
    watcher = watchers(cluster, language, "-n", namespace, kubeconfig=silent)
    assert watcher.wait_exit(timeout=120) == 1
    lines = watcher.stderr().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "cannot reach the API server" in lines[0], lines[0]
    assert watcher.events == []


def test_kubeconfig_that_skips_tls_verification_is_refused(cluster, namespace, watchers, language, tmp_path):
    kubeconfig = insecure_kubeconfig(cluster, tmp_path / "insecure")
    watcher = watchers(cluster, language, "-n", namespace, kubeconfig=kubeconfig)
    assert watcher.wait_exit(timeout=60) == 1
    lines = watcher.stderr().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "TLS" in lines[0], lines
    assert watcher.events == []


@pytest.mark.parametrize(
    "args",
    [
        ["--timeout", "0"],
        ["--timeout", "2147483648"],  # beyond 2^31-1
        ["--timeout", "9223372036854775808"],  # beyond a signed 64-bit integer: Bash would wrap it around
        ["-n", ""],
        ["--namespace="],
    ],
)
def test_usage_errors(cluster, language, args):
    result = run(cluster, "intermediate", language, ["-o", "json", *args])
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr!r}"
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stdout == ""
