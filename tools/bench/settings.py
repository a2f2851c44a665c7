"""What a bench run measures and where it writes, read once from the environment."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from bench.suite import implementations
from clusterkit.versions import REPO_ROOT

OUT_DIR = REPO_ROOT / "build" / "bench"
DOCS_DIR = REPO_ROOT / "docs" / "bench"
LANGUAGES = implementations.LANGUAGES  # the suite's order: bash, python, go
FLOOR = "floor"  # how the floor client (floor.py) appears among the languages in the results


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]  # BENCH_SIZES: numbers of StaticSites, e.g. "10,100,1000"
    reps: int  # BENCH_REPS: repetitions of every timed measurement
    pods: int  # BENCH_PODS: pods that list-pods lists
    watch_events: int = 20  # pods created one by one for watch-pods' latency
    warm_starts: int = 3  # cluster starts for the warm start time

    @classmethod
    def from_environment(cls) -> Settings:
        sizes = tuple(sorted(int(size) for size in os.environ.get("BENCH_SIZES", "10,100,1000").split(",")))
        return cls(
            sizes=sizes,
            reps=int(os.environ.get("BENCH_REPS", "3")),
            pods=int(os.environ.get("BENCH_PODS", "10000")),
        )

    def phase_timeout(self, size: int) -> float:
        """How long one phase of N sites may take before it counts as failed.

        Generous (2 minutes plus 0.6 s per site) but bounded, so a slow implementation costs the run a known
        amount of time, and short enough that a run stays within the ServiceAccount token's hour.
        """
        return 120 + 0.6 * size


def say(message: str) -> None:
    """A progress line: every step that takes more than a moment announces itself on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
