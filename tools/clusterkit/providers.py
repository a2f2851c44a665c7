"""One interface over the three kinds of cluster the suite runs against.

Every provider has ``name``, ``kubeconfig``, ``kubectl``, ``up()`` (returns
True when this call started the cluster, so the caller knows to stop it),
``down()`` and ``status()``. ``local`` and ``kind`` run their own control
plane, so they ``supports_disruption`` (``restart_component``,
``compact_etcd``); the suite records those scenarios as skipped on
``existing``, which belongs to someone else. The kind provider lives in
``kind.py``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .build import ensure_binaries, progress
from .kind import KindCluster, run
from .local import ClusterError, LocalCluster
from .versions import REPO_ROOT

PROVIDERS = ("local", "kind", "existing")


def _kubectl_on_path_or_pinned() -> Path:
    found = shutil.which("kubectl")
    return Path(found) if found else ensure_binaries(("kubectl",))["kubectl"]


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
        run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", "get", "--raw=/readyz"],
            f"existing cluster: reaching the API server of {self.kubeconfig}",
        )
        return False

    def down(self) -> None:
        progress("existing cluster: nothing to stop")

    def status(self) -> list[tuple[str, str, str]]:
        return [("existing", "kubeconfig", str(self.kubeconfig))]


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
