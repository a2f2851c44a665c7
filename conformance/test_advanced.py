"""Track `advanced`: the StaticSite controller in every language, held to one spec.

Each scenario starts the language's controller as a process with the
ServiceAccount credentials of ``shared-manifests/rbac``, drives the cluster
through some steps, and after each step waits (polling, with a deadline) for
a normalized snapshot of the state. The snapshots are compared with golden
files that the Python reference produced (``--update-golden`` rewrites them
from a Python run), so every language must leave exactly the same state.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest
from advanced_fixtures import audit_log, metric, start
from bench.audit import EVENTS, WRITE_VERBS
from controllers import (
    CONTROLLER_NAMESPACE,
    CONTROLLER_USER,
    FINALIZER,
    REGISTRY,
    create_site,
    get_site,
    lease_holder,
    patch_site_spec,
    ready_condition,
    site_manifest,
    wait_ready,
)
from kubernetes import client

from conftest import make_namespace
from kube import kubectl, wait_for, wait_namespace_gone

pytestmark = pytest.mark.track("advanced")

MANY_SITES = 200
SA_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


# ----- scenarios ------------------------------------------------------------------------
def test_create_ready(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "hello", replicas=2)
    wait_ready(api, site_namespace, "hello", ready_replicas=2)
    golden("ready", api, site_namespace, ["hello"])


def test_kubectl_wait_for_ready(cluster, api, controllers, site_namespace, language):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "waited")
    result = kubectl(
        cluster, "wait", "--for=condition=Ready", "staticsite/waited", "-n", site_namespace, "--timeout=120s"
    )
    assert "condition met" in result.stdout


def test_scale_up_and_down(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "scaled")
    wait_ready(api, site_namespace, "scaled", ready_replicas=1)
    patch_site_spec(api, site_namespace, "scaled", {"replicas": 3})
    wait_ready(api, site_namespace, "scaled", ready_replicas=3)
    golden("up", api, site_namespace, ["scaled"])
    patch_site_spec(api, site_namespace, "scaled", {"replicas": 1})
    wait_ready(api, site_namespace, "scaled", ready_replicas=1)
    golden("down", api, site_namespace, ["scaled"])


def test_content_change_rolls_pods(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "rolling", replicas=2)
    wait_ready(api, site_namespace, "rolling", ready_replicas=2)
    first = golden("before", api, site_namespace, ["rolling"])
    patch_site_spec(api, site_namespace, "rolling", {"content": {"index.html": "<h1>v2</h1>"}})
    wait_ready(api, site_namespace, "rolling", ready_replicas=2)
    second = golden("after", api, site_namespace, ["rolling"])

    hash_key = "sites.example.com/content-hash"
    old_hash = first["sites"]["rolling"]["deployment"]["spec"]["template"]["metadata"]["annotations"][hash_key]
    new_hash = second["sites"]["rolling"]["deployment"]["spec"]["template"]["metadata"]["annotations"][hash_key]
    assert old_hash != new_hash

    def pods_rolled():
        pods = (
            client.CoreV1Api(api)
            .list_namespaced_pod(site_namespace, label_selector="app.kubernetes.io/instance=rolling")
            .items
        )
        live = [p for p in pods if not p.metadata.deletion_timestamp]
        return len(live) == 2 and all(p.metadata.annotations.get(hash_key) == new_hash for p in live)

    wait_for(pods_rolled, timeout=120, what="the pods to roll to the new content")


def test_replicas_zero(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "idle", replicas=0)
    wait_ready(api, site_namespace, "idle", ready_replicas=0)
    golden("ready", api, site_namespace, ["idle"])


def test_deleted_child_is_restored(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "healing")
    wait_ready(api, site_namespace, "healing")
    core = client.CoreV1Api(api)
    old_uids = {
        "service": core.read_namespaced_service("healing", site_namespace).metadata.uid,
        "configmap": core.read_namespaced_config_map("healing-content", site_namespace).metadata.uid,
    }
    core.delete_namespaced_service("healing", site_namespace)
    core.delete_namespaced_config_map("healing-content", site_namespace)

    def recreated():
        try:
            return (
                core.read_namespaced_service("healing", site_namespace).metadata.uid != old_uids["service"]
                and core.read_namespaced_config_map("healing-content", site_namespace).metadata.uid
                != old_uids["configmap"]
            )
        except client.ApiException:
            return False

    wait_for(recreated, timeout=60, what="the deleted Service and ConfigMap to be recreated")
    golden("restored", api, site_namespace, ["healing"])


def test_edited_child_is_restored(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "drift", replicas=2)
    wait_ready(api, site_namespace, "drift", ready_replicas=2)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.patch_namespaced_deployment(
        "drift",
        site_namespace,
        {"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "web", "image": "busybox:1"}]}}}},
    )
    core.patch_namespaced_config_map("drift-content", site_namespace, {"data": {"index.html": "defaced"}})

    def repaired():
        d = apps.read_namespaced_deployment("drift", site_namespace)
        cm = core.read_namespaced_config_map("drift-content", site_namespace)
        return (
            d.spec.replicas == 2
            and d.spec.template.spec.containers[0].image == "nginx:1.27.3"
            and cm.data == site_manifest("drift")["spec"]["content"]
        )

    wait_for(repaired, timeout=60, what="the edited Deployment and ConfigMap to be repaired")
    wait_ready(api, site_namespace, "drift", ready_replicas=2)
    golden("repaired", api, site_namespace, ["drift"])


def test_child_conflict_never_overwritten(api, controllers, site_namespace, language, golden):
    core = client.CoreV1Api(api)
    squatter = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="taken-content", labels={"owner": "someone-else"}), data={"keep": "me"}
    )
    core.create_namespaced_config_map(site_namespace, squatter)
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "taken")
    wait_ready(api, site_namespace, "taken", reason="ChildConflict")
    golden("conflict", api, site_namespace, ["taken"])

    untouched = core.read_namespaced_config_map("taken-content", site_namespace)
    assert untouched.data == {"keep": "me"} and untouched.metadata.labels == {"owner": "someone-else"}
    assert not untouched.metadata.owner_references

    core.delete_namespaced_config_map("taken-content", site_namespace)
    wait_ready(api, site_namespace, "taken", timeout=180)  # after the retry backoff
    golden("recovered", api, site_namespace, ["taken"])


def test_invalid_spec_rejected_by_schema(cluster, site_namespace):
    """The CRD's schema, not a controller, refuses this: checked once, not once per language."""
    bad = site_manifest("bad", replicas=11, content={"../escape": "x"})
    result = kubectl(cluster, "apply", "-n", site_namespace, "-f", "-", stdin=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "spec.replicas in body should be less than or equal to 10" in result.stderr
    assert "content file names must be 1-63 letters" in result.stderr


def test_invalid_name_reported(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "1st-site")
    wait_ready(api, site_namespace, "1st-site", reason="InvalidSpec")
    golden("invalid", api, site_namespace, ["1st-site"])


def test_delete_removes_registry_key_and_children(api, controllers, site_namespace, language, golden):
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "keep")
    create_site(api, site_namespace, "gone")
    wait_ready(api, site_namespace, "keep")
    wait_ready(api, site_namespace, "gone")
    golden("both", api, site_namespace, ["keep", "gone"])
    assert FINALIZER in get_site(api, site_namespace, "gone")["metadata"]["finalizers"]

    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        "sites.example.com", "v1alpha1", site_namespace, "staticsites", "gone"
    )
    wait_for(lambda: get_site(api, site_namespace, "gone") is None, timeout=60, what="site gone to be finalized")
    apps = client.AppsV1Api(api)
    wait_for(
        lambda: [d.metadata.name for d in apps.list_namespaced_deployment(site_namespace).items] == ["keep"],
        timeout=60,
        what="the deleted site's Deployment to be garbage-collected",
    )
    golden("one-left", api, site_namespace, ["keep"])


