"""Break-glass commands: provoke by hand what the docs describe and the suite does to the programs.

``restart`` a component (the API server: watches break and must resume), ``compact`` etcd (a real 410 Gone for
any watch resuming from an older resourceVersion), ``stop``/``start`` the controller-manager (no garbage
collection: children outlive a deleted owner), and ``sa-kubeconfig``: credentials of the controller's
ServiceAccount with the shipped RBAC, to run a controller as it runs in the cluster.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .kubeconfig import token_kubeconfig
from .local import ClusterError
from .versions import REPO_ROOT

# The short names a learner types, and the component each one is.
COMPONENTS = {
    "apiserver": "kube-apiserver",
    "controller-manager": "kube-controller-manager",
    "scheduler": "kube-scheduler",
}
MANIFESTS = REPO_ROOT / "shared-manifests"
CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT = "staticsite-system", "staticsite-controller"
KUBECTL_TIMEOUT = 120


def component(short: str) -> str:
    try:
        return COMPONENTS[short]
    except KeyError:
        raise ClusterError(f"unknown component {short!r}: choose one of {', '.join(COMPONENTS)}") from None


def require(cluster, method: str) -> None:
    if not hasattr(cluster, method):
        raise ClusterError(f"the {cluster.name} cluster cannot do this by hand (the local cluster can)")


def restart(cluster, short: str) -> str:
    require(cluster, "restart_component")
    cluster.restart_component(component(short))
    return f"restarted {component(short)}"


def stop(cluster, short: str) -> str:
    require(cluster, "stop_component")
    cluster.stop_component(component(short))
    consequence = " (no garbage collection until `start`)" if short == "controller-manager" else ""
    return f"stopped {component(short)}{consequence}"


def start(cluster, short: str) -> str:
    require(cluster, "start_component")
    cluster.start_component(component(short))
    return f"started {component(short)}"


def compact(cluster) -> str:
    require(cluster, "compact_etcd")
    revision = cluster.compact_etcd()
    return f"compacted etcd at revision {revision}: a watch resuming from an older resourceVersion gets 410 Gone"


def _kubectl(cluster, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    result = subprocess.run(
        [str(cluster.kubectl), *args], capture_output=True, text=True, env=env, timeout=KUBECTL_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise ClusterError(f"kubectl {args[0]} {args[1] if len(args) > 1 else ''}: {result.stderr.strip()}")
    return result.stdout


def sa_kubeconfig(cluster, path: Path) -> Path:
    """Install the CRD and the shipped RBAC, then write a kubeconfig for the controller's ServiceAccount.

    The token comes from the TokenRequest API (``kubectl create token``) and lives an hour; the server and CA are
    the admin kubeconfig's, so TLS stays verified.
    """
    _kubectl(cluster, "apply", "-f", str(MANIFESTS / "crd"), "-f", str(MANIFESTS / "rbac"))
    token = _kubectl(
        cluster, "create", "token", CONTROLLER_ACCOUNT, "-n", CONTROLLER_NAMESPACE, "--duration=1h"
    ).strip()
    return token_kubeconfig(
        cluster.kubeconfig,
        path,
        token=token,
        namespace=CONTROLLER_NAMESPACE,
        account=CONTROLLER_ACCOUNT,
        cluster_name="learn",
    )
