"""A site's status: what the controller observed, computed from the site and its Deployment.

The status is the controller's report to users and to other programs (`kubectl wait --for=condition=Ready`
reads it). It has plain fields (`observedGeneration`, `readyReplicas`, `url`) and one *condition*, `Ready`,
in the shape of metav1.Condition: a status ("True"/"False"), a machine-readable reason (CamelCase, one of
the reasons in `site`), a message for people, and `lastTransitionTime`, the moment `status` last flipped.

That last field is why a condition is computed from the previous one: a new reason or message with the same
status keeps the old time, otherwise "Ready=False since 10:02" would reset at every step of a rollout.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from controller_examples.advanced.children import CONFIG_MAP_MAX_BYTES
from controller_examples.advanced.site import (
    AVAILABLE,
    CHILD_CONFLICT,
    INVALID_SPEC,
    PROGRESSING,
    READY,
    Object,
    site_url,
)


@dataclass(frozen=True)
class Verdict:
    """What the Ready condition says, before it gets a time and a generation."""

    status: str  # "True" or "False"
    reason: str  # also the reason of the Warning event that goes with a problem
    message: str


def rollout_verdict(site: Object, deployment: Object | None) -> Verdict:
    """Available once the Deployment has rolled out `spec.replicas` up-to-date ready pods, else Progressing.

    "Rolled out" is what `kubectl rollout status` checks: the Deployment controller has seen the latest
    spec (observedGeneration), and every pod is of the current template (updatedReplicas) and ready, with no
    old pod left over (replicas).
    """
    wanted = site["spec"]["replicas"]
    ready = ready_replicas(deployment)
    message = f"{ready}/{wanted} replicas ready"
    if deployment is not None and _rolled_out(deployment, wanted):
        return Verdict("True", AVAILABLE, message)
    return Verdict("False", PROGRESSING, message)


def _rolled_out(deployment: Object, wanted: int) -> bool:
    status = deployment.get("status") or {}
    return status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0) and all(
        status.get(field, 0) == wanted for field in ("replicas", "updatedReplicas", "readyReplicas")
    )


def conflict_verdict(kind: str, name: str) -> Verdict:
    return Verdict("False", CHILD_CONFLICT, f"{kind} {name} exists and is not controlled by this StaticSite")


def invalid_name_verdict(name: str) -> Verdict:
    return Verdict(
        "False",
        INVALID_SPEC,
        f"name {name} cannot be a Service name: it must be a DNS-1035 label (lowercase letters, digits and '-', "
        "starting with a letter, at most 63 characters)",
    )


def too_large_verdict(size: int) -> Verdict:
    return Verdict(
        "False",
        INVALID_SPEC,
        f"content is {size} bytes: a ConfigMap holds at most {CONFIG_MAP_MAX_BYTES} bytes (1 MiB) of file names "
        "and bodies",
    )


def refused_child_verdict(kind: str, name: str, reason: str) -> Verdict:
    """The API server refused to write a child as invalid (422): `reason` is its message."""
    return Verdict("False", INVALID_SPEC, f"{kind} {name} cannot be written: {reason}")


def ready_replicas(deployment: Object | None) -> int:
    ready: int = ((deployment or {}).get("status") or {}).get("readyReplicas", 0)
    return ready


def desired_status(site: Object, verdict: Verdict, ready: int, now: datetime) -> Object:
    """The whole status the controller wants the site to have."""
    metadata = site["metadata"]
    generation = metadata["generation"]
    previous = ready_condition(site)
    condition = {
        "type": READY,
        "status": verdict.status,
        "reason": verdict.reason,
        "message": verdict.message,
        "observedGeneration": generation,
        "lastTransitionTime": transition_time(previous, verdict.status, now),
    }
    return {
        "observedGeneration": generation,
        "readyReplicas": ready,
        "url": site_url(metadata["namespace"], metadata["name"]),
        "conditions": [condition],
    }


def ready_condition(site: Object) -> Object | None:
    conditions = (site.get("status") or {}).get("conditions") or []
    return next((condition for condition in conditions if condition.get("type") == READY), None)


def transition_time(previous: Object | None, status: str, now: datetime) -> str:
    """The previous condition's time if its status is unchanged, else now (RFC 3339, whole seconds, UTC)."""
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        time: str = previous["lastTransitionTime"]
        return time
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_differs(site: Object, status: Object) -> bool:
    """True when some field of `status` differs from the site's current status (others' fields are ignored)."""
    current = site.get("status") or {}
    return any(current.get(field) != value for field, value in status.items())
