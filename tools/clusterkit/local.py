"""The `local` provider: a real control plane as plain processes on 127.0.0.1.

Components start in dependency order, each waiting for the previous one to be
ready: etcd (storage) → kube-apiserver (the API) → kube-controller-manager
(garbage collection, Deployments, namespaces, service accounts) →
kube-scheduler (binds pods to nodes) → kwok (plays the kubelet for fake
nodes). Everything about one cluster lives in its run directory: PKI,
kubeconfigs, etcd data, one log per component and ``state.json`` with the pid
and command line of every process it started, so ``down`` stops exactly those.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .build import ensure_binaries, progress
from .kubeconfig import write_kubeconfig
from .pki import APISERVER_DNS_NAMES, CertificateAuthority, CertSpec, write_service_account_keys
from .versions import WRAPPER_MODULE, pinned

LOOPBACK = "127.0.0.1"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# The components that watch the API server (see restart_component).
APISERVER_CLIENTS = ("kube-controller-manager", "kube-scheduler", "kwok")
READY_DEADLINE_SECONDS = {"etcd": 60, "kube-apiserver": 120}
DEFAULT_READY_DEADLINE_SECONDS = 90
# free_ports: where to look (below the kernel's ephemeral range, above well-known services) and how hard.
EPHEMERAL_RANGE_DEFAULT = (32768, 60999)
PORT_SEARCH_FLOOR = 10000
PORT_PICK_ATTEMPTS = 1000
PORT_RELEASE_DEADLINE_SECONDS = 30
STOP_GRACE_SECONDS = 10
# Every kubectl call of the providers gives up after this (kubectl's own --request-timeout).
KUBECTL_TIMEOUT_SECONDS = 30
# kube-apiserver closes its port at once on SIGTERM, then lingers ~10 s in
# teardown with nothing left to lose: a restart need not wait for that.
STOP_GRACE_SECONDS_BY_COMPONENT = {"kube-apiserver": 3}
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_COUNT = int(os.environ.get("KWOK_NODES", "2"))
# Enough room for the suite's and the benchmark's pods on two fake nodes: `make bench-large` runs
# 10,000 sites (one pod each, and a surge pod each while they roll out) beside a start-up probe site.
# At 5,000 a node, its 10,001st pod stayed Pending and the run waited for a site that could never be
# Ready (2026-12-02). A kwok node's pods cost nothing but their objects.
KWOK_NODE_MAX_PODS = 20000


class ClusterError(RuntimeError):
    """A one-line, user-facing reason the cluster is not usable."""


@dataclass
class Process:
    """One component this cluster started."""

    name: str
    argv: list[str]
    log: Path
    pid: int = 0

    def alive(self) -> bool:
        """True if ``pid`` is still *our* process (pids get reused)."""
        if not self.pid:
            return False
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        if state == "Z":
            return False
        # Right after fork, while execve is still setting up the new program,
        # the command line reads empty: the process exists and is ours.
        return cmdline == [b""] or cmdline[0].decode() == self.argv[0]

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            # A new session: the cluster outlives `make cluster-up` and a
            # Ctrl-C in the terminal does not reach it.
            child = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = child.pid

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it is still there after the grace period."""
        if not self.alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        if not self._gone_within(STOP_GRACE_SECONDS_BY_COMPONENT.get(self.name, STOP_GRACE_SECONDS)):
            os.kill(self.pid, signal.SIGKILL)
            self._gone_within(STOP_GRACE_SECONDS)

    def _gone_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            _reap(self.pid)
            if not self.alive():
                return True
            time.sleep(0.05)
        return False

    def state(self) -> str:
        return "exited" if not self.alive() else "running"

    def tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _reap(pid: int) -> None:
    """Collect a child that exited, if it was ours, so it is not a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on loopback, outside the kernel's ephemeral port range.

    A component restarted on its port (an API server restart restarts four of them) leaves that
    port unbound for a moment. A port of the ephemeral range can be taken in that moment as the
    local end of any outgoing connection on the machine, and the restart then fails with "address
    already in use" (seen with seven clusters sharing this machine). A port outside the range is
    only ever taken by an explicit bind.
    """
    candidates = _ports_outside_ephemeral_range()
    chooser = random.SystemRandom()
    ports: list[int] = []
    sockets = []
    try:
        for _ in range(PORT_PICK_ATTEMPTS):
            if len(ports) == count:
                return ports
            port = chooser.choice(candidates)
            if port in ports:
                continue
            s = socket.socket()
            try:
                s.bind((LOOPBACK, port))
            except OSError:  # in use: try another
                s.close()
                continue
            sockets.append(s)
            ports.append(port)
        if len(ports) == count:
            return ports
        raise ClusterError(f"found only {len(ports)} of {count} free loopback ports outside the ephemeral range")
    finally:
        for s in sockets:
            s.close()


