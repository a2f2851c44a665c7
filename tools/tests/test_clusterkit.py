"""Unit tests of clusterkit: its pure parts, and the kind provider against fake tools.

The clusters themselves are tested by the conformance suite.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clusterkit.__main__ import main as clusterkit_main
from clusterkit.build import PACKAGES, version_ldflags
from clusterkit.kind import KindCluster, controller_images
from clusterkit.local import ClusterError, Process, free_ports
from clusterkit.pki import CertificateAuthority, CertSpec
from clusterkit.versions import NODE_IMAGE_PATTERN, REPO_ROOT, pinned
from clusterkit.versions import parse as parse_versions


def test_versions_come_from_the_wrapper_go_mod():
    versions = pinned()
    assert versions.kubernetes.startswith("v1.")
    assert versions.kube_minor == versions.kubernetes.split(".")[1]
    assert versions.cache_key == (
        f"k8s-{versions.kubernetes}_etcd-{versions.etcd}_kwok-{versions.kwok}_kind-{versions.kind}"
    )


def test_kind_is_built_with_the_other_binaries():
    assert PACKAGES["kind"] == "sigs.k8s.io/kind"
    assert pinned().kind.startswith("v0.")


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


def test_free_ports_are_distinct_and_outside_the_ephemeral_range():
    ports = free_ports(6)
    assert len(set(ports)) == 6
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert not [port for port in ports if low <= port <= high], "an outgoing connection could take these ports"


def test_free_ports_skips_a_port_in_use(monkeypatch):
    from clusterkit import local

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    busy = taken.getsockname()[1]
    offered: list[int] = []
    real_choice = local.random.SystemRandom.choice

    def busy_first(chooser, candidates):
        offered.append(busy if not offered else real_choice(chooser, candidates))
        return offered[-1]

    monkeypatch.setattr(local.random.SystemRandom, "choice", busy_first)
    try:
        ports = free_ports(1)
    finally:
        taken.close()
    assert offered[0] == busy and len(offered) >= 2, "the busy port was not offered first"
    assert ports != [busy] and len(ports) == 1


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


def test_a_component_restarted_elsewhere_is_the_one_stopped(tmp_path):
    """Two suite workers each hold a LocalCluster of one run directory: after one restarts a component, the
    other's stop_component stops the process running now, not the pid it read at start."""
    from clusterkit.local import LocalCluster

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    first = Process("kube-apiserver", sleeper, tmp_path / "logs" / "first.log")
    first.start()
    state = tmp_path / "state.json"

    def write_state(process: Process) -> None:
        entry = {"pid": process.pid, "argv": process.argv, "log": str(process.log)}
        state.write_text(json.dumps({"versions": "test", "ports": {}, "processes": {"kube-apiserver": entry}}))

    write_state(first)
    stale = LocalCluster(tmp_path)  # a worker that read the state before the restart
    other = LocalCluster(tmp_path)
    other.stop_component("kube-apiserver")
    second = Process("kube-apiserver", sleeper, tmp_path / "logs" / "second.log")
    second.start()
    write_state(second)
    try:
        assert not first.alive()
        stale.stop_component("kube-apiserver")
        assert not second.alive(), "the stale object stopped the old pid and left the running component"
        with pytest.raises(ClusterError, match="is running"):
            running = Process("kube-apiserver", sleeper, tmp_path / "logs" / "third.log")
            running.start()
            write_state(running)
            try:
                stale.start_component("kube-apiserver")
            finally:
                running.stop()
    finally:
        second.stop()


def test_down_stops_a_component_restarted_elsewhere(tmp_path):
    """The object that started the cluster stops it; a component restarted since (a break-glass command, a
    suite worker) runs under a new pid, which down reads from the state: it is stopped, not left running."""
    from clusterkit.local import LocalCluster

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    state = tmp_path / "state.json"

    def write_state(process: Process) -> None:
        entry = {"pid": process.pid, "argv": process.argv, "log": str(process.log)}
        state.write_text(json.dumps({"versions": "test", "ports": {}, "processes": {"kube-apiserver": entry}}))

    first = Process("kube-apiserver", sleeper, tmp_path / "logs" / "first.log")
    first.start()
    write_state(first)
    starter = LocalCluster(tmp_path)  # read the state before the restart
    first.stop()
    second = Process("kube-apiserver", sleeper, tmp_path / "logs" / "second.log")
    second.start()
    write_state(second)
    try:
        starter.down()
        assert not second.alive(), "down stopped the old pid and left the restarted component running"
        assert not state.exists()
    finally:
        second.stop()


