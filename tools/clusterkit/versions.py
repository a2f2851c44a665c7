"""The pinned versions of the `local` cluster, read from the wrapper go.mod.

``tools/cluster/go.mod`` is the single place the control-plane versions are
written; everything else (cache keys, version stamps, the suite's version
check) is derived from it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WRAPPER_MODULE = REPO_ROOT / "tools" / "cluster"


@dataclass(frozen=True)
class Versions:
    kubernetes: str  # e.g. v1.36.3
    etcd: str
    kwok: str

    @property
    def kube_minor(self) -> str:
        return self.kubernetes.lstrip("v").split(".")[1]

    @property
    def cache_key(self) -> str:
        """Directory name of the binary cache: one per version triple."""
        return f"k8s-{self.kubernetes}_etcd-{self.etcd}_kwok-{self.kwok}"


def _required_version(go_mod: str, module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", go_mod, re.MULTILINE)
    if not match:
        raise RuntimeError(f"{module} is not required in {WRAPPER_MODULE / 'go.mod'}")
    return match.group(1)


@cache
def pinned() -> Versions:
    go_mod = (WRAPPER_MODULE / "go.mod").read_text()
    return Versions(
        kubernetes=_required_version(go_mod, "k8s.io/kubernetes"),
        etcd=_required_version(go_mod, "go.etcd.io/etcd/server/v3"),
        kwok=_required_version(go_mod, "sigs.k8s.io/kwok"),
    )
