"""What a run measures, in which order, and how long it should take.

The convergence measurements come in **blocks**: one repetition at one N and one ``--workers``, in which the
floor and every implementation run once, one after the other, in an order shuffled per block with a seeded
generator (the seed and every order are kept in results.json and printed in the report). A fixed order
would always run one implementation right after another's load (and its leftovers in etcd and the API
server's caches); shuffling spreads that over all of them.

Blocks go by N, smallest first, all repetitions of one N before the next: if the time budget stops a run's
repetitions, it stops them at the largest N, where one repetition costs the most and varies the least. The
first repetition of every N always runs; a later one starts only if the projected end of the run, that
repetition included, is within the budget. The opt-in blocks (N = 10,000; the workers sweep) come last and
always run: asking for them is asking for the time.

The projection is a cost model per run (seconds = fixed + per site * N), calibrated as the run goes by the
ratio of measured to modelled time of the runs so far; it also gives the ETA printed after every run.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, replace

from bench.settings import FLOOR, FRAMEWORKS, OPT_IN_IMPLEMENTATIONS, SWEEP_WORKERS, Settings, say

DEFAULT, LARGE, SWEEP = "default", "opt-in large N", "opt-in workers sweep"

# ----- the cost model -----------------------------------------------------------------------------
# Seconds per site of one run's create + update + delete. Calibrated on 2026-11-30 (2 cores, one block at
# N = 200: floor 0.10, Python 0.10, Go 0.11, controller-runtime 0.13, kopf 0.13, Bash 0.33 per site), then
# scaled by the growth from N = 200 to N = 1,000 that the run of 2026-11-26 showed (about 1.4x: one
# registry ConfigMap per namespace grows with N, and so does every watch event of it).
PER_SITE_SECONDS = {FLOOR: 0.14, "bash": 0.46, "python": 0.14, "go": 0.16, "go-controller-runtime": 0.18,
                    "python-kopf": 0.19}  # fmt: skip
UNKNOWN_PER_SITE_SECONDS = 0.30  # an implementation the model does not know: a little slower than those
# Per run, outside the timed phases: namespace, start-up, the no-op resync, deleting the namespace (its
# garbage collection grows with N); about 15 s at N = 200 in the calibration block.
RUN_OVERHEAD_SECONDS = 10.0
RUN_OVERHEAD_PER_SITE_SECONDS = 0.025
# list-pods (creating 10,000 pods), watch-pods and the warm starts, after the convergence blocks.
PROGRAMS_SECONDS = 300.0
# What a later repetition drops first when the whole block would pass the budget: the framework columns
# (issue 11's targets are the hand-built implementations'; the frameworks are compared with them at every N
# in the repetitions that fit).
OPTIONAL = FRAMEWORKS


@dataclass(frozen=True)
class Block:
    size: int
    workers: int
    rep: int
    order: tuple[str, ...]  # floor and implementations, in the order they run
    kind: str = DEFAULT  # DEFAULT, LARGE or SWEEP

    def as_json(self) -> dict:
        return {**asdict(self), "order": list(self.order)}


def run_seconds(who: str, size: int) -> float:
    """The model's estimate of one run (one implementation or the floor, one N)."""
    per_site = PER_SITE_SECONDS.get(who, UNKNOWN_PER_SITE_SECONDS)
    return RUN_OVERHEAD_SECONDS + (RUN_OVERHEAD_PER_SITE_SECONDS + per_site) * size


def block_seconds(block: Block) -> float:
    return sum(run_seconds(who, block.size) for who in block.order)


def make_plan(settings: Settings, present: list[str], rng: random.Random) -> list[Block]:
    """Every block of the run, its order drawn from ``rng`` (seeded by the caller, so a run can be replayed)."""

    def block(size: int, workers: int, rep: int, who: list[str], kind: str = DEFAULT) -> Block:
        order = [FLOOR, *who]
        rng.shuffle(order)
        return Block(size, workers, rep, tuple(order), kind)

    blocks = [
        block(size, settings.workers, rep, present) for size in settings.sizes for rep in range(1, settings.reps + 1)
    ]
    opt_in = [name for name in OPT_IN_IMPLEMENTATIONS if name in present]
    if settings.sweep:
        blocks += [
            block(settings.sweep_size, workers, rep, opt_in, SWEEP)
            for workers in SWEEP_WORKERS
            if workers != settings.workers or settings.sweep_size not in settings.sizes
            for rep in range(1, settings.sweep_reps + 1)
        ]
    if settings.large:
        blocks.append(block(settings.large_size, settings.workers, 1, opt_in, LARGE))
    return blocks


def plan_seconds(blocks: list[Block]) -> float:
    return sum(block_seconds(block) for block in blocks) + PROGRAMS_SECONDS


class Progress:
    """Elapsed time, ETA and the budget, over the blocks of a run."""

    def __init__(self, blocks: list[Block], budget_seconds: float, clock=time.monotonic):
        self.blocks = blocks
        self.budget = budget_seconds
        self.clock = clock
        self.started = clock()
        self.modelled_done = 0.0  # model seconds of the runs finished
        self.remaining = sum(block_seconds(block) for block in blocks)  # model seconds still to run
        self.skipped: list[Block] = []
        self.trimmed: list[tuple[Block, tuple[str, ...]]] = []  # blocks run without these columns

    def calibration(self) -> float:
        """Measured over modelled time so far (1 before the first run ends)."""
        elapsed = self.clock() - self.started
        return elapsed / self.modelled_done if self.modelled_done > 0 else 1.0

    def admit(self, block: Block) -> Block | None:
        """The block as it may run, or None. A default block that is not its N's first repetition runs whole
        if the projected end of the run is within the budget; else without its OPTIONAL columns if that fits;
        else not at all."""
        if self.budget <= 0 or block.kind != DEFAULT or block.rep == 1:
            return block
        if self._fits(block):
            return block
        dropped = tuple(who for who in block.order if who in OPTIONAL)
        trimmed = replace(block, order=tuple(who for who in block.order if who not in OPTIONAL))
        if dropped and self._fits(trimmed):
            self.trimmed.append((block, dropped))
            self.remaining -= block_seconds(block) - block_seconds(trimmed)
            say(f"budget: N={block.size} repetition {block.rep} runs without {', '.join(dropped)}")
            return trimmed
        self.skipped.append(block)
        self.remaining -= block_seconds(block)
        say(f"budget: N={block.size} repetition {block.rep} not started (projected end "
            f"{self._projected(block) / 60:.0f} min > budget {self.budget / 60:.0f} min)")  # fmt: skip
        return None

    def _projected(self, block: Block) -> float:
        elapsed = self.clock() - self.started
        return elapsed + (block_seconds(block) + PROGRAMS_SECONDS) * self.calibration()

    def _fits(self, block: Block) -> bool:
        return self._projected(block) <= self.budget

    def run_done(self, who: str, size: int) -> None:
        self.modelled_done += run_seconds(who, size)
        self.remaining -= run_seconds(who, size)
        elapsed = self.clock() - self.started
        eta = (max(self.remaining, 0) + PROGRAMS_SECONDS) * self.calibration()
        say(f"progress: {elapsed / 60:.1f} min elapsed, about {eta / 60:.0f} min to go (model x "
            f"{self.calibration():.2f})")  # fmt: skip
