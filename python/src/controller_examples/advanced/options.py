"""The controller's command line (shared-manifests/SPEC.md, "The process"), parsed once into `Options`.

The rest of the controller reads a frozen dataclass with one typed field per flag, never argparse's
`Namespace` (whose attributes a type checker cannot see). The same flags, defaults and checks as the Go
and Bash versions.
"""

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from controller_examples.advanced.endpoints import Address, host_port
from controller_examples.advanced.leader import LeaseTiming
from controller_examples.common.cli import ArgumentParser, non_empty, positive_int

PROGRAM = "staticsite-controller"


@dataclass(frozen=True)
class Options:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # None: every namespace
    workers: int = 4
    leader_elect: bool = False
    leader_election_namespace: str = "staticsite-system"
    leader_election_id: str = "staticsite-controller"
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{os.getpid()}")
    lease_timing: LeaseTiming = field(default_factory=LeaseTiming)
    health_addr: Address = ("127.0.0.1", 8081)
    metrics_addr: Address = ("127.0.0.1", 8080)


def parse_options(argv: Sequence[str]) -> Options:
    """The options of a command line; a usage error exits 2 with one line (common.cli.ArgumentParser)."""
    defaults = Options()
    timing = defaults.lease_timing
    parser = ArgumentParser(prog=PROGRAM, description="Run the StaticSite controller.", allow_abbrev=False)
    parser.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")
    parser.add_argument("--namespace", type=non_empty, metavar="NS", help="watch only this namespace (default: all)")
    parser.add_argument(
        "--workers", type=positive_int, default=defaults.workers, metavar="N",
        help=f"concurrent reconciles ({defaults.workers})",
    )  # fmt: skip
    parser.add_argument("--leader-elect", action="store_true", help="hold a Lease before reconciling")
    parser.add_argument(
        "--leader-election-namespace", type=non_empty, default=defaults.leader_election_namespace, metavar="NS",
        help=f"the Lease's namespace ({defaults.leader_election_namespace})",
    )  # fmt: skip
    parser.add_argument(
        "--leader-election-id", type=non_empty, default=defaults.leader_election_id, metavar="NAME",
        help=f"the Lease's name ({defaults.leader_election_id})",
    )  # fmt: skip
    parser.add_argument(
        "--identity", type=non_empty, default=defaults.identity, metavar="ID",
        help="the Lease holder identity (HOSTNAME_PID)",
    )  # fmt: skip
    for flag, default in (
        ("--lease-duration", timing.lease_duration),
        ("--renew-deadline", timing.renew_deadline),
        ("--retry-period", timing.retry_period),
    ):
        parser.add_argument(flag, type=positive_int, default=default, metavar="SECONDS", help=f"({default})")
    parser.add_argument(
        "--health-addr", type=host_port, default=defaults.health_addr, metavar="HOST:PORT",
        help="serve /healthz and /readyz here (127.0.0.1:8081)",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-addr", type=host_port, default=defaults.metrics_addr, metavar="HOST:PORT",
        help="serve /metrics here (127.0.0.1:8080)",
    )  # fmt: skip
    parsed = parser.parse_args(argv)
    lease_timing = LeaseTiming(parsed.lease_duration, parsed.renew_deadline, parsed.retry_period)
    problem = lease_timing.problem()
    if problem:
        parser.error(problem)
    return Options(
        kubeconfig=parsed.kubeconfig,
        context=parsed.context,
        namespace=parsed.namespace,
        workers=parsed.workers,
        leader_elect=parsed.leader_elect,
        leader_election_namespace=parsed.leader_election_namespace,
        leader_election_id=parsed.leader_election_id,
        identity=parsed.identity,
        lease_timing=lease_timing,
        health_addr=parsed.health_addr,
        metrics_addr=parsed.metrics_addr,
    )
