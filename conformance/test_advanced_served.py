"""Track `advanced`, on a cluster whose pods run: a site is actually served.

On `local`, kwok marks pods Running without starting a container, so a
StaticSite is Ready there without anything serving it. On `kind` the nginx
pods run: these scenarios fetch the site's pages through its Service with
``kubectl port-forward service/NAME`` on 127.0.0.1 (kubectl picks a pod the
Service selects and tunnels to it through the API server), and run the
controller itself in the cluster from the image the kind provider built and
loaded. Where pods do not run, they are skipped with that reason.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from advanced_fixtures import start
from controllers import (
    CONTROLLER_NAMESPACE,
    GROUP,
    MANIFESTS,
    PLURAL,
    VERSION,
    create_site,
    get_site,
    patch_site_spec,
    wait_ready,
)
from kubernetes import client

from clusterkit.local import free_ports

from kube import kubectl, wait_for

pytestmark = pytest.mark.track("advanced")

# Deadlines, not expectations: the first site on a fresh kind node pulls nginx.
SERVED_TIMEOUT = 240
ROLLOUT_TIMEOUT = 100  # under kube.kubectl's own 120 s
FORWARD_TIMEOUT = 15
HTTP_TIMEOUT = 5
POLL_SECONDS = 0.2
PAGES = {"index.html": "<h1>served</h1>\n", "about.html": "<p>a StaticSite, served by nginx</p>\n"}


def requires_running_pods(cluster) -> None:
    if cluster.name == "local":
        pytest.skip("kwok pods run no containers on the local cluster: nothing serves the page (CLUSTER=kind)")


def fetch_through_service(cluster, namespace: str, service: str, page: str) -> str | None:
    """One GET of ``page`` from ``service`` over a fresh port-forward; None if nothing answered in time.

    A fresh forward each time: a forward stays bound to the pod it picked,
    which a rollout then replaces.
    """
    (port,) = free_ports(1)
    forward = subprocess.Popen(
        [
            str(cluster.kubectl), f"--kubeconfig={cluster.kubeconfig}", "port-forward",
            "--address=127.0.0.1", "--namespace", namespace, f"service/{service}", f"{port}:80",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/{urllib.parse.quote(page)}"
    try:
        deadline = time.monotonic() + FORWARD_TIMEOUT
        while forward.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
                    return response.read().decode()
            except urllib.error.HTTPError as error:
                return f"HTTP {error.code}"
            except OSError:  # the forward is not listening yet
                time.sleep(POLL_SECONDS)
        return None
    finally:
        forward.terminate()
        forward.wait(timeout=10)


def assert_serves(cluster, namespace: str, service: str, pages: dict[str, str]) -> None:
    for page, body in pages.items():
        assert_page(cluster, namespace, service, page, body)


def assert_page(cluster, namespace: str, service: str, page: str, body: str) -> None:
    """Poll until ``page`` answers exactly ``body``; fail with the last answer."""
    last = []

    def served():
        last.append(fetch_through_service(cluster, namespace, service, page))
        return last[-1] == body

    try:
        wait_for(served, timeout=SERVED_TIMEOUT, what=f"service {namespace}/{service} to serve {page}")
    except AssertionError as error:
        raise AssertionError(f"{error}; last answer: {last[-1]!r}, expected {body!r}") from None


def wait_rolled_out(cluster, namespace: str, deployment: str) -> None:
    kubectl(cluster, "rollout", "status", f"deployment/{deployment}", "--namespace", namespace,
            f"--timeout={ROLLOUT_TIMEOUT}s")  # fmt: skip


# ----- the controller as a process on this machine -------------------------------------
def test_site_is_served_through_its_service(cluster, api, controllers, site_namespace, language):
    requires_running_pods(cluster)
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "served", content=PAGES)
    wait_ready(api, site_namespace, "served", timeout=SERVED_TIMEOUT, ready_replicas=1)
    assert_serves(cluster, site_namespace, "served", PAGES)

    # New content reaches the pages: the pods roll and nginx serves the new ConfigMap.
    changed = {**PAGES, "index.html": f"<h1>changed by the {language} controller</h1>\n"}
    patch_site_spec(api, site_namespace, "served", {"content": changed})
    wait_ready(api, site_namespace, "served", timeout=SERVED_TIMEOUT, ready_replicas=1)
    wait_rolled_out(cluster, site_namespace, "served")
    assert_serves(cluster, site_namespace, "served", changed)


# ----- the controller in the cluster, from its image -------------------------------------
@pytest.fixture
def deployed_controller(cluster, api, sa_kubeconfig, language):
    """The language's Deployment of shared-manifests/deploy, running the image the provider loaded.

    Removed at teardown, pods included, so no later scenario meets a second
    controller (it watches every namespace and takes the shared Lease).
    """
    requires_running_pods(cluster)
    if not getattr(cluster, "loads_controller_images", False):
        pytest.skip(f"the {cluster.name} provider does not build and load the controllers' images (CLUSTER=kind does)")
    manifest = str(MANIFESTS / "deploy" / f"{language}.yaml")
    name = f"staticsite-controller-{language}"
    kubectl(cluster, "apply", "-f", manifest)
    try:
        wait_rolled_out(cluster, CONTROLLER_NAMESPACE, name)
        yield name
    finally:
        kubectl(cluster, "delete", "-f", manifest, "--ignore-not-found", "--wait=true", "--timeout=60s")
        core = client.CoreV1Api(api)
        selector = f"app.kubernetes.io/component={language}"
        wait_for(lambda: not core.list_namespaced_pod(CONTROLLER_NAMESPACE, label_selector=selector).items,
                 timeout=120, what=f"the pods of {name} to be gone")  # fmt: skip


@pytest.mark.alone("the deployed controllers elect a leader with the one Lease of the cluster")
def test_in_cluster_controller_serves_a_site(cluster, api, controllers, site_namespace, language, deployed_controller):
    """The image from the language's Dockerfile, deployed as a user would: it reconciles, and the site is served."""
    create_site(api, site_namespace, "inside", content=PAGES)
    wait_ready(api, site_namespace, "inside", timeout=SERVED_TIMEOUT, ready_replicas=1)
    assert_serves(cluster, site_namespace, "inside", PAGES)

    # Its finalizer runs too: the in-cluster controller lets the site go.
    client.CustomObjectsApi(api).delete_namespaced_custom_object(GROUP, VERSION, site_namespace, PLURAL, "inside")
    wait_for(lambda: get_site(api, site_namespace, "inside") is None, timeout=120,
             what=f"the {deployed_controller} Deployment to finalize the deleted site")  # fmt: skip
