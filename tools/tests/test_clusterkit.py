"""Unit tests of clusterkit's pure parts (the cluster itself is tested by the suite)."""

from __future__ import annotations

import ipaddress
import sys
import time

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clusterkit.build import version_ldflags
from clusterkit.local import Process, free_ports
from clusterkit.pki import CertificateAuthority, CertSpec
from clusterkit.versions import pinned


def test_versions_come_from_the_wrapper_go_mod():
    versions = pinned()
    assert versions.kubernetes.startswith("v1.")
    assert versions.kube_minor == versions.kubernetes.split(".")[1]
    assert versions.cache_key == f"k8s-{versions.kubernetes}_etcd-{versions.etcd}_kwok-{versions.kwok}"


def test_ldflags_stamp_both_version_packages():
    flags = version_ldflags(pinned())
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion={pinned().kubernetes}" in flags
        assert f"-X {package}.gitMinor={pinned().kube_minor}" in flags


def test_server_certificate_carries_sans_and_is_signed_by_the_ca(tmp_path):
    ca = CertificateAuthority(tmp_path)
    cert_path, _ = ca.issue(
        CertSpec("apiserver", "kube-apiserver", dns_names=("localhost",), ip_addresses=("127.0.0.1",), server=True)
    )
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca.certificate)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_certificate_names_user_and_groups(tmp_path):
    ca = CertificateAuthority(tmp_path)
    cert_path, key_path = ca.issue(CertSpec("admin", "kubernetes-admin", ("system:masters",), client=True))
    subject = x509.load_pem_x509_certificate(cert_path.read_bytes()).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert key_path.stat().st_mode & 0o077 == 0, "private keys must not be readable by others"


def test_ca_is_reused_when_present(tmp_path):
    first = CertificateAuthority(tmp_path).certificate
    assert CertificateAuthority(tmp_path).certificate == first


def test_free_ports_are_distinct():
    ports = free_ports(6)
    assert len(set(ports)) == 6


def test_process_alive_only_while_it_is_ours(tmp_path):
    process = Process("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "log")
    process.start()
    try:
        assert process.alive()
        impostor = Process("sleeper", ["/bin/other-binary"], tmp_path / "log", process.pid)
        assert not impostor.alive(), "a pid running another binary is not our process"
    finally:
        process.stop()
    assert not process.alive()


def test_stop_escalates_to_sigkill(tmp_path, monkeypatch):
    monkeypatch.setattr("clusterkit.local.STOP_GRACE_SECONDS", 0.5)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    process = Process("stubborn", [sys.executable, "-c", stubborn], tmp_path / "log")
    process.start()
    _wait_until(lambda: "ready" in (tmp_path / "log").read_text())  # SIGTERM is ignored from here on
    process.stop()
    assert not process.alive()


def _wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