def test_namespace_deletion_with_sites_completes(api, controllers, language):
    core = client.CoreV1Api(api)
    namespace = make_namespace(core, f"ns-delete-{language}")
    start(controllers, language, namespace)
    for name in ("a", "b", "c"):
        create_site(api, namespace, name)
    for name in ("a", "b", "c"):
        wait_ready(api, namespace, name)
    core.delete_namespace(namespace)

    wait_namespace_gone(core, namespace, timeout=180, what=f"namespace {namespace} with sites to finish deleting")


def test_sigkill_mid_reconcile_and_mid_delete(api, controllers, site_namespace, language, golden):
    names = [f"site-{i:02d}" for i in range(20)]
    first = start(controllers, language, site_namespace)
    for name in names:
        create_site(api, site_namespace, name)
    apps = client.AppsV1Api(api)
    wait_for(lambda: apps.list_namespaced_deployment(site_namespace).items, timeout=60, what="a first Deployment")
    first.kill()  # mid-reconcile: some sites done, some not

    second = start(controllers, language, site_namespace)
    for name in names:
        wait_ready(api, site_namespace, name)
    # Which Synced events exist depends on where the kill landed: compare the state only.
    golden("converged", api, site_namespace, names, events=False)

    for name in names[:10]:
        client.CustomObjectsApi(api).delete_namespaced_custom_object(
            "sites.example.com", "v1alpha1", site_namespace, "staticsites", name
        )
    wait_for(
        lambda: any(get_site(api, site_namespace, n) is None for n in names[:10]),
        timeout=60,
        what="a first site to be finalized",
    )
    second.kill()  # mid-delete
    start(controllers, language, site_namespace)
    for name in names[:10]:
        wait_for(lambda n=name: get_site(api, site_namespace, n) is None, timeout=60, what=f"{name} finalized")
    golden("half-deleted", api, site_namespace, names[10:], events=False)


