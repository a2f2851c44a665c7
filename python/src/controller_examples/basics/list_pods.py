"""list-pods: list the pods of a namespace (or of all namespaces), like `kubectl get pods`.

The first thing any Kubernetes program does is read state from the API server. This one shows the basics:

- finding the cluster from the kubeconfig, as kubectl does (`common.kube`);
- listing page by page (`limit` and `continue`), so that memory does not grow with the size of the
  cluster: only a small record of each pod is kept (`common.pods`);
- printing either a table for people (aligned like kubectl's) or one JSON object per line for programs;
- failing with one clear line and a meaningful exit status (`common.errors`, `common.cli`).

Run it as `python -m controller_examples.basics.list_pods [-n NS | -A] [-l SELECTOR] [-o table|json]`.
The exact behaviour is the contract in conformance/CONTRACT.md.
"""

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from controller_examples.common.cli import build_parser, chosen_namespace, json_line, run
from controller_examples.common.errors import explained
from controller_examples.common.kube import connect
from controller_examples.common.pods import PodQuery, PodRecord, list_pods

COLUMN_GAP = "   "  # kubectl separates table columns by three spaces


def main(argv: Sequence[str]) -> None:
    options = build_parser("list-pods", "List pods, like kubectl get pods.").parse_args(argv)
    connection = connect(options.kubeconfig, options.context)
    namespace = chosen_namespace(options, connection.namespace)
    with explained("list pods", connection.host):
        pods = list_pods(PodQuery(connection.api, namespace, options.selector)).pods
    if options.output == "table" and not pods:
        print(no_resources_message(namespace), file=sys.stderr)
        return
    if options.output == "json":
        lines = json_lines(pods)
    else:
        lines = table_lines(pods, all_namespaces=namespace is None, now=datetime.now(UTC))
    for line in lines:
        print(line)


def json_lines(pods: list[PodRecord]) -> list[str]:
    """One JSON object per pod, with the contract's keys in the contract's order."""
    return [
        json_line(
            {
                "namespace": pod.namespace,
                "name": pod.name,
                "phase": pod.phase,
                "node": pod.node,
                "ready": pod.ready,
                "restarts": pod.restarts,
                "containers": list(pod.containers),
                "images": list(pod.images),
            }
        )
        for pod in pods
    ]


def table_lines(pods: list[PodRecord], *, all_namespaces: bool, now: datetime) -> list[str]:
    """The table kubectl would print: a header, then a row per pod, columns aligned."""
    header = ["NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"]
    rows = [
        [pod.name, pod.ready, pod.phase, str(pod.restarts), pod.node or "<none>", age(pod.created, now)] for pod in pods
    ]
    if all_namespaces:
        header.insert(0, "NAMESPACE")
        for row, pod in zip(rows, pods, strict=True):
            row.insert(0, pod.namespace)
    return align([header, *rows])


def align(rows: list[list[str]]) -> list[str]:
    """Pad every column to its widest cell, like Go's tabwriter in kubectl (the last column is not padded)."""
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    return [
        COLUMN_GAP.join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1], strict=True)), row[-1]])
        for row in rows
    ]


def age(created: str, now: datetime) -> str:
    """How long ago the pod was created, as kubectl prints it ("<unknown>" without a timestamp)."""
    if not created:
        return "<unknown>"
    return human_duration(now - datetime.fromisoformat(created))


def human_duration(elapsed: timedelta) -> str:
    """A short, approximate duration: k8s.io/apimachinery/pkg/util/duration.HumanDuration, which kubectl uses.

    It keeps two or three significant figures: seconds up to 2 minutes, then minutes and seconds up to 10
    minutes, minutes up to 3 hours, hours and minutes up to 8 hours, hours up to 2 days, days and hours up
    to 8 days, days up to 2 years, years and days up to 8 years, then years. Go divides integers by
    truncating; so does int() on the float divisions below, and // on the positive values after it.
    """
    seconds = int(elapsed.total_seconds())
    # A clock a second ahead of the API server's still reads as "now".
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 2 * 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return _two_units(minutes, "m", seconds % 60, "s")
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _two_units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return _two_units(days, "d", hours % 24, "h")
    if days < 2 * 365:
        return f"{days}d"
    if days < 8 * 365:
        return _two_units(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _two_units(big: int, big_unit: str, small: int, small_unit: str) -> str:
    """Both units ("5h2m"), or only the bigger one when the smaller is zero ("5h")."""
    return f"{big}{big_unit}{small}{small_unit}" if small else f"{big}{big_unit}"


def no_resources_message(namespace: str | None) -> str:
    """What kubectl says on stderr when there is nothing to show."""
    if namespace is None:
        return "No resources found"
    return f"No resources found in {namespace} namespace."


if __name__ == "__main__":
    run(main)
