"""The break-glass commands of clusterkit: which component each name is, what each provider can do, the
ServiceAccount kubeconfig."""

from __future__ import annotations

import base64

import pytest
import yaml

from clusterkit import breakglass
from clusterkit.__main__ import main as clusterkit_main
from clusterkit.kubeconfig import token_kubeconfig
from clusterkit.local import ClusterError


class RecordingCluster:
    """A provider that records the disruptions asked of it."""

    name = "recording"

    def __init__(self):
        self.calls = []

    def restart_component(self, name):
        self.calls.append(("restart", name))

    def stop_component(self, name):
        self.calls.append(("stop", name))

    def start_component(self, name):
        self.calls.append(("start", name))

    def compact_etcd(self):
        self.calls.append(("compact",))
        return 42


class ExistingLike:
    name = "existing"


def test_short_names_map_to_the_components():
    cluster = RecordingCluster()
    breakglass.restart(cluster, "apiserver")
    said = breakglass.stop(cluster, "controller-manager")
    breakglass.start(cluster, "controller-manager")
    assert cluster.calls == [
        ("restart", "kube-apiserver"),
        ("stop", "kube-controller-manager"),
        ("start", "kube-controller-manager"),
    ]
    assert "no garbage collection" in said


def test_compact_says_what_it_causes():
    assert "410 Gone" in breakglass.compact(RecordingCluster())


def test_an_unknown_component_is_one_error():
    with pytest.raises(ClusterError, match="choose one of apiserver, controller-manager, scheduler"):
        breakglass.restart(RecordingCluster(), "etcd")


def test_a_cluster_that_cannot_be_disrupted_says_so():
    with pytest.raises(ClusterError, match="existing cluster cannot do this"):
        breakglass.compact(ExistingLike())


def test_the_command_line_reports_a_refusal_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr("clusterkit.__main__.get_provider", lambda name: ExistingLike())
    assert clusterkit_main(["--cluster", "existing", "compact"]) == 1
    said = capsys.readouterr().err.strip()
    assert said == "error: the existing cluster cannot do this by hand (the local cluster can)"


@pytest.mark.parametrize("embedded", [True, False], ids=["ca-data", "ca-file"])
def test_a_token_kubeconfig_keeps_the_admin_server_and_ca(tmp_path, embedded):
    ca = b"-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n"
    ca_data = base64.b64encode(ca).decode()
    entry = {"server": "https://127.0.0.1:6443"}
    if embedded:
        entry["certificate-authority-data"] = ca_data
    else:
        (tmp_path / "ca.pem").write_bytes(ca)
        entry["certificate-authority"] = str(tmp_path / "ca.pem")
    admin = tmp_path / "admin.kubeconfig"
    admin.write_text(yaml.safe_dump({"clusters": [{"name": "local", "cluster": entry}]}))
    path = tmp_path / "sa" / "controller.kubeconfig"

    written = token_kubeconfig(admin, path, token="t0ken", namespace="ns", account="sa", cluster_name="learn")

    config = yaml.safe_load(written.read_text())
    server = {"server": "https://127.0.0.1:6443", "certificate-authority-data": ca_data}
    assert config["clusters"] == [{"name": "learn", "cluster": server}]
    assert config["users"] == [{"name": "ns-sa", "user": {"token": "t0ken"}}]
    assert config["contexts"][0]["context"] == {"cluster": "learn", "user": "ns-sa", "namespace": "ns"}
    assert path.with_suffix(".ca.crt").read_bytes() == ca
    assert written.stat().st_mode & 0o077 == 0
