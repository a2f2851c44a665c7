"""Track `cluster`: the cluster under test is a real Kubernetes.

Each scenario proves one component does its job: kwok plays the kubelet, the
scheduler binds, the controller-manager runs Deployments, garbage collection
and namespace deletion, the API server serves CRDs and enforces RBAC, and the
binaries carry the pinned version.
"""

from __future__ import annotations

import json
import secrets

import pytest
from kubernetes import client

from clusterkit.versions import pinned

from kube import kubectl, service_account_kubeconfig, wait_for, wait_namespace_gone

pytestmark = pytest.mark.track("cluster")

WEB_LABELS = {"app": "web"}


def _condition(obj, kind: str) -> str | None:
    for condition in obj.status.conditions or []:
        if condition.type == kind:
            return condition.status
    return None


def _web_deployment(replicas: int) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web", labels=WEB_LABELS),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=WEB_LABELS),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=WEB_LABELS),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.27")]),
            ),
        ),
    )


def _running_ready_pods(core: client.CoreV1Api, namespace: str) -> list[str]:
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    return [
        p.metadata.name
        for p in pods
        if p.status.phase == "Running" and _condition(p, "Ready") == "True" and p.spec.node_name
    ]


def test_kwok_node_ready(api, cluster):
    if cluster.name != "local":
        pytest.skip("kwok nodes exist only in the local cluster")
    core = client.CoreV1Api(api)

    def ready_kwok_nodes():
        nodes = core.list_node(label_selector="type=kwok").items
        return [n.metadata.name for n in nodes if _condition(n, "Ready") == "True"]

    assert wait_for(ready_kwok_nodes, timeout=60, what="a Ready kwok node")


def test_deployment_pods_running_and_ready(api, namespace):
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(namespace, _web_deployment(replicas=3))

    pods = wait_for(
        lambda: (names := _running_ready_pods(core, namespace)) and len(names) == 3 and names,
        timeout=90,
        what="3 Running and Ready pods of deployment web",
    )
    assert len(set(pods)) == 3
    deployment = wait_for(
        lambda: (d := apps.read_namespaced_deployment("web", namespace)).status.available_replicas == 3 and d,
        timeout=60,
        what="deployment web to report 3 available replicas",
    )
    assert _condition(deployment, "Available") == "True"


def test_deleting_deployment_garbage_collects(api, namespace):
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(namespace, _web_deployment(replicas=2))
    wait_for(lambda: len(_running_ready_pods(core, namespace)) == 2, timeout=90, what="2 pods of web")
    assert apps.list_namespaced_replica_set(namespace).items, "the Deployment made no ReplicaSet"

    # Background propagation: the Deployment goes at once and the
    # controller-manager's garbage collector deletes its dependents.
    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Background")

    wait_for(
        lambda: not apps.list_namespaced_replica_set(namespace).items,
        timeout=90,
        what="the ReplicaSet to be garbage-collected",
    )
    wait_for(lambda: not core.list_namespaced_pod(namespace).items, timeout=90, what="the pods to be garbage-collected")


def test_namespace_deletion_completes(api):
    from conftest import make_namespace

    core = client.CoreV1Api(api)
    name = make_namespace(core, "test_namespace_deletion")
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="data")))
    client.AppsV1Api(api).create_namespaced_deployment(name, _web_deployment(replicas=1))
    wait_for(lambda: _running_ready_pods(core, name), timeout=90, what="a running pod")

    core.delete_namespace(name)

    wait_namespace_gone(core, name, timeout=120, what=f"namespace {name} to finish deleting")


def _crd(group: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                        }
                    },
                }
            ],
        },
    }


def test_crd_served_after_install(api, namespace):
    group = f"c{secrets.token_hex(3)}.conformance.example.com"
    extensions = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    crd = extensions.create_custom_resource_definition(_crd(group))
    try:
        wait_for(
            lambda: _condition(extensions.read_custom_resource_definition(crd.metadata.name), "Established") == "True",
            timeout=60,
            what="the CRD to be Established",
        )
        widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
        # Discovery can lag Established by a moment: retry the first write.
        wait_for(
            lambda: custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", widget),
            timeout=30,
            what="the new resource to accept a Widget",
        )
        stored = custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", "w")
        assert stored["spec"] == {"size": 3}
    finally:
        extensions.delete_custom_resource_definition(crd.metadata.name)


def test_user_without_rbac_is_forbidden(api, cluster, namespace, tmp_path):
    from kubernetes import config

    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    kubeconfig = service_account_kubeconfig(cluster, api, namespace, "nobody", tmp_path / "nobody.kubeconfig")
    nobody = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))

    with pytest.raises(client.ApiException) as denied:
        nobody.list_namespaced_pod(namespace)
    assert denied.value.status == 403
    assert 'cannot list resource "pods"' in json.loads(denied.value.body)["message"]
    # Authenticated, merely not authorised: the same identity can ask what it may do.
    review = kubectl(cluster, "auth", "can-i", "list", "pods", "-n", namespace, kubeconfig=kubeconfig, check=False)
    assert review.stdout.strip() == "no"


def test_kubectl_version_reports_pinned_version(cluster):
    if cluster.name == "existing":
        pytest.skip("an existing cluster runs whatever version it runs")
    versions = json.loads(kubectl(cluster, "version", "-o", "json").stdout)
    expected = pinned().kubernetes
    assert versions["serverVersion"]["gitVersion"] == expected
    if cluster.name in ("local", "kind"):  # both use the pinned kubectl; `existing` whatever is on PATH
        assert versions["clientVersion"]["gitVersion"] == expected