@pytest.mark.disruptive
def test_apiserver_restart(cluster, api, controllers, site_namespace, language, golden):
    if not cluster.supports_disruption:
        pytest.skip(f"the {cluster.name} provider cannot restart the API server")
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "steady")
    wait_ready(api, site_namespace, "steady")
    cluster.restart_component("kube-apiserver")
    patch_site_spec(api, site_namespace, "steady", {"replicas": 2})
    wait_ready(api, site_namespace, "steady", ready_replicas=2)
    golden("after-restart", api, site_namespace, ["steady"])


@pytest.mark.alone("the controllers' Lease is one object for the whole cluster")
def test_leader_election_one_writer(api, controllers, site_namespace, language):
    args = ("--leader-elect", "--lease-duration=6", "--renew-deadline=4", "--retry-period=1")
    pair = [start(controllers, language, site_namespace, *args) for _ in range(2)]
    holder = wait_for(lambda: lease_holder(api) in {c.identity for c in pair} and lease_holder(api),
                      timeout=60, what="one of the two controllers to hold the Lease")  # fmt: skip
    leader = next(c for c in pair if c.identity == holder)
    standby = next(c for c in pair if c.identity != holder)
    create_site(api, site_namespace, "elected")
    wait_ready(api, site_namespace, "elected")

    assert metric(leader, "staticsite_leader") == 1
    assert metric(standby, "staticsite_leader") == 0
    assert metric(leader, "staticsite_reconcile_total") > 0
    assert metric(standby, "staticsite_reconcile_total") == 0, "the standby reconciled: two writers"

    leader.kill()
    new_holder = wait_for(lambda: lease_holder(api) == standby.identity and standby.identity, timeout=60,
                          what="the standby to take over the Lease")  # fmt: skip
    assert new_holder == standby.identity
    create_site(api, site_namespace, "after-failover")
    wait_ready(api, site_namespace, "after-failover")
    assert metric(standby, "staticsite_leader") == 1


