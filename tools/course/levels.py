"""The advanced track's levels: partial credit, and the next thing to build.

A level is reached when every scenario of it and of the levels below passed. Every level has a scenario of
its own (``conformance/test_advanced_levels.py``) that look only at their part of the SPEC, so a controller that
only creates the children gets level 1; the other advanced scenarios compare the whole state with golden files
and are the complete SPEC.
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
        "create each site's ConfigMap, Deployment and Service, controlled by the site (owner reference), "
        "following its spec, and create a deleted one again",
        ("level_children",),
    ),
    Level(
        2,
        "status",
        "write the site's status: observedGeneration, readyReplicas and the Ready condition (reason Available)",
        ("level_status",),
    ),
    Level(
        3,
        "finalizer and registry",
        "add the finalizer and the site's registry key; on deletion remove the key, then the finalizer",
        ("level_finalizer_and_registry",),
    ),
    Level(
        4,
        "events",
        "record a Synced event on the site (component staticsite-controller), in the background",
        ("level_events",),
    ),
    Level(
        5,
        "leader election",
        "with --leader-elect, hold a Lease before writing: one writer among replicas; SIGTERM releases the Lease",
        ("level_leader_election", "sigterm_releases_the_lease"),
    ),
)


def scenarios() -> tuple[str, ...]:
    """Every level's scenarios, level by level."""
    return tuple(s for level in LEVELS for s in level.scenarios)


@dataclass(frozen=True)
class Verdict:
    reached: int  # 0: not even level 1
    next_level: Level | None  # None: every level passed
    failing: tuple[str, ...]  # the next level's scenarios that failed
    not_run: tuple[str, ...] = ()  # the next level's scenarios with no result (an interrupted run, a deselection)


def verdict(outcomes: dict[str, str]) -> Verdict:
    """Which level ``outcomes`` (scenario -> passed/failed/skipped, one implementation) reach.

    A scenario of a level that did not run (deselected, skipped) does not count as passed: a level is reached
    only on evidence.
    """
    reached = 0
    for level in LEVELS:
        failing = tuple(s for s in level.scenarios if outcomes.get(s) == "failed")
        not_run = tuple(s for s in level.scenarios if outcomes.get(s) not in ("passed", "failed"))
        if failing or not_run:
            return Verdict(reached, level, failing, not_run)
        reached = level.number
    return Verdict(reached, None, ())


def describe(result: Verdict) -> list[str]:
    """The verdict in words."""
    total = len(LEVELS)
    if result.next_level is None:
        return [f"level {total}/{total}: every level passed; the other scenarios are the rest of the SPEC."]
    lines = [f"level {result.reached}/{total} reached."]
    lines.append(f"next: level {result.next_level.number} ({result.next_level.name}): {result.next_level.build}.")
    if result.failing:
        lines.append("  scenarios still failing: " + ", ".join(result.failing))
    if result.not_run:
        lines.append("  scenarios with no result (the run stopped before them, or they were skipped): "
                     + ", ".join(result.not_run))  # fmt: skip
    return lines
