"""The advanced track's levels: partial credit, and the next thing to build.

A level is reached when every scenario of it and of the levels below passed. The scenarios compare the whole
state a reference controller leaves (golden snapshots), so a level's scenarios also expect what the SPEC asks of
every site from the start (the finalizer, the Ready condition); the level says what the failing scenarios are
*about*, which is what to build next.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    build: str  # the next thing to build, in a learner's words
    scenarios: tuple[str, ...]


LEVELS = (
    Level(
        1,
        "children",
        "create each site's ConfigMap, Deployment and Service, owned by the site, and repair them when they drift",
        (
            "scale_up_and_down",
            "content_change_rolls_pods",
            "replicas_zero",
            "deleted_child_is_restored",
            "edited_child_is_restored",
            "noop_reconcile_writes_nothing",
            "child_conflict_never_overwritten",
        ),
    ),
    Level(
        2,
        "status",
        "write the site's status: observedGeneration, readyReplicas and the Ready condition with its reason",
        ("create_ready", "kubectl_wait_for_ready", "invalid_name_reported"),
    ),
    Level(
        3,
        "finalizer and registry",
        "add the finalizer before anything else, keep the registry ConfigMap, and on deletion remove the key, "
        "then the finalizer",
        (
            "delete_removes_registry_key_and_children",
            "namespace_deletion_with_sites_completes",
            "registry_is_repaired_at_once",
            "sigkill_mid_reconcile_and_mid_delete",
        ),
    ),
    Level(
        4,
        "events",
        "record Events on the site (Synced, InvalidSpec, ChildConflict), in the background, so a refused event "
        "never blocks a reconcile",
        ("sites_converge_while_every_event_is_refused",),
    ),
    Level(
        5,
        "leader election",
        "elect one leader with a Lease: only the holder writes, a replica that loses the Lease stops writing, "
        "SIGTERM releases it",
        (
            "leader_election_one_writer",
            "sigterm_releases_the_lease",
            "partitioned_leader_stops_writing",
            "leader_denied_the_lease_stops_writing",
        ),
    ),
)


@dataclass(frozen=True)
class Verdict:
    reached: int  # 0: not even level 1
    next_level: Level | None  # None: every level passed
    failing: tuple[str, ...]  # the next level's scenarios that failed (or did not run)


def verdict(outcomes: dict[str, str]) -> Verdict:
    """Which level ``outcomes`` (scenario -> passed/failed/skipped, one implementation) reach.

    A scenario of a level that did not run (deselected, skipped) does not count as passed: a level is reached
    only on evidence.
    """
    reached = 0
    for level in LEVELS:
        failing = tuple(s for s in level.scenarios if outcomes.get(s) != "passed")
        if failing:
            return Verdict(reached, level, failing)
        reached = level.number
    return Verdict(reached, None, ())


def describe(result: Verdict) -> list[str]:
    """The verdict in words."""
    total = len(LEVELS)
    if result.next_level is None:
        return [f"level {total}/{total}: every level passed; your controller does what the SPEC asks."]
    lines = [f"level {result.reached}/{total} reached."]
    lines.append(f"next: level {result.next_level.number} ({result.next_level.name}): {result.next_level.build}.")
    lines.append("  scenarios still failing: " + ", ".join(result.failing))
    return lines
