"""The pinned versions of both clusters, read from the wrapper go.mod.

``tools/cluster/go.mod`` is the single place the versions are written: the
control plane's modules and kind's are ``require`` lines, and the kind node
image (a container image, not a Go module) is its ``// kind-node-image:``
comment line. Everything else (cache keys, version stamps, the node image the
kind provider asks for, the suite's version check) is derived from it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WRAPPER_MODULE = REPO_ROOT / "tools" / "cluster"


NODE_IMAGE_MARKER = "// kind-node-image:"
# kindest/node:<Kubernetes version>@sha256:<64 hex digits>: a tag alone is not
# enough, kind guarantees only the image built for its release, by digest.
NODE_IMAGE_PATTERN = re.compile(r"kindest/node:(v\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Versions:
    kubernetes: str  # e.g. v1.36.4
    etcd: str
    kwok: str
    kind: str
    kind_node_image: str  # kindest/node:v1.36.4@sha256:...

    @property
    def kube_minor(self) -> str:
        return self.kubernetes.lstrip("v").split(".")[1]

    @property
    def cache_key(self) -> str:
        """Directory name of the binary cache: one per set of built versions."""
        return f"k8s-{self.kubernetes}_etcd-{self.etcd}_kwok-{self.kwok}_kind-{self.kind}"


def _required_version(go_mod: str, module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", go_mod, re.MULTILINE)
    if not match:
        raise RuntimeError(f"{module} is not required in {WRAPPER_MODULE / 'go.mod'}")
    return match.group(1)


def _node_image(go_mod: str) -> str:
    lines = [line.strip() for line in go_mod.splitlines() if line.strip().startswith(NODE_IMAGE_MARKER)]
    if len(lines) != 1:
        raise RuntimeError(f"{WRAPPER_MODULE / 'go.mod'} needs exactly one '{NODE_IMAGE_MARKER} IMAGE' line")
    image = lines[0].removeprefix(NODE_IMAGE_MARKER).strip()
    if not NODE_IMAGE_PATTERN.fullmatch(image):
        raise RuntimeError(f"kind node image {image!r} is not kindest/node:vX.Y.Z@sha256:<digest>")
    return image


def parse(go_mod: str) -> Versions:
    return Versions(
        kubernetes=_required_version(go_mod, "k8s.io/kubernetes"),
        etcd=_required_version(go_mod, "go.etcd.io/etcd/server/v3"),
        kwok=_required_version(go_mod, "sigs.k8s.io/kwok"),
        kind=_required_version(go_mod, "sigs.k8s.io/kind"),
        kind_node_image=_node_image(go_mod),
    )


@cache
def pinned() -> Versions:
    return parse((WRAPPER_MODULE / "go.mod").read_text())
