"""What a bench run measures and where it writes, read once from the environment."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.suite import implementations
from clusterkit.versions import REPO_ROOT

OUT_DIR = REPO_ROOT / "build" / "bench"
DOCS_DIR = REPO_ROOT / "docs" / "bench"
LANGUAGES = implementations.LANGUAGES  # the suite's order: bash, python, go (the basics and intermediate tracks)
FLOOR = "floor"  # how the floor client (floor.py) appears among the implementations in the results
# The framework-based StaticSite controllers: a column each, "missing" until the suite's table
# (conformance/implementations.py) has their program and the program exists.
FRAMEWORKS = ("go-controller-runtime", "python-kopf")
# Every StaticSite implementation, in the suite's order, then the frameworks.
ADVANCED = tuple(
    dict.fromkeys([*LANGUAGES, *(name for track, name in implementations.COMMANDS if track == "advanced"), *FRAMEWORKS])
)
# The opt-in measurements are of these two only (the targets name them).
OPT_IN_IMPLEMENTATIONS = ("python", "go")
SWEEP_WORKERS = (1, 4, 16)


def docs_dir(settings: dict) -> Path:
    """Where a run's report is published: docs/bench/ for a default run; a run with an opt-in measurement
    has a directory of its own (docs/bench/large/, docs/bench/sweep/), so it never replaces the default run's
    report. ``settings`` is a run's recorded settings (results.json), so a report rendered again goes back
    where it came from."""
    if settings.get("large"):
        return DOCS_DIR / "large"
    if settings.get("sweep"):
        return DOCS_DIR / "sweep"
    return DOCS_DIR


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]  # BENCH_SIZES: numbers of StaticSites, e.g. "10,100,1000"
    reps: int  # BENCH_REPS: repetitions of every timed measurement (the budget may stop them early at large N)
    pods: int  # BENCH_PODS: pods that list-pods lists
    workers: int = 4  # BENCH_WORKERS: every controller's --workers, and the floor's concurrent writers
    seed: int = 0  # BENCH_SEED: the order of floor and implementations in each repetition (random if unset)
    budget_minutes: float = 80  # BENCH_BUDGET_MINUTES: no repetition beyond a size's first starts past it (0: none)
    large: bool = False  # BENCH_LARGE=1: N = 10,000 for Python and Go (and the floor), one repetition
    large_size: int = 10_000  # BENCH_LARGE_SIZE: that N (smaller only to try the pipeline out)
    sweep: bool = False  # BENCH_SWEEP=1: --workers 1, 4, 16 at N = 1,000 for Python and Go (and the floor)
    sweep_size: int = 1_000  # BENCH_SWEEP_SIZE: that N (smaller only to try the pipeline out)
    sweep_reps: int = 1  # BENCH_SWEEP_REPS: repetitions of the sweep's workers 1 and 16 (4 is the default's)
    only: tuple[str, ...] = ()  # BENCH_ONLY=python,go: measure only these StaticSite implementations
    watch_events: int = 20  # pods created one by one for watch-pods' latency
    warm_starts: int = 3  # cluster starts for the warm start time

    @classmethod
    def from_environment(cls) -> Settings:
        environment = os.environ
        sizes = tuple(sorted(int(size) for size in environment.get("BENCH_SIZES", "10,100,1000").split(",")))
        return cls(
            sizes=sizes,
            reps=int(environment.get("BENCH_REPS", "5")),
            pods=int(environment.get("BENCH_PODS", "10000")),
            workers=int(environment.get("BENCH_WORKERS", "4")),
            seed=int(environment.get("BENCH_SEED") or secrets.randbelow(2**31)),
            budget_minutes=float(environment.get("BENCH_BUDGET_MINUTES", "80")),
            large=_flag("BENCH_LARGE"),
            large_size=int(environment.get("BENCH_LARGE_SIZE", "10000")),
            sweep=_flag("BENCH_SWEEP"),
            sweep_size=int(environment.get("BENCH_SWEEP_SIZE", "1000")),
            sweep_reps=int(environment.get("BENCH_SWEEP_REPS", "1")),
            only=tuple(name for name in environment.get("BENCH_ONLY", "").split(",") if name),
        )

    def phase_timeout(self, size: int) -> float:
        """How long one phase of N sites may take before it counts as failed.

        Generous (2 minutes plus 0.6 s per site) but bounded, so a slow implementation costs the run a known
        amount of time.
        """
        return 120 + 0.6 * size

    def token_seconds(self, size: int) -> int:
        """How long a run's ServiceAccount token lives: its three phases at their limit, and 10 minutes more
        (at least the usual hour). An expired token would fail a large run halfway, as 401s."""
        return max(3600, int(3 * self.phase_timeout(size) + 600))


def say(message: str) -> None:
    """A progress line: every step that takes more than a moment announces itself on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
