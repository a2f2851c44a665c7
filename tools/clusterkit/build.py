"""Build the clusters' binaries from Go modules, once per version.

Nothing is downloaded but Go modules: the wrapper module ``tools/cluster``
requires k8s.io/kubernetes, etcd's server, kwok and kind, and ``go build``
compiles their ``main`` packages. The binaries land in a cache outside the work
tree, keyed by the versions, so every clone and every run on this machine
reuses them. A directory of prebuilt binaries is honoured first:
``$K8S_BIN_DIR``, then ``$KUBEBUILDER_ASSETS`` (which has etcd, kube-apiserver
and kubectl); whatever they lack is built.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from .versions import WRAPPER_MODULE, Versions, pinned

# Binary name -> Go package with the main function.
PACKAGES = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    "kwok": "sigs.k8s.io/kwok/cmd/kwok",
    # The kind provider's CLI: `kind create cluster`, `kind load docker-image`.
    "kind": "sigs.k8s.io/kind",
}

PREBUILT_DIR_VARIABLES = ("K8S_BIN_DIR", "KUBEBUILDER_ASSETS")


def progress(message: str) -> None:
    print(f"[clusterkit] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "controller-examples"


def cache_bin_dir(versions: Versions | None = None) -> Path:
    return cache_root() / (versions or pinned()).cache_key / "bin"


def build_times_path(versions: Versions | None = None) -> Path:
    """Where each build's durations are kept, next to bin/: `make bench` reports the cold build from it."""
    return cache_bin_dir(versions).parent / "build-times.json"


def _record_build_times(path: Path, seconds_by_binary: dict[str, float]) -> None:
    records = json.loads(path.read_text()) if path.is_file() else []
    records.append(
        {
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(sum(seconds_by_binary.values()), 1),
            "binaries": {name: round(seconds, 1) for name, seconds in seconds_by_binary.items()},
        }
    )
    path.write_text(json.dumps(records, indent=2) + "\n")


def version_ldflags(versions: Versions) -> str:
    """Stamp the versions a release build would carry.

    Without these, ``kubectl version`` and the API server's /version report
    v0.0.0-master, and clients that negotiate on the server version misbehave.
    """
    kube = versions.kubernetes
    major, minor = kube.lstrip("v").split(".")[:2]
    stamps = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamps += [
            f"-X {package}.gitVersion={kube}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    # -s -w drop the symbol tables: smaller binaries and faster links.
    return " ".join(["-s", "-w", *stamps])


def _prebuilt(name: str) -> Path | None:
    for variable in PREBUILT_DIR_VARIABLES:
        directory = os.environ.get(variable)
        if directory and (Path(directory) / name).is_file():
            return Path(directory) / name
    return None


def _go_build(name: str, destination: Path, versions: Versions) -> None:
    # Write next to the destination, then rename: a build that is interrupted
    # never leaves a half-written binary under the final name.
    partial = destination.with_name(f".{name}.partial-{os.getpid()}")
    command = [
        "go",
        "build",
        "-mod=readonly",
        "-ldflags",
        version_ldflags(versions),
        "-o",
        str(partial),
        PACKAGES[name],
    ]
    try:
        subprocess.run(command, cwd=WRAPPER_MODULE, check=True)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)


def ensure_binaries(names: tuple[str, ...] = tuple(PACKAGES)) -> dict[str, Path]:
    """Return name -> path of the named binaries, building the missing ones."""
    versions = pinned()
    bin_dir = cache_bin_dir(versions)
    bin_dir.mkdir(parents=True, exist_ok=True)
    # One builder at a time per cache: a second `make` waits instead of
    # compiling the same thing twice on a 2-core machine.
    with open(bin_dir.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        paths = {}
        missing = []
        for name in names:
            found = _prebuilt(name)
            paths[name] = found or bin_dir / name
            if not paths[name].is_file():
                missing.append(name)
        if missing:
            progress(f"building {', '.join(missing)} for {versions.cache_key} into {bin_dir}")
            progress("a cold build compiles Kubernetes: expect tens of minutes on 2 cores")
        seconds_by_binary = {}
        for index, name in enumerate(missing, start=1):
            step_started = time.monotonic()
            progress(f"[{index}/{len(missing)}] go build {PACKAGES[name]}")
            _go_build(name, bin_dir / name, versions)
            seconds_by_binary[name] = time.monotonic() - step_started
            progress(f"[{index}/{len(missing)}] {name} built in {seconds_by_binary[name]:.0f}s")
        if missing:
            progress(f"all binaries built in {sum(seconds_by_binary.values()):.0f}s")
            _record_build_times(build_times_path(versions), seconds_by_binary)
        return paths
