"""Write kubeconfig files: the same format kubectl and every client reads."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(
    path: Path,
    server: str,
    ca_cert: Path,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    *,
    cluster_name: str,
    user: str,
    token: str | None = None,
    namespace: str | None = None,
) -> Path:
    """A self-contained kubeconfig: certificates embedded, TLS verified by the CA."""
    credentials: dict[str, str] = {}
    if client_cert and client_key:
        credentials["client-certificate-data"] = _b64(client_cert)
        credentials["client-key-data"] = _b64(client_key)
    if token:
        credentials["token"] = token
    context = {"cluster": cluster_name, "user": user}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": f"{user}@{cluster_name}", "context": context}],
        "current-context": f"{user}@{cluster_name}",
    }
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(yaml.safe_dump(config, sort_keys=False))
    partial.chmod(0o600)
    partial.replace(path)
    return path


def token_kubeconfig(
    admin_kubeconfig: Path, path: Path, *, token: str, namespace: str, account: str, cluster_name: str
) -> Path:
    """A kubeconfig that authenticates as ServiceAccount ``namespace/account`` with its ``token``.

    The server and CA are the admin kubeconfig's, so TLS stays verified; the CA is also written next to ``path``
    (``.ca.crt``), for a Secret that mounts it into a Pod.
    """
    admin = yaml.safe_load(admin_kubeconfig.read_text())["clusters"][0]["cluster"]
    path.parent.mkdir(parents=True, exist_ok=True)
    ca_path = path.with_suffix(".ca.crt")
    ca_path.write_bytes(_ca_bytes(admin))
    return write_kubeconfig(
        path,
        admin["server"],
        ca_path,
        cluster_name=cluster_name,
        user=f"{namespace}-{account}",
        token=token,
        namespace=namespace,
    )


def _ca_bytes(cluster_entry: dict) -> bytes:
    """The CA of a kubeconfig's cluster entry: embedded, or a file it names."""
    if "certificate-authority-data" in cluster_entry:
        return base64.b64decode(cluster_entry["certificate-authority-data"])
    return Path(cluster_entry["certificate-authority"]).read_bytes()
