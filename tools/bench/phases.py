"""The timed phases of a convergence run (create, update, delete), shared by the controllers and the floor."""

from __future__ import annotations

import time
from collections.abc import Callable

from kubernetes import client

from bench.context import Bench, Window
from bench.resources import CpuMeter, cpu_used
from bench.settings import say

PHASES = ("create", "update", "delete")  # the timed ones; the no-op resync is counted, not timed
# Two milestones per phase: "written" (every site's status is for its new generation: the controller has
# written the children, SPEC's step 8 comes after step 7) and "convergence" (all Ready, or all gone).
WRITTEN = "written"
CONVERGENCE = "convergence"
PHASE_CPU = "phase_cpu"  # CPU seconds of one component (the program, or a process of the cluster) in a phase


def timed(windows: dict[str, Window], name: str, action: Callable[[], float | None]) -> tuple[float, float | None]:
    """Run ``action``; keep its wall-clock window (for the audit log).

    Returns its duration, and when the action reports the moment (time.monotonic()) its children were all
    written, how long after the start that was.
    """
    wall, started = time.time(), time.monotonic()
    written_at = action()
    windows[name] = (wall, time.time())
    return time.monotonic() - started, (written_at - started if written_at is not None else None)


def run_phases(bench: Bench, steps: dict[str, Callable[[], object]], key: dict, rep: int,
               windows: dict[str, Window], cpu: CpuMeter) -> bool:  # fmt: skip
    """Run the steps in order, recording each timed phase and where its CPU went; a failed phase ends the run
    (later ones: not run)."""
    for index, (step, action) in enumerate(steps.items()):
        try:
            before = cpu.read()
            seconds, written = timed(windows, step, action)
        except (TimeoutError, client.ApiException) as error:
            later = [phase for phase in list(steps)[index + 1 :] if phase in PHASES]
            fail_phases(bench, [step], str(error), rep, key)
            fail_phases(bench, later, f"not run: {step} failed", rep, key)
            return False
        if step in PHASES:
            bench.samples.add(CONVERGENCE, seconds, rep=rep, phase=step, **key)
            if written is not None:
                bench.samples.add(WRITTEN, written, rep=rep, phase=step, **key)
            for component, used in cpu_used(before, cpu.read()).items():
                bench.samples.add(PHASE_CPU, used, rep=rep, phase=step, component=component, **key)
            also = f" (all written after {written:.2f}s)" if written is not None else ""
            say(f"  {key['language']} {step} N={key['size']}: {seconds:.2f}s{also}")
    return True


def fail_phases(bench: Bench, phases: list[str], error: str, rep: int, key: dict) -> None:
    for phase in phases:
        if phase in PHASES:
            bench.samples.fail(CONVERGENCE, error, rep=rep, phase=phase, **key)
