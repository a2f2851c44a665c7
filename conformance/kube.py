"""Small helpers the scenarios share: polling, kubectl, scoped credentials.

Nothing here sleeps to synchronise: ``wait_for`` polls a condition until a
deadline and fails with what it last saw.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kubernetes import client

from clusterkit.kubeconfig import token_kubeconfig

T = TypeVar("T")
POLL_INTERVAL_SECONDS = 0.2


def wait_for(check: Callable[[], T], *, timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
        except client.ApiException as error:
            last = f"API error {error.status}: {error.reason}"
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last saw: {last!r}")
        time.sleep(POLL_INTERVAL_SECONDS)


def namespace_gone(core: client.CoreV1Api, name: str) -> bool:
    """True once namespace ``name`` no longer exists (its deletion completed)."""
    try:
        core.read_namespace(name)
    except client.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def wait_namespace_gone(core: client.CoreV1Api, name: str, *, timeout: float, what: str) -> None:
    """Poll until namespace ``name`` is gone. On timeout the failure quotes the namespace controller's own
    account of what holds the deletion up (its status conditions: the resources and finalizers remaining),
    so a slow garbage collector, a kwok pod that is never removed and a finalizer never taken off read
    differently."""
    try:
        wait_for(lambda: namespace_gone(core, name), timeout=timeout, what=what)
    except AssertionError as error:
        raise AssertionError(f"{error}; the namespace's conditions: {namespace_conditions(core, name)}") from None


def namespace_conditions(core: client.CoreV1Api, name: str) -> str:
    """The namespace's True status conditions, "TYPE: MESSAGE; ..." (what its deletion waits for)."""
    try:
        conditions = core.read_namespace(name).status.conditions or []
    except client.ApiException as error:
        return f"unreadable (API error {error.status})"
    return "; ".join(f"{c.type}: {c.message}" for c in conditions if c.status == "True") or "none"


def kubectl(
    cluster, *args: str, kubeconfig: Path | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the pinned kubectl against the cluster (admin unless told)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig or cluster.kubeconfig)}
    result = subprocess.run(
        [str(cluster.kubectl), *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def service_account_kubeconfig(cluster, api: client.ApiClient, namespace: str, name: str, path: Path,
                               lifetime_seconds: int = 3600) -> Path:  # fmt: skip
    """A kubeconfig that authenticates as ServiceAccount ``namespace/name``.

    The token comes from the TokenRequest API, so this works the same on
    every provider; the server and CA are the admin kubeconfig's. It expires
    after ``lifetime_seconds`` (the bench's largest runs need more than an hour).
    """
    core = client.CoreV1Api(api)
    spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=lifetime_seconds)
    request = client.AuthenticationV1TokenRequest(spec=spec)
    token = core.create_namespaced_service_account_token(name, namespace, request).status.token
    return token_kubeconfig(
        cluster.kubeconfig, path, token=token, namespace=namespace, account=name, cluster_name="conformance"
    )