def test_an_api_server_restart_restarts_its_clients_fresh(tmp_path, monkeypatch):
    """The controller-manager, scheduler and kwok start again after the new API server is ready, so no
    reflector backoff (which grows with every restart) decides when the cluster works again."""
    from clusterkit import local

    order: list[tuple[str, str]] = []
    monkeypatch.setattr(local.LocalCluster, "stop_component", lambda self, name: order.append(("stop", name)))
    monkeypatch.setattr(local.LocalCluster, "start_component", lambda self, name: order.append(("start", name)))
    monkeypatch.setattr(local, "ensure_binaries", lambda names: {"kubectl": Path("kubectl")})
    monkeypatch.setattr(local, "wait_controllers_recovered", lambda *args: order.append(("probe", "")))
    local.LocalCluster(tmp_path).restart_component("kube-apiserver")
    assert order == [
        ("stop", "kube-apiserver"),
        ("start", "kube-apiserver"),
        *[(verb, name) for name in local.APISERVER_CLIENTS for verb in ("stop", "start")],
        ("probe", ""),
    ]
    assert set(local.APISERVER_CLIENTS) == {"kube-controller-manager", "kube-scheduler", "kwok"}


def _wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ----- the kind provider, against fake `docker`, `kind` and `kubectl` -------------------
# One fake program under three names. Each call appends {"tool", "argv"} to
# calls.jsonl; what it answers comes from files in $FAKE_STATE: `clusters`
# (kind's clusters), `node_image` (what `docker inspect` reports), `parked`
# (static-pod manifests moved out of the kubelet's directory: their container
# stops), `no_engine` (`docker info` fails), `build_fails` (`docker build` fails).
FAKE_TOOL = r"""
import json, os, sys
from pathlib import Path

state = Path(os.environ["FAKE_STATE"])
tool, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(state / "calls.jsonl", "a") as log:
    log.write(json.dumps({"tool": tool, "argv": args}) + "\n")

def lines(name):
    path = state / name
    return path.read_text().split() if path.exists() else []

def write_lines(name, values):
    (state / name).write_text("".join(f"{v}\n" for v in values))

def option(flag):
    return args[args.index(flag) + 1]

if tool == "docker":
    if args[0] == "info":
        if (state / "no_engine").exists():
            sys.exit("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
        print("29.0.0")
    elif args[0] == "inspect":
        print((state / "node_image").read_text().strip())
    elif args[0] == "build" and (state / "build_fails").exists():
        sys.exit("failed to solve: golang:1.26: not found")
    elif args[0] == "exec":
        command = args[2:]
        if command[0] == "mv":
            component = Path(command[1]).stem
            parked = set(lines("parked"))
            parked.symmetric_difference_update({component})
            write_lines("parked", sorted(parked))
        elif command[:2] == ["crictl", "ps"]:
            component = option("--name").strip("^$")
            if component not in lines("parked"):
                print(f"id-{component}")
        elif command[:2] == ["crictl", "exec"] and "status" in command:
            print(json.dumps([{"Endpoint": "https://127.0.0.1:2379", "Status": {"header": {"revision": 4242}}}]))
        elif command[:2] == ["crictl", "exec"] and "compact" in command:
            print("compacted revision 4242")
elif tool == "kind":
    if args[:2] == ["get", "clusters"]:
        print("\n".join(lines("clusters")))
    elif args[:2] == ["create", "cluster"]:
        write_lines("clusters", [*lines("clusters"), option("--name")])
        Path(option("--kubeconfig")).write_text("fake kubeconfig\n")
    elif args[:2] == ["export", "kubeconfig"]:
        Path(option("--kubeconfig")).write_text("fake kubeconfig\n")
    elif args[:2] == ["delete", "cluster"]:
        write_lines("clusters", [c for c in lines("clusters") if c != option("--name")])
elif tool == "kubectl" and "--raw=/readyz" in args:
    print("ok")
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Fake docker/kind/kubectl first on PATH (kind and kubectl also as the 'prebuilt' binaries)."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for tool in ("docker", "kind", "kubectl"):
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\n{FAKE_TOOL}")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("K8S_BIN_DIR", str(bin_dir))  # ensure_binaries takes these, builds nothing
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_STATE", str(state))
    monkeypatch.setattr("clusterkit.kind.POLL_SECONDS", 0.01)
    return state


def calls(state, tool: str | None = None) -> list[list[str]]:
    records = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]
    return [[r["tool"], *r["argv"]] for r in records if tool in (None, r["tool"])]


def first_index(recorded: list[list[str]], prefix: list[str]) -> int:
    return next(i for i, call in enumerate(recorded) if call[: len(prefix)] == prefix)


def test_kind_up_creates_the_cluster_from_the_pinned_image_by_digest(fake_tools, tmp_path):
    cluster = KindCluster(tmp_path / "run")
    assert cluster.up() is True, "a cluster this call created must be reported as started here"

    create = next(c for c in calls(fake_tools, "kind") if c[1:3] == ["create", "cluster"])
    image = create[create.index("--image") + 1]
    assert image == pinned().kind_node_image
    assert re.fullmatch(r"kindest/node:v[\d.]+@sha256:[0-9a-f]{64}", image), "the node image must be pinned by digest"
    assert create[create.index("--name") + 1] == "controller-examples"
    assert create[create.index("--kubeconfig") + 1] == str(cluster.kubeconfig)
    config = yaml.safe_load(Path(create[create.index("--config") + 1]).read_text())
    kubelet = yaml.safe_load(config["nodes"][0]["kubeadmConfigPatches"][0])
    assert kubelet["kind"] == "KubeletConfiguration" and kubelet["maxPods"] > 200, "room for the 200-site scenario"


def test_kind_up_waits_for_ready_nodes_then_builds_and_loads_the_three_controller_images(fake_tools, tmp_path):
    KindCluster(tmp_path / "run").up()
    recorded = calls(fake_tools)
    images = controller_images()
    assert sorted(images) == ["bash", "go", "python"]
    assert all(image.startswith("controller-examples/staticsite-controller-") for image in images.values())

    builds = [c for c in recorded if c[:2] == ["docker", "build"]]
    built = {(c[c.index("--file") + 1], c[c.index("--tag") + 1]) for c in builds}
    assert built == {(str(REPO_ROOT / language / "Dockerfile"), image) for language, image in images.items()}
    assert all(c[-1] == str(REPO_ROOT) for c in builds), "the Dockerfiles build from the repository root"

    load = first_index(recorded, ["kind", "load", "docker-image"])
    assert recorded[load][3:] == ["--name", "controller-examples", *images.values()]
    ready = first_index(recorded, ["kubectl"])
    assert "--for=condition=Ready" in recorded[ready] and "node" in recorded[ready]
    created = first_index(recorded, ["kind", "create"])
    assert created < ready < first_index(recorded, ["docker", "build"]) < load


def test_kind_up_reuses_a_running_cluster_of_the_pinned_image(fake_tools, tmp_path):
    (fake_tools / "clusters").write_text("other\ncontroller-examples\n")
    (fake_tools / "node_image").write_text(pinned().kind_node_image + "\n")
    cluster = KindCluster(tmp_path / "run")
    assert cluster.up() is False, "a reused cluster is not the caller's to stop"
    recorded = calls(fake_tools)
    assert not [c for c in recorded if c[:3] == ["kind", "create", "cluster"]]
    export = ["kind", "export", "kubeconfig", "--name", "controller-examples", "--kubeconfig", str(cluster.kubeconfig)]
    assert export in recorded
    assert [c for c in recorded if c[:3] == ["kind", "load", "docker-image"]], "images are loaded into a reused cluster"


def test_kind_up_refuses_a_cluster_of_another_node_image(fake_tools, tmp_path):
    (fake_tools / "clusters").write_text("controller-examples\n")
    (fake_tools / "node_image").write_text("kindest/node:v1.36.3\n")
    pinned_image = re.escape(pinned().kind_node_image)
    with pytest.raises(ClusterError, match=rf"runs kindest/node:v1\.36\.3, not the pinned {pinned_image}"):
        KindCluster(tmp_path / "run").up()


def test_kind_down_deletes_only_the_cluster_it_created(fake_tools, tmp_path):
    (fake_tools / "clusters").write_text("controller-examples\n")
    (fake_tools / "node_image").write_text(pinned().kind_node_image + "\n")
    reused = KindCluster(tmp_path / "reused")
    reused.up()
    reused.down()
    assert not [c for c in calls(fake_tools, "kind") if c[1] == "delete"], "deleted a cluster it did not create"
    assert (fake_tools / "clusters").read_text().split() == ["controller-examples"]

    (fake_tools / "clusters").write_text("")
    created = KindCluster(tmp_path / "created")
    created.up()
    created.down()
    assert ["kind", "delete", "cluster", "--name", "controller-examples"] in calls(fake_tools)
    assert not created.kubeconfig.exists() and not created.created_marker.exists()
    created.down()  # a second down has nothing of its own left to delete
    assert len([c for c in calls(fake_tools, "kind") if c[1] == "delete"]) == 1


def test_kind_without_a_docker_engine_fails_at_once_in_one_line(fake_tools, tmp_path, monkeypatch, capsys):
    (fake_tools / "no_engine").write_text("")
    monkeypatch.setenv("CLUSTER_DIR", str(tmp_path / "run"))
    assert clusterkit_main(["--cluster", "kind", "up"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: kind provider needs a running Docker engine")
    assert [c[0] for c in calls(fake_tools)] == ["docker"], "nothing may run (or build) before Docker is known"


def test_kind_without_docker_names_the_missing_command(fake_tools, tmp_path, monkeypatch):
    (tmp_path / "bin" / "docker").unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the fake kind and kubectl, no docker
    with pytest.raises(ClusterError, match=r"needs Docker: no `docker` command on PATH"):
        KindCluster(tmp_path / "run").up()
    assert not (fake_tools / "calls.jsonl").exists(), "nothing may run before Docker is known"


def test_kind_restarts_the_api_server_by_moving_its_static_pod_manifest(fake_tools, tmp_path):
    cluster = KindCluster(tmp_path / "run")
    cluster.restart_component("kube-apiserver")
    recorded = calls(fake_tools)
    node = ["docker", "exec", "controller-examples-control-plane"]
    in_kubelet_dir, parked = "/etc/kubernetes/manifests/kube-apiserver.yaml", "/etc/kubernetes/kube-apiserver.yaml"
    out = recorded.index([*node, "mv", in_kubelet_dir, parked])
    back = recorded.index([*node, "mv", parked, in_kubelet_dir])
    assert out < back
    polls = [i for i, c in enumerate(recorded) if c[3:5] == ["crictl", "ps"]]
    assert any(out < i < back for i in polls), "the manifest came back before the old API server had stopped"
    assert any(i > back for i in polls), "no wait for the new API server container"
    readyz = [i for i, c in enumerate(recorded) if c[0] == "kubectl" and "--raw=/readyz" in c]
    assert readyz and readyz[0] > back
    assert not (fake_tools / "parked").read_text().split(), "the manifest was left out of the kubelet's directory"
    for client_name in ("kube-controller-manager", "kube-scheduler"):
        moved = recorded.index(
            [*node, "mv", f"/etc/kubernetes/manifests/{client_name}.yaml", f"/etc/kubernetes/{client_name}.yaml"]
        )
        assert moved > readyz[0], f"{client_name} restarted before the new API server was ready"


def test_kind_compacts_etcd_with_etcdctl_in_its_container(fake_tools, tmp_path):
    assert KindCluster(tmp_path / "run").compact_etcd() == 4242
    compact = next(c for c in calls(fake_tools, "docker") if "compact" in c)
    in_etcd_container = ["docker", "exec", "controller-examples-control-plane", "crictl", "exec", "id-etcd", "etcdctl"]
    assert compact[:7] == in_etcd_container
    assert compact[-2:] == ["4242", "--physical"]
    assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt" in compact


# ----- the pins -----------------------------------------------------------------------
def test_pinned_node_image_is_one_the_pinned_kind_release_publishes():
    release = yaml.safe_load((REPO_ROOT / "tools" / "cluster" / "kind-node-images.yaml").read_text())
    assert release["kind"] == pinned().kind, "kind-node-images.yaml is the list of another kind release"
    assert release["source"].endswith(f"/releases/tag/{pinned().kind}")
    assert release["default"] in release["images"]
    assert pinned().kind_node_image in release["images"]
    assert all(NODE_IMAGE_PATTERN.fullmatch(image) for image in release["images"])


def test_both_providers_run_one_kubernetes_release():
    node_version = NODE_IMAGE_PATTERN.fullmatch(pinned().kind_node_image).group(1)
    assert node_version == pinned().kubernetes


def test_versions_refuse_a_node_image_without_digest():
    go_mod = (REPO_ROOT / "tools" / "cluster" / "go.mod").read_text()
    tag_only = re.sub(r"@sha256:[0-9a-f]{64}", "", go_mod)
    with pytest.raises(RuntimeError, match=r"is not kindest/node:vX\.Y\.Z@sha256"):
        parse_versions(tag_only)
    without = "\n".join(line for line in go_mod.splitlines() if not line.startswith("// kind-node-image:"))
    with pytest.raises(RuntimeError, match="exactly one"):
        parse_versions(without)
    assert parse_versions(go_mod) == pinned()


def test_kind_up_that_fails_after_creating_says_how_to_delete_the_cluster(fake_tools, tmp_path):
    (fake_tools / "build_fails").write_text("")
    cluster = KindCluster(tmp_path / "run")
    with pytest.raises(ClusterError, match=r"golang:1\.26: not found .*`make cluster-down CLUSTER=kind` deletes"):
        cluster.up()
    assert cluster.created_marker.is_file(), "down must still know it created the cluster"


def test_a_component_starts_only_once_its_port_is_free(tmp_path, monkeypatch):
    """A stopped program may hold its port a moment longer (threads still exiting): start waits, bounded."""
    from clusterkit import local

    monkeypatch.setattr(local, "PORT_RELEASE_DEADLINE_SECONDS", 0.3)
    cluster = local.LocalCluster(tmp_path)
    (port,) = free_ports(1)
    cluster.ports = {"kube-scheduler": port}
    cluster._wait_ports_free("kube-scheduler")  # free: returns at once
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(ClusterError, match="still in use"):
            cluster._wait_ports_free("kube-scheduler")
