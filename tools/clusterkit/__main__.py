"""Command line: ``python -m clusterkit [--cluster PROVIDER] COMMAND [ARG]``.

build, up, down, status, env: the cluster. Break-glass (``breakglass.py``): restart apiserver|controller-manager|
scheduler, stop|start controller-manager, compact (etcd: a real 410), sa-kubeconfig [PATH] (the controller's
ServiceAccount with the shipped RBAC).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import breakglass
from .build import ensure_binaries
from .local import ClusterError
from .providers import PROVIDERS, get_provider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clusterkit", description=__doc__)
    parser.add_argument(
        "--cluster",
        choices=PROVIDERS,
        default=os.environ.get("CLUSTER", "local"),
        help="provider (default: $CLUSTER or local)",
    )
    parser.add_argument(
        "command",
        choices=("build", "up", "down", "status", "env", "restart", "stop", "start", "compact", "sa-kubeconfig"),
        help="build: compile the binaries; up/down/status: the cluster; env: print the export line; "
        "restart/stop/start COMPONENT, compact, sa-kubeconfig [PATH]: break-glass",
    )
    parser.add_argument("argument", nargs="?", default="", help="the component, or sa-kubeconfig's file")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for name, path in ensure_binaries().items():
                print(f"{name}\t{path}")
            return 0
        cluster = get_provider(args.cluster)
        if args.command == "up":
            cluster.up()
            print(f"export KUBECONFIG={cluster.kubeconfig}")
        elif args.command == "down":
            cluster.down()
        elif args.command == "status":
            return _print_status(cluster)
        elif args.command == "env":
            print(f"export KUBECONFIG={cluster.kubeconfig}")
            print(f"export PATH={Path(cluster.kubectl).parent}:$PATH")
        else:
            print(_break_glass(cluster, args.command, args.argument))
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(map(str, error.cmd[:3]))}... exited {error.returncode}", file=sys.stderr)
        return 1
    return 0


def _break_glass(cluster, command: str, argument: str) -> str:
    if command == "compact":
        return breakglass.compact(cluster)
    if command == "sa-kubeconfig":
        path = Path(argument or "build/learn/controller.kubeconfig").resolve()
        return f"export KUBECONFIG={breakglass.sa_kubeconfig(cluster, path)}"
    return {"restart": breakglass.restart, "stop": breakglass.stop, "start": breakglass.start}[command](
        cluster, argument
    )


def _print_status(cluster) -> int:
    rows = cluster.status()
    if not rows:
        print(f"{cluster.name} cluster: not running")
        return 1
    for row in rows:
        print("\t".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
