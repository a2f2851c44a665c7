"""The `kind` provider: Kubernetes in a Docker container, as a user with Docker runs it.

``up`` creates the cluster from the pinned node image *by digest* (kind
supports only the images its release notes list, by digest), or reuses the
one of that name if it runs that same image; waits for Ready nodes; builds the
three controllers' images from their Dockerfiles and loads them into the node,
so Deployments of ``shared-manifests/deploy`` start without a registry. The
``kind`` and ``kubectl`` binaries are the pinned ones ``clusterkit build``
compiles, so `kind` and `local` run one Kubernetes release.

The control plane runs as static pods in the control-plane container, so the
disruptive scenarios work here too: a component restarts when its manifest
leaves the kubelet's manifest directory and comes back, and etcd is compacted
with the ``etcdctl`` of its own container.

Ownership: a cluster this provider created is recorded in the run directory;
``down`` deletes only such a cluster. One it found already running is left
as it is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from .build import ensure_binaries, progress
from .local import KUBECTL_TIMEOUT_SECONDS, ClusterError, wait_controllers_recovered
from .versions import REPO_ROOT, WRAPPER_MODULE, pinned

CLUSTER_NAME = "controller-examples"
CONTROL_PLANE_NODE = f"{CLUSTER_NAME}-control-plane"
# Restarted after the API server (see restart_component); no kwok on kind: real kubelets run the pods.
APISERVER_CLIENTS = ("kube-controller-manager", "kube-scheduler")
LANGUAGES = ("bash", "python", "go")
DEPLOY_MANIFESTS = REPO_ROOT / "shared-manifests" / "deploy"
CLUSTER_CONFIG = WRAPPER_MODULE / "kind-cluster.yaml"
# kubeadm's layout inside the node: the kubelet runs every manifest in
# MANIFEST_DIR as a static pod; PARKING_DIR is outside it.
MANIFEST_DIR = "/etc/kubernetes/manifests"
PARKING_DIR = "/etc/kubernetes"
ETCD_PKI = "/etc/kubernetes/pki/etcd"
# Deadlines (seconds). Creating pulls the node image on first use (about 1 GB).
CREATE_TIMEOUT = 900
BUILD_TIMEOUT = 1800
COMMAND_TIMEOUT = 300
COMPONENT_TIMEOUT = 180
POLL_SECONDS = 0.5


def run(argv: list[str], what: str, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a command; its failure (or hang) becomes a one-line ClusterError."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{what} did not finish within {timeout:.0f}s") from None
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClusterError(f"{what} failed: {detail}")
    return result.stdout


def require_docker() -> None:
    """Fail at once, in one line, when there is no Docker engine to run kind on."""
    if not shutil.which("docker"):
        raise ClusterError("kind provider needs Docker: no `docker` command on PATH")
    engine = "kind provider needs a running Docker engine: `docker info`"
    run(["docker", "info", "--format", "{{.ServerVersion}}"], engine)


def controller_images() -> dict[str, str]:
    """language -> the image its Deployment manifest runs (the manifests are the one place it is named)."""
    images = {}
    for language in LANGUAGES:
        manifest = yaml.safe_load((DEPLOY_MANIFESTS / f"{language}.yaml").read_text())
        images[language] = manifest["spec"]["template"]["spec"]["containers"][0]["image"]
    return images


class KindCluster:
    """A kind cluster from the pinned node image, with the controllers' images loaded."""

    name = "kind"
    supports_disruption = True
    # The controllers' images are in the node: Deployments of shared-manifests/deploy run.
    loads_controller_images = True
    cluster_name = CLUSTER_NAME

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.kubeconfig = run_dir / "kubeconfig"
        # Written when this provider creates the cluster: `down` deletes only that one.
        self.created_marker = run_dir / "created-by-clusterkit"
        self.node_image = pinned().kind_node_image

    # Built on first use, not here: without Docker, `up` must fail before
    # anything is compiled.
    @property
    def kind(self) -> Path:
        return ensure_binaries(("kind",))["kind"]

    @property
    def kubectl(self) -> Path:
        return ensure_binaries(("kubectl",))["kubectl"]

    # ----- lifecycle ---------------------------------------------------------
    def up(self) -> bool:
        """Create (or reuse) the cluster, wait for Ready nodes, load the controllers' images.

        Returns True when this call created the cluster.
        """
        require_docker()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        created = not self._exists()
        if created:
            self._create()
        else:
            self._reuse()
        try:
            self._wait_nodes_ready()
            self._load_controller_images()
        except ClusterError as error:
            if created:  # kept for inspection; say how to remove it
                raise ClusterError(f"{error} (`make cluster-down CLUSTER=kind` deletes the new cluster)") from None
            raise
        return created

    def down(self) -> None:
        require_docker()
        if not self.created_marker.is_file():
            progress(f"kind cluster {self.cluster_name} was not created by clusterkit here: left as it is")
            return
        progress(f"deleting kind cluster {self.cluster_name}")
        run([str(self.kind), "delete", "cluster", "--name", self.cluster_name], "kind delete cluster")
        self.created_marker.unlink()
        self.kubeconfig.unlink(missing_ok=True)

    def status(self) -> list[tuple[str, str, str]]:
        require_docker()
        if not self._exists():
            return []
        nodes = run([str(self.kind), "get", "nodes", "--name", self.cluster_name], "kind get nodes")
        return [(node, "kind node", str(self.kubeconfig)) for node in nodes.split()]

    def _exists(self) -> bool:
        return self.cluster_name in run([str(self.kind), "get", "clusters"], "kind get clusters").split()

    def _create(self) -> None:
        progress(f"creating kind cluster {self.cluster_name} from {self.node_image}")
        run(
            [
                str(self.kind), "create", "cluster",
                "--name", self.cluster_name,
                "--kubeconfig", str(self.kubeconfig),
                "--image", self.node_image,
                "--config", str(CLUSTER_CONFIG),
                "--wait", f"{COMPONENT_TIMEOUT}s",
            ],
            "kind create cluster",
            timeout=CREATE_TIMEOUT,
        )  # fmt: skip
        self.created_marker.write_text(self.cluster_name + "\n")

    def _reuse(self) -> None:
        """Reuse a running cluster of that name only if it runs the pinned node image."""
        image = run(
            ["docker", "inspect", "--format", "{{.Config.Image}}", CONTROL_PLANE_NODE],
            f"docker inspect {CONTROL_PLANE_NODE}",
        ).strip()
        if image != self.node_image:
            raise ClusterError(
                f"kind cluster {self.cluster_name} runs {image}, not the pinned {self.node_image}: "
                f"delete it (kind delete cluster --name {self.cluster_name}) and run cluster-up again"
            )
        progress(f"reusing kind cluster {self.cluster_name} ({image})")
        run(
            [str(self.kind), "export", "kubeconfig", "--name", self.cluster_name, "--kubeconfig", str(self.kubeconfig)],
            "kind export kubeconfig",
        )

    def _wait_nodes_ready(self) -> None:
        progress("waiting for every node to be Ready")
        run(
            [
                str(self.kubectl), f"--kubeconfig={self.kubeconfig}",
                "wait", "--for=condition=Ready", "node", "--all", f"--timeout={COMPONENT_TIMEOUT}s",
            ],
            "waiting for Ready nodes",
            timeout=COMPONENT_TIMEOUT + 30,
        )  # fmt: skip

    def _load_controller_images(self) -> None:
        """docker build each language's controller image, then copy them into the node.

        The Deployments name a fixed tag (not :latest), so the kubelet uses the
        loaded image and never tries to pull it.
        """
        images = controller_images()
        for language, image in images.items():
            progress(f"docker build {language}/Dockerfile -> {image}")
            run(
                ["docker", "build", "--file", str(REPO_ROOT / language / "Dockerfile"), "--tag", image, str(REPO_ROOT)],
                f"docker build of the {language} controller image",
                timeout=BUILD_TIMEOUT,
            )
        progress(f"kind load docker-image {' '.join(images.values())}")
        run(
            [str(self.kind), "load", "docker-image", "--name", self.cluster_name, *images.values()],
            "kind load docker-image",
            timeout=BUILD_TIMEOUT,
        )

    # ----- disruption ----------------------------------------------------------
    def restart_component(self, name: str) -> None:
        """Restart a static-pod component; after the API server, its in-cluster clients too.

        The controller-manager and scheduler are restarted with it for the reason
        LocalCluster.restart_component gives: their informers' backoff grows with
        every restart; started fresh, they list at once.
        """
        self._restart_static_pod(name)
        if name == "kube-apiserver":
            self._wait_apiserver_ready()
            for client_name in APISERVER_CLIENTS:
                self._restart_static_pod(client_name)
            wait_controllers_recovered(
                self.kubectl, self.kubeconfig, f"read `docker exec {CONTROL_PLANE_NODE} crictl logs`"
            )

    def _restart_static_pod(self, name: str) -> None:
        """The manifest out of the kubelet's directory, then back.

        The kubelet stops a static pod whose manifest is gone and starts it
        again when the manifest returns, as after a node reboot.
        """
        manifest, parked = f"{MANIFEST_DIR}/{name}.yaml", f"{PARKING_DIR}/{name}.yaml"
        self._node_exec(["mv", manifest, parked], f"moving the {name} manifest out")
        try:
            self._wait_container(name, running=False)
        finally:
            self._node_exec(["mv", parked, manifest], f"moving the {name} manifest back")
        self._wait_container(name, running=True)

    def compact_etcd(self) -> int:
        """Compact etcd's history up to now with etcdctl in the etcd container; returns the revision.

        Any watch that resumes from an older resourceVersion then gets 410 Gone.
        """
        etcdctl = [
            "crictl", "exec", self._container_id("etcd"), "etcdctl",
            "--endpoints=https://127.0.0.1:2379",
            f"--cacert={ETCD_PKI}/ca.crt",
            f"--cert={ETCD_PKI}/healthcheck-client.crt",
            f"--key={ETCD_PKI}/healthcheck-client.key",
            "--command-timeout=30s",
        ]  # fmt: skip
        status = json.loads(self._node_exec([*etcdctl, "endpoint", "status", "--write-out=json"], "etcdctl status"))
        revision = int(status[0]["Status"]["header"]["revision"])
        self._node_exec([*etcdctl, "compact", str(revision), "--physical"], "etcdctl compact")
        return revision

    def _node_exec(self, argv: list[str], what: str) -> str:
        return run(["docker", "exec", CONTROL_PLANE_NODE, *argv], what)

    def _container_id(self, name: str) -> str:
        """The running container of component ``name`` in the node, or '' if none runs."""
        # crictl's --name is a regular expression: anchor it to the exact name.
        ids = self._node_exec(["crictl", "ps", "--state", "running", "--name", f"^{name}$", "--quiet"], "crictl ps")
        return (ids.split() or [""])[0]

    def _wait_container(self, name: str, running: bool) -> None:
        deadline = time.monotonic() + COMPONENT_TIMEOUT
        while bool(self._container_id(name)) != running:
            if time.monotonic() > deadline:
                state = "start" if running else "stop"
                raise ClusterError(f"{name} did not {state} within {COMPONENT_TIMEOUT}s in {CONTROL_PLANE_NODE}")
            time.sleep(POLL_SECONDS)

    def _wait_apiserver_ready(self) -> None:
        readyz = [
            str(self.kubectl), f"--kubeconfig={self.kubeconfig}",
            f"--request-timeout={KUBECTL_TIMEOUT_SECONDS}s", "get", "--raw=/readyz",
        ]  # fmt: skip
        deadline = time.monotonic() + COMPONENT_TIMEOUT
        while subprocess.run(readyz, capture_output=True, timeout=KUBECTL_TIMEOUT_SECONDS + 10).returncode != 0:
            if time.monotonic() > deadline:
                raise ClusterError(f"kube-apiserver not ready {COMPONENT_TIMEOUT}s after its restart")
            time.sleep(POLL_SECONDS)
