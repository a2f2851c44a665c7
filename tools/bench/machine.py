"""The machine and the versions a run measured: figures mean little without them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from kubernetes import client

from clusterkit.versions import pinned


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _first_value(Path("/proc/cpuinfo"), "model name"),
        "memory_gib": round(int(_first_value(Path("/proc/meminfo"), "MemTotal").split()[0]) / 2**20, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "hostname": platform.node(),
    }


def versions(cluster, api: client.ApiClient) -> dict:
    """Versions of what ran: the control plane as pinned and as it answers, and each language's toolchain."""
    kubectl = json.loads(_output([str(cluster.kubectl), "version", "--client", "-o", "json"]) or "{}")
    server = client.VersionApi(api).get_code()
    return {
        "kubernetes": pinned().kubernetes,
        "kube_apiserver": server.git_version,
        "etcd": pinned().etcd,
        "kwok": pinned().kwok,
        "kubectl": kubectl.get("clientVersion", {}).get("gitVersion", "unknown"),
        "go": _output(["go", "env", "GOVERSION"]),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "bash": _output(["bash", "-c", "echo $BASH_VERSION"]),
        "jq": _output(["jq", "--version"]),
    }


def _first_value(path: Path, field: str) -> str:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == field:
            return value.strip()
    return "unknown"


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "unknown")
    except OSError:
        return "unknown"


def _output(argv: list[str]) -> str:
    """A version command's output, or "not installed"."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "not installed"
