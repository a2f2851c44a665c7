"""Finding the cluster like kubectl: which files, which context, which namespace."""

from pathlib import Path

import pytest
import yaml
from kubernetes.config import ConfigException

from controller_examples.common.errors import CommandError
from controller_examples.common.kube import connect, context_and_namespace, kubeconfig_paths


def kubeconfig(path: Path, *, current: str | None, contexts: dict[str, str | None], server: str) -> str:
    """Write a kubeconfig with one cluster and user, and the given contexts (name -> namespace)."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": name, "context": {"cluster": "c", "user": "u", **({"namespace": ns} if ns else {})}}
            for name, ns in contexts.items()
        ],
    }
    if current is not None:
        document["current-context"] = current
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture
def no_cluster_env(monkeypatch, tmp_path):
    """No $KUBECONFIG, a HOME without .kube, not in a pod."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_explicit_kubeconfig_must_exist(tmp_path):
    with pytest.raises(CommandError, match="kubeconfig"):
        kubeconfig_paths(str(tmp_path / "missing"))


def test_kubeconfig_list_skips_missing_files(monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("{}")
    b.write_text("{}")
    monkeypatch.setenv("KUBECONFIG", f"{b}::{tmp_path / 'missing'}:{a}")
    assert kubeconfig_paths(None) == [str(b), str(a)]
    assert kubeconfig_paths(str(a)) == [str(a)]


def test_home_kubeconfig_when_kubeconfig_is_unset_or_empty(monkeypatch, no_cluster_env, tmp_path):
    assert kubeconfig_paths(None) == []
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    assert kubeconfig_paths(None) == [str(tmp_path / ".kube" / "config")]
    monkeypatch.setenv("KUBECONFIG", "")
    assert kubeconfig_paths(None) == [str(tmp_path / ".kube" / "config")]


def test_first_file_setting_current_context_wins(tmp_path):
    first = kubeconfig(tmp_path / "1", current=None, contexts={"one": "ns1"}, server="https://a")
    second = kubeconfig(tmp_path / "2", current="two", contexts={"two": None, "one": "other"}, server="https://b")
    third = kubeconfig(tmp_path / "3", current="one", contexts={}, server="https://c")
    assert context_and_namespace([first, second, third], None) == ("two", "default")
    # The first file defining a context wins too.
    assert context_and_namespace([first, second, third], "one") == ("one", "ns1")


def test_missing_context(tmp_path):
    path = kubeconfig(tmp_path / "k", current=None, contexts={"one": None}, server="https://a")
    with pytest.raises(ConfigException, match="current-context"):
        context_and_namespace([path], None)
    with pytest.raises(ConfigException, match='no context named "nope"'):
        context_and_namespace([path], "nope")


def test_connect(no_cluster_env, tmp_path, monkeypatch):
    path = kubeconfig(tmp_path / "k", current="one", contexts={"one": "ns1", "two": None}, server="https://10.0.0.1")
    monkeypatch.setenv("KUBECONFIG", path)
    connection = connect(None, None)
    assert (connection.host, connection.namespace) == ("https://10.0.0.1", "ns1")
    configuration = connection.api.api_client.configuration
    assert configuration.retries is False
    assert configuration.verify_ssl is True
    assert connect(path, "two").namespace == "default"


def test_a_kubeconfig_that_skips_tls_verification_is_refused(no_cluster_env, tmp_path):
    path = tmp_path / "k"
    kubeconfig(path, current="one", contexts={"one": None}, server="https://10.0.0.1")
    document = yaml.safe_load(path.read_text())
    document["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(CommandError, match=r"^TLS verification is turned off in the kubeconfig"):
        connect(str(path), None)


@pytest.mark.parametrize("content", ["clusters: [", "- a list", "contexts: 3\ncurrent-context: x"])
def test_broken_kubeconfig(tmp_path, content):
    path = tmp_path / "k"
    path.write_text(content)
    with pytest.raises(CommandError, match="kubeconfig"):
        connect(str(path), None)


def test_no_kubeconfig_and_not_in_a_cluster(no_cluster_env):
    with pytest.raises(CommandError, match="kubeconfig"):
        connect(None, None)


def test_a_context_needs_a_kubeconfig(no_cluster_env, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(CommandError, match=r'kubeconfig.*no context "x"'):
        connect(None, "x")