@pytest.mark.alone("the controllers' Lease is one object for the whole cluster")
def test_sigterm_releases_the_lease(api, controllers, site_namespace, language):
    controller = start(controllers, language, site_namespace, "--leader-elect", "--retry-period=1")
    wait_for(lambda: lease_holder(api) == controller.identity, timeout=60, what="the controller to lead")
    create_site(api, site_namespace, "graceful")
    wait_ready(api, site_namespace, "graceful")
    controller.signal(signal.SIGTERM)
    assert controller.wait_exit() == 0
    assert lease_holder(api) == "", "the Lease was not released on shutdown"
    try:  # an orderly stop leaves no process behind (the helpers of the Bash controller: proxy, jq, socat)
        wait_for(lambda: not controller.group_members(), timeout=10, what="the controller's processes to end")
    except AssertionError:
        raise AssertionError(f"processes outlived the controller: {controller.group_members()}") from None
    # The site is intact: shutting down deletes nothing.
    assert ready_condition(get_site(api, site_namespace, "graceful"))["status"] == "True"


def test_health_and_metrics_endpoints(api, controllers, site_namespace, language):
    controller = start(controllers, language, site_namespace)
    wait_for(lambda: controller.get("/readyz")[0] == 200, timeout=60, what="/readyz to answer 200")
    assert controller.get("/healthz")[0] == 200
    create_site(api, site_namespace, "measured")
    wait_ready(api, site_namespace, "measured")
    names = {key.split("{")[0] for key in controller.metrics()}
    for expected in ("staticsite_reconcile_total", "staticsite_queue_depth", "staticsite_leader"):
        assert expected in names, f"{expected} missing from /metrics"
    assert any(n.startswith("staticsite_reconcile_duration_seconds") for n in names)


