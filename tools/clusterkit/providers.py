"""One interface over the three kinds of cluster the suite runs against.

Every provider has ``name``, ``kubeconfig``, ``kubectl``, ``up()`` (returns
True when this call started the cluster, so the caller knows to stop it),
``down()`` and ``status()``. Only ``local`` owns its processes, so only it
``supports_disruption`` (restarting the API server, compacting etcd): the
suite records those scenarios as skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .build import ensure_binaries, progress
from .local import ClusterError, LocalCluster
from .versions import REPO_ROOT, pinned

PROVIDERS = ("local", "kind", "existing")


def _kubectl_on_path_or_pinned() -> Path:
    found = shutil.which("kubectl")
    return Path(found) if found else ensure_binaries(("kubectl",))["kubectl"]


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClusterError(f"{what} failed: {detail}")
    return result.stdout


class ExistingCluster:
    """``$KUBECONFIG`` (or ~/.kube/config) as it is; the suite only touches
    the namespaces it creates."""

    name = "existing"
    supports_disruption = False

    def __init__(self) -> None:
        paths = os.environ.get("KUBECONFIG", "").split(os.pathsep)
        first = next((p for p in paths if p), str(Path.home() / ".kube" / "config"))
        self.kubeconfig = Path(first)
        self.kubectl = _kubectl_on_path_or_pinned()

    def up(self) -> bool:
        if not self.kubeconfig.is_file():
            raise ClusterError(f"existing cluster: no kubeconfig at {self.kubeconfig} (set KUBECONFIG)")
        _run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", "get", "--raw=/readyz"],
            f"existing cluster: reaching the API server of {self.kubeconfig}",
        )
        return False

    def down(self) -> None:
        progress("existing cluster: nothing to stop")

    def status(self) -> list[tuple[str, str, str]]:
        return [("existing", "kubeconfig", str(self.kubeconfig))]


class KindCluster:
    """A kind cluster with a node image of the pinned minor (needs Docker)."""

    name = "kind"
    supports_disruption = False
    cluster_name = "controller-examples"

    def __init__(self, run_dir: Path) -> None:
        self.kubeconfig = run_dir / "kubeconfig"
        self.node_image = f"kindest/node:{pinned().kubernetes}"
        self.kubectl = _kubectl_on_path_or_pinned()

    def _require_tools(self) -> None:
        if not shutil.which("kind"):
            raise ClusterError("kind provider: the `kind` command is not installed")
        _run(["docker", "info"], "kind provider needs a running Docker engine: `docker info`")

    def up(self) -> bool:
        self._require_tools()
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        clusters = _run(["kind", "get", "clusters"], "kind get clusters").split()
        kind_args = ["--name", self.cluster_name, "--kubeconfig", str(self.kubeconfig)]
        if self.cluster_name in clusters:
            _run(["kind", "export", "kubeconfig", *kind_args], "kind export kubeconfig")
            return False
        progress(f"creating kind cluster {self.cluster_name} from {self.node_image}")
        _run(
            ["kind", "create", "cluster", *kind_args, "--image", self.node_image, "--wait", "180s"],
            "kind create cluster",
        )
        return True

    def down(self) -> None:
        self._require_tools()
        _run(["kind", "delete", "cluster", "--name", self.cluster_name], "kind delete cluster")

    def status(self) -> list[tuple[str, str, str]]:
        self._require_tools()
        nodes = _run(["kind", "get", "nodes", "--name", self.cluster_name], "kind get nodes")
        return [(node, "kind node", str(self.kubeconfig)) for node in nodes.split()]


def run_dir(provider: str) -> Path:
    base = os.environ.get("CLUSTER_DIR")
    return Path(base) if base else REPO_ROOT / "build" / "cluster" / provider


def get_provider(name: str):
    if name == "local":
        return LocalCluster(run_dir("local"))
    if name == "kind":
        return KindCluster(run_dir("kind"))
    if name == "existing":
        return ExistingCluster()
    raise ClusterError(f"unknown cluster provider {name!r}: choose one of {', '.join(PROVIDERS)}")
