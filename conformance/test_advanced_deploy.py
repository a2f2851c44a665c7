"""Track `advanced`: least privilege and safe deployment, as shipped in shared-manifests/.

The deploy manifests pass the API server's own checks, Pod Security
"restricted" included; the namespaced RBAC variant is enough for a controller
started with --namespace and forbids it to write anywhere else.
"""

from __future__ import annotations

import json

import pytest
import yaml
from advanced_fixtures import start
from controllers import CONTROLLER_NAMESPACE, MANIFESTS, Controller, create_site, delete_all_sites, wait_ready
from kubernetes import client

from conftest import make_namespace
from kube import kubectl, service_account_kubeconfig
from programs import environment, insecure_kubeconfig

pytestmark = pytest.mark.track("advanced")


def documents(path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_deploy_manifest_passes_server_dry_run(cluster, language, api_and_rbac):
    manifest = MANIFESTS / "deploy" / f"{language}.yaml"
    result = kubectl(cluster, "apply", "--dry-run=server", "-f", str(manifest))
    assert f"staticsite-controller-{language} created (server dry run)" in result.stdout
    for sample in (MANIFESTS / "samples").glob("*.yaml"):
        kubectl(cluster, "apply", "--dry-run=server", "-n", "default", "-f", str(sample))


def test_deploy_pod_admitted_by_pod_security_restricted(cluster, language, api_and_rbac):
    """The Deployment's pod, created (dry run) in its namespace, which enforces "restricted"."""
    namespace = documents(MANIFESTS / "rbac" / "namespace.yaml")[0]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (deployment,) = documents(MANIFESTS / "deploy" / f"{language}.yaml")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pss-check-{language}", "namespace": CONTROLLER_NAMESPACE},
        "spec": deployment["spec"]["template"]["spec"],
    }
    result = kubectl(cluster, "create", "--dry-run=server", "-f", "-", stdin=json.dumps(pod), check=False)
    assert result.returncode == 0, f"Pod Security refused the {language} controller's pod: {result.stderr.strip()}"
    assert not result.stderr.strip(), f"admission warned: {result.stderr.strip()}"


def test_namespaced_rbac_is_enough_and_confines(cluster, api, controllers, site_namespace, language, tmp_path):
    """A controller bound only by rbac/namespaced/ in its namespace converges there and can write nowhere else."""
    (role, binding) = documents(MANIFESTS / "rbac" / "namespaced" / "rbac.yaml")
    (cluster_role, _) = documents(MANIFESTS / "rbac" / "rbac.yaml")
    assert role["rules"] == cluster_role["rules"], "namespaced/rbac.yaml's rules differ from the ClusterRole's"

    # Its own ServiceAccount (one per language: scenarios run concurrently), so
    # the cluster-wide binding of the shipped one grants nothing here.
    core = client.CoreV1Api(api)
    account_name = f"staticsite-controller-namespaced-{language}"
    account = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account_name))
    core.create_namespaced_service_account(CONTROLLER_NAMESPACE, account)
    try:
        binding["subjects"] = [{"kind": "ServiceAccount", "name": account_name, "namespace": CONTROLLER_NAMESPACE}]
        for doc in (role, binding):
            kubectl(cluster, "apply", "-n", site_namespace, "-f", "-", stdin=json.dumps(doc))
        kubeconfig = service_account_kubeconfig(
            cluster, api, CONTROLLER_NAMESPACE, account_name, tmp_path / "namespaced.kubeconfig"
        )
        start(controllers, language, site_namespace, env=environment(cluster, kubeconfig))
        create_site(api, site_namespace, "confined")
        wait_ready(api, site_namespace, "confined")

        elsewhere = make_namespace(core, "rbac-elsewhere")
        try:
            denied = kubectl(cluster, "create", "configmap", "intruder", "-n", elsewhere,
                             kubeconfig=kubeconfig, check=False)  # fmt: skip
            assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr
        finally:
            core.delete_namespace(elsewhere)
        # Finalize the site while the account still exists (teardown would find it gone).
        assert delete_all_sites(api, site_namespace, timeout=60), "the confined controller did not finalize its site"
    finally:
        core.delete_namespaced_service_account(account_name, CONTROLLER_NAMESPACE)


def test_insecure_kubeconfig_refused(cluster, api_and_rbac, language, tmp_path):
    """A kubeconfig that turns TLS verification off: the controller refuses it at start, with one TLS line."""
    kubeconfig = insecure_kubeconfig(cluster, tmp_path / "insecure.kubeconfig")
    controller = Controller(cluster, language, kubeconfig, tmp_path, "--namespace=default")
    try:
        assert controller.wait_exit(timeout=60) == 1, controller.log_tail()
    finally:
        controller.stop()
    errors = [line for line in controller.log_tail().splitlines() if "error" in line.lower()]
    assert errors and "TLS" in errors[-1], f"no TLS error line:\n{controller.log_tail()}"