def child_versions(api, namespace: str, name: str) -> dict[str, str]:
    """The resourceVersions of a site's children and of the namespace's registry."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    return {
        "configmap": core.read_namespaced_config_map(f"{name}-content", namespace).metadata.resource_version,
        "service": core.read_namespaced_service(name, namespace).metadata.resource_version,
        "deployment": apps.read_namespaced_deployment(name, namespace).metadata.resource_version,
        "registry": core.read_namespaced_config_map(REGISTRY, namespace).metadata.resource_version,
    }


def settled_child_versions(api, namespace: str, name: str) -> dict[str, str]:
    return wait_for(
        lambda: (v := child_versions(api, namespace, name)) == child_versions(api, namespace, name) and v,
        timeout=30,
        what="children to settle",
    )


def assert_no_writes_since(audit, position, namespace: str, when: str) -> None:
    """A server-side apply of an unchanged child changes no resourceVersion: only the requests show that the
    controller compared before it wrote. The API server's audit log has them (the admin's own requests are
    not audited); a provider without one (audit None) is checked by the resourceVersions alone."""
    if audit is None:
        return
    writes = [request.label for request in audit.requests_since(position) if request.namespace == namespace
              and request.verb in WRITE_VERBS and request.target != EVENTS]  # fmt: skip
    assert not writes, f"{when} sent write requests: {writes}"


def test_noop_reconcile_writes_nothing(api, cluster, controllers, site_namespace, language):
    controller = start(controllers, language, site_namespace)
    create_site(api, site_namespace, "quiet")
    wait_ready(api, site_namespace, "quiet")
    before = settled_child_versions(api, site_namespace, "quiet")
    reconciles = metric(controller, "staticsite_reconcile_total")
    audit = audit_log(cluster, CONTROLLER_USER)
    position = audit.position() if audit else None
    # A change that is no change to the desired state: an annotation on the site.
    touched = client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sites.example.com", "v1alpha1", site_namespace, "staticsites", "quiet",
        {"metadata": {"annotations": {"touched": "yes"}}},
    )  # fmt: skip
    wait_for(lambda: metric(controller, "staticsite_reconcile_total") > reconciles, timeout=30,
             what="the controller to reconcile the touched site")  # fmt: skip
    assert child_versions(api, site_namespace, "quiet") == before, "a no-op reconcile wrote a child or the registry"
    site = get_site(api, site_namespace, "quiet")
    assert site["metadata"]["resourceVersion"] == touched["metadata"]["resourceVersion"], "status was rewritten"
    assert_no_writes_since(audit, position, site_namespace, "a no-op reconcile")


def test_restarted_controller_writes_nothing(api, cluster, controllers, site_namespace, language):
    """A controller that starts again fills its cache from a first list, whose items carry no apiVersion or
    kind; the children are all in place, so its first reconcile writes nothing."""
    first = start(controllers, language, site_namespace)
    create_site(api, site_namespace, "steady")
    wait_ready(api, site_namespace, "steady")
    before = settled_child_versions(api, site_namespace, "steady")
    site_version = get_site(api, site_namespace, "steady")["metadata"]["resourceVersion"]
    first.stop()
    audit = audit_log(cluster, CONTROLLER_USER)
    position = audit.position() if audit else None
    second = start(controllers, language, site_namespace)
    wait_for(lambda: metric(second, "staticsite_reconcile_total") >= 1, timeout=30,
             what="the restarted controller to reconcile the site")  # fmt: skip
    assert child_versions(api, site_namespace, "steady") == before, "the restart wrote a child or the registry"
    assert get_site(api, site_namespace, "steady")["metadata"]["resourceVersion"] == site_version, (
        "the restart rewrote the site (its status or finalizer)"
    )
    assert_no_writes_since(audit, position, site_namespace, "a restarted controller's first reconcile")


@pytest.mark.alone("200 sites and their pods load the whole cluster: other scenarios' deadlines would measure it")
def test_many_sites_all_ready(api, controllers, site_namespace, language):
    start(controllers, language, site_namespace)
    names = [f"bulk-{i:03d}" for i in range(MANY_SITES)]
    for name in names:
        create_site(api, site_namespace, name)
    custom = client.CustomObjectsApi(api)

    def all_ready():
        sites = custom.list_namespaced_custom_object("sites.example.com", "v1alpha1", site_namespace, "staticsites")
        ready = [s for s in sites["items"] if ready_condition(s).get("status") == "True"]
        return len(ready) == MANY_SITES or None

    wait_for(all_ready, timeout=600, what=f"{MANY_SITES} sites to be Ready")
    # Concurrent workers add keys to one ConfigMap: none may be lost at scale.
    registry = client.CoreV1Api(api).read_namespaced_config_map(REGISTRY, site_namespace)
    assert set(registry.data or {}) == set(names), (
        f"registry keys differ: missing {sorted(set(names) - set(registry.data or {}))[:5]}, "
        f"extra {sorted(set(registry.data or {}) - set(names))[:5]}"
    )


def test_in_cluster_configuration(cluster, api, controllers, site_namespace, language, tmp_path, golden):
    """No kubeconfig at all: the ServiceAccount files at the standard path, in a private mount namespace."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is needed to mount the ServiceAccount files privately")
    secrets = tmp_path / "serviceaccount"
    secrets.mkdir()
    config = json.loads(kubectl(cluster, "config", "view", "--raw", "-o", "json",
                                kubeconfig=controllers.kubeconfig).stdout)  # fmt: skip
    server = config["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    (secrets / "token").write_text(config["users"][0]["user"]["token"])
    (secrets / "ca.crt").write_bytes(controllers.kubeconfig.with_suffix(".ca.crt").read_bytes())
    (secrets / "namespace").write_text(CONTROLLER_NAMESPACE)
    env = {
        "PATH": f"{Path(cluster.kubectl).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),  # no ~/.kube/config to fall back on
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
    }
    mount = f'mkdir -p {SA_TOKEN_DIR} && mount --bind {secrets} {SA_TOKEN_DIR} && exec "$@"'
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "in-cluster"]
    controllers.start(language, f"--namespace={site_namespace}", env=env, wrapper=wrapper)
    create_site(api, site_namespace, "inside")
    wait_ready(api, site_namespace, "inside")
    golden("ready", api, site_namespace, ["inside"])
