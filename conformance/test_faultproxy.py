"""The fault proxy itself: each mode does to a real client what it says.

Every fault scenario of the tracks trusts ``faultproxy``; this proves its
modes against the API server with kubectl, before any scenario relies on them.
"""

from __future__ import annotations

import pytest

from kube import kubectl

pytestmark = pytest.mark.track("cluster")


def version(cluster, kubeconfig):
    return kubectl(cluster, "get", "--raw", "/version", "--request-timeout=3s", kubeconfig=kubeconfig, check=False)


def test_fault_proxy_modes(cluster, fault_proxy, tmp_path):
    proxy = fault_proxy(cluster.kubeconfig)
    proxied = proxy.kubeconfig(cluster.kubeconfig, tmp_path / "proxied.kubeconfig")
    assert '"gitVersion"' in version(cluster, proxied).stdout, "forward: the request did not pass"

    proxy.blackhole()
    silent = version(cluster, proxied)
    assert silent.returncode != 0 and "gitVersion" not in silent.stdout, "blackhole: an answer got through"
    assert "timeout" in silent.stderr.lower() or "deadline" in silent.stderr.lower(), silent.stderr

    proxy.restore()
    assert '"gitVersion"' in version(cluster, proxied).stdout, "restore: the request did not pass"

    proxy.refuse()
    refused = version(cluster, proxied)
    assert refused.returncode != 0 and "gitVersion" not in refused.stdout, "refuse: an answer got through"
    assert "timeout" not in refused.stderr.lower(), f"refuse should fail at once, not time out: {refused.stderr}"