def _bindable(port: int) -> bool:
    """Can a server listen on this loopback port now? (SO_REUSEADDR, as Go's listeners set it.)"""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _ports_outside_ephemeral_range() -> range:
    low, high = EPHEMERAL_RANGE_DEFAULT
    with contextlib.suppress(OSError, ValueError):
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    below = range(PORT_SEARCH_FLOOR, low)
    above = range(high + 1, 65536)
    return below if len(below) >= len(above) else above


class LocalCluster:
    name = "local"
    supports_disruption = True

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.pki_dir = run_dir / "pki"
        self.log_dir = run_dir / "logs"
        self.state_path = run_dir / "state.json"
        self.kubeconfig = run_dir / "kubeconfig"
        self.audit_log = self.log_dir / "audit.log"
        self.ports: dict[str, int] = {}
        self.processes: dict[str, Process] = {}
        self._load_state()

    # ----- state -------------------------------------------------------------
    def _load_state(self) -> None:
        if not self.state_path.exists():
            return
        state = json.loads(self.state_path.read_text())
        self.ports = state["ports"]
        self.processes = {
            name: Process(name, p["argv"], Path(p["log"]), p["pid"]) for name, p in state["processes"].items()
        }

    def _save_state(self) -> None:
        state = {
            "versions": pinned().cache_key,
            "ports": self.ports,
            "processes": {
                name: {"pid": p.pid, "argv": p.argv, "log": str(p.log)} for name, p in self.processes.items()
            },
        }
        partial = self.state_path.with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(self.state_path)

    @property
    def kubectl(self) -> Path:
        return ensure_binaries()["kubectl"]

    def running(self) -> bool:
        return bool(self.processes) and all(
            self.processes.get(name) and self.processes[name].alive() for name in COMPONENTS
        )

    # ----- lifecycle ---------------------------------------------------------
    def up(self) -> bool:
        """Start the cluster; returns False if it was already up (idempotent)."""
        if self.running() and self._apiserver_ready():
            progress(f"local cluster already running ({self.run_dir})")
            return False
        binaries = ensure_binaries()
        if self.state_path.exists():
            progress(f"recovering stale run directory {self.run_dir}")
            self.down()
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True)
        started = time.monotonic()
        names = ("etcd", "etcd-peer", *COMPONENTS[1:])
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self._write_pki_and_kubeconfigs()
        for name in COMPONENTS:
            self._start(name, self._argv(name, binaries[name]))
        self._register_kwok_nodes(binaries["kubectl"])
        progress(f"local cluster ready in {time.monotonic() - started:.1f}s")
        return True

    def down(self) -> None:
        """Stop exactly the processes this cluster started, newest first: those running now (a component
        restarted since this object read the state runs under a new pid, read from the state again)."""
        self._load_state()
        for name in reversed(COMPONENTS):
            process = self.processes.get(name)
            if process and process.alive():
                progress(f"stopping {name} (pid {process.pid})")
                process.stop()
        self.processes = {}
        self.state_path.unlink(missing_ok=True)

    def stop_component(self, name: str) -> None:
        # Another process (a suite worker) may have restarted it since this object read the state: stop
        # the process that runs now, not the pid remembered. (A stale pid here once meant "stopping" a dead
        # process, then starting a second API server that could not bind while the first served on.)
        self._load_state()
        self.processes[name].stop()

    def start_component(self, name: str) -> None:
        """Start a stopped component again with the same flags and port."""
        self._load_state()
        if self.processes[name].alive():
            raise ClusterError(f"{name} is running (pid {self.processes[name].pid}): stop it first")
        self._wait_ports_free(name)
        self._start(name, self.processes[name].argv)

    def _wait_ports_free(self, name: str) -> None:
        """Wait until the component's ports can be bound again.

        A stopped Go program's main thread can be a zombie (`alive()` is False) while its other threads
        are still exiting and hold its listening socket: a restart at that moment failed with "bind:
        address already in use" in CI. So "stopped" is not "port free"; poll with a deadline.
        """
        ports = [self.ports[name], *([self.ports["etcd-peer"]] if name == "etcd" else [])]
        deadline = time.monotonic() + PORT_RELEASE_DEADLINE_SECONDS
        while not all(_bindable(port) for port in ports):
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{name}: port(s) {ports} still in use {PORT_RELEASE_DEADLINE_SECONDS}s after it stopped"
                )
            time.sleep(0.1)

    def restart_component(self, name: str) -> None:
        """Restart one component; after the API server, restart its in-cluster clients too.

        The controller-manager, scheduler and kwok would reconnect by themselves, but
        each of their informers backs off exponentially (client-go: up to 30 s plus
        jitter, reset only after two quiet minutes) while the API server is away. The
        suite restarts the API server nine times in a few minutes, so that backoff grew
        from 7 s to 22 s to 60 s in three back-to-back restarts here, and once past the
        90 s deadline in CI. Started fresh, they list at once. The programs under test
        are not restarted: they see exactly the API server restart.
        """
        self.stop_component(name)
        self.start_component(name)
        if name == "kube-apiserver":
            for client_name in APISERVER_CLIENTS:
                self.stop_component(client_name)
                self.start_component(client_name)
            kubectl = ensure_binaries(("kubectl",))["kubectl"]
            wait_controllers_recovered(kubectl, self.kubeconfig, f"read {self.log_dir}")

    def status(self) -> list[tuple[str, str, str]]:
        """(component, pid/state, log) rows for `make cluster-status`."""
        return [(name, f"pid {p.pid} {p.state()}", str(p.log)) for name, p in self.processes.items()]

    # ----- etcd --------------------------------------------------------------
    def compact_etcd(self) -> int:
        """Compact etcd's history up to now; returns the compacted revision.

        Any watch that resumes from an older resourceVersion then gets
        410 Gone, which is how the suite forces the re-list path of watchers.
        (etcd's JSON gateway: the kube-apiserver has no API for this.)
        """
        base = f"http://{LOOPBACK}:{self.ports['etcd']}/v3/kv"
        revision = int(_post_json(f"{base}/range", {"key": "AA=="})["header"]["revision"])
        _post_json(f"{base}/compaction", {"revision": str(revision), "physical": True})
        return revision

    # ----- internals ---------------------------------------------------------
    def _start(self, name: str, argv: list[str]) -> None:
        process = Process(name, argv, self.log_dir / f"{name}.log")
        progress(f"starting {name} (log: {process.log})")
        process.start()
        self.processes[name] = process
        self._save_state()
        self._wait_ready(process)

    def _wait_ready(self, process: Process) -> None:
        deadline_seconds = READY_DEADLINE_SECONDS.get(process.name, DEFAULT_READY_DEADLINE_SECONDS)
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if not process.alive():
                raise ClusterError(f"{process.name} exited during start-up: read {process.log}\n{process.tail()}")
            if self._ready(process.name):
                return
            time.sleep(0.25)
        raise ClusterError(f"{process.name} not ready after {deadline_seconds}s: read {process.log}\n{process.tail()}")

    def _ready(self, name: str) -> bool:
        port = self.ports[name]
        if name == "etcd":
            return _get(f"http://{LOOPBACK}:{port}/health", None) == 200
        if name == "kwok":
            return _get(f"http://{LOOPBACK}:{port}/healthz", None) == 200
        path = "/readyz" if name == "kube-apiserver" else "/healthz"
        return _get(f"https://{LOOPBACK}:{port}{path}", self._tls_context()) == 200

    def _apiserver_ready(self) -> bool:
        return "kube-apiserver" in self.ports and self._ready("kube-apiserver")

    def _tls_context(self) -> ssl.SSLContext:
        """Verify every component against the cluster CA; present the admin cert."""
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return context

    def _write_pki_and_kubeconfigs(self) -> None:
        ca = CertificateAuthority(self.pki_dir)
        write_service_account_keys(self.pki_dir)
        loopback_server = dict(dns_names=("localhost",), ip_addresses=(LOOPBACK,), server=True)
        ca.issue(
            CertSpec(
                "apiserver",
                "kube-apiserver",
                dns_names=tuple(APISERVER_DNS_NAMES),
                ip_addresses=(LOOPBACK, "10.96.0.1"),
                server=True,
            )
        )
        ca.issue(CertSpec("kube-controller-manager-serving", "kube-controller-manager", **loopback_server))
        ca.issue(CertSpec("kube-scheduler-serving", "kube-scheduler", **loopback_server))
        # Client identities: the CN is the user, the O entries its groups.
        # The control-plane components are also in system:masters, which the
        # API server authorizes before RBAC: right after an API server
        # restart its RBAC caches are cold, and an RBAC-checked controller is
        # denied and backs off for tens of seconds. A production cluster
        # would use the narrower built-in roles; a test cluster that the suite
        # restarts on purpose wants its controllers back at once.
        identities = {
            "admin": ("kubernetes-admin", ("system:masters",)),
            "kube-controller-manager": ("system:kube-controller-manager", ("system:masters",)),
            "kube-scheduler": ("system:kube-scheduler", ("system:masters",)),
            "kwok": ("kwok", ("system:masters",)),
        }
        server = f"https://{LOOPBACK}:{self.ports['kube-apiserver']}"
        for name, (user, groups) in identities.items():
            cert, key = ca.issue(CertSpec(name, user, groups, client=True))
            path = self.kubeconfig if name == "admin" else self.pki_dir / f"{name}.kubeconfig"
            write_kubeconfig(path, server, ca.cert_path, cert, key, cluster_name="local", user=name)

    def _argv(self, name: str, binary: Path) -> list[str]:
        pki = self.pki_dir
        port = self.ports[name]
        if name == "etcd":
            peer = f"http://{LOOPBACK}:{self.ports['etcd-peer']}"
            client = f"http://{LOOPBACK}:{port}"
            return [
                str(binary),
                "--name=local",
                f"--data-dir={self.run_dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=local={peer}",
                # A throwaway test cluster: skipping fsync makes every API write
                # several times faster on a small VM and loses nothing we keep.
                "--unsafe-no-fsync",
                # etcd's default quota (2 GiB) is too small for `make bench-large`: at N = 10,000 the one
                # registry ConfigMap of a namespace grows to some 760 KB, and every version of it is kept
                # until the API server compacts (every 5 minutes); bbolt reuses the freed pages badly for
                # values that large, so the file grew past 1.2 GiB in the first 30 minutes of one create
                # phase (2026-12-02). 8 GiB is etcd's suggested maximum; a full quota would turn the run
                # into write errors.
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
            ]
        if name == "kube-apiserver":
            return [
                str(binary),
                # Without it the API server looks for a default route and dies
                # with "unable to find suitable network address" on a machine
                # that has none.
                f"--advertise-address={LOOPBACK}",
                f"--bind-address={LOOPBACK}",
                f"--secure-port={port}",
                f"--etcd-servers=http://{LOOPBACK}:{self.ports['etcd']}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                # The `kubernetes` Service would point at 127.0.0.1, which an
                # Endpoints object may not hold; nothing here needs it.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                # Only the controllers' own requests are audited: `make bench`
                # counts them by verb and resource.
                f"--audit-policy-file={WRAPPER_MODULE / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
            ]
        common = [
            f"--kubeconfig={pki / f'{name}.kubeconfig'}",
            f"--authentication-kubeconfig={pki / f'{name}.kubeconfig'}",
            f"--authorization-kubeconfig={pki / f'{name}.kubeconfig'}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--tls-cert-file={pki / f'{name}-serving.crt'}",
            f"--tls-private-key-file={pki / f'{name}-serving.key'}",
            # One instance each: nothing to elect.
            "--leader-elect=false",
            # The client-side defaults (20 and 50 QPS) are sized for a busy
            # shared cluster; here they would make the suite's 200-site and
            # 1,500-pod scenarios wait on the controllers, not on the API.
            "--kube-api-qps=500",
            "--kube-api-burst=1000",
            "--profiling=false",
        ]
        if name == "kube-controller-manager":
            return [
                str(binary),
                *common,
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                # One identity for all controllers (see the PKI comment above).
                "--use-service-account-credentials=false",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
            ]
        if name == "kube-scheduler":
            return [str(binary), *common]
        if name == "kwok":
            return [
                str(binary),
                f"--kubeconfig={pki / 'kwok.kubeconfig'}",
                f"--config={WRAPPER_MODULE / 'kwok.yaml'}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
                # Reported in node and pod status only: nothing ever connects to it.
                f"--node-ip={LOOPBACK}",
                f"--server-address={LOOPBACK}:{port}",
            ]
        raise ValueError(name)

    def _register_kwok_nodes(self, kubectl: Path) -> None:
        """Create the fake nodes kwok manages and wait until they are Ready."""
        nodes = [_kwok_node(f"kwok-node-{i}") for i in range(KWOK_NODE_COUNT)]
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes})
        kube = [str(kubectl), f"--kubeconfig={self.kubeconfig}"]
        progress(f"registering {len(nodes)} kwok nodes")
        subprocess.run([*kube, "apply", "-f", "-"], input=manifest.encode(), check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*kube, "wait", "--for=condition=Ready", "node", "--all", "--timeout=90s"],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def wait_controllers_recovered(kubectl: Path, kubeconfig: Path, where_to_look: str) -> None:
    """After an API server restart, wait until the controller-manager works again.

    A new API server answers /readyz before its RBAC caches are warm; the
    controllers' first requests are denied and their informers back off
    for tens of seconds. The probe: a new namespace gets its default
    ServiceAccount only once the controller-manager watches again.
    """
    kube = [str(kubectl), f"--kubeconfig={kubeconfig}", f"--request-timeout={KUBECTL_TIMEOUT_SECONDS}s"]
    probe = f"clusterkit-probe-{os.getpid()}-{int(time.monotonic() * 1000)}"
    subprocess.run([*kube, "create", "namespace", probe], check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + DEFAULT_READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        found = subprocess.run([*kube, "get", "serviceaccount", "default", "-n", probe], capture_output=True)
        if found.returncode == 0:
            break
        time.sleep(0.5)
    else:
        raise ClusterError(f"kube-controller-manager did not recover after the API server restart: {where_to_look}")
    subprocess.run([*kube, "delete", "namespace", probe, "--wait=false"], check=True, stdout=subprocess.DEVNULL)


def _kwok_node(name: str) -> dict:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": str(KWOK_NODE_MAX_PODS)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def _get(url: str, context: ssl.SSLContext | None) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
