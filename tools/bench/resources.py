"""Memory and CPU of a program under test, from /proc and the kernel's accounting.

A controller is more than one process in some languages (the Bash track runs kubectl and jq), so memory is
the sum over its whole process group (it starts in a session of its own), sampled every 0.2 s; the peak of
those sums is reported. CPU time needs no sampling: the kernel adds a child's CPU time, and that of every
descendant it waited for, to its parent's RUSAGE_CHILDREN when the child is reaped.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

SAMPLE_INTERVAL_SECONDS = 0.2
GNU_TIME = Path("/usr/bin/time")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROGRAM = "program"  # the CPU meter's name for the program under test (the controller, or the floor)


def stat_process_group(stat_text: str) -> int:
    """The pgrp field of /proc/PID/stat (after "(comm)", which may itself contain spaces and parentheses)."""
    return int(stat_text.rsplit(")", 1)[1].split()[2])


def status_rss_bytes(status_text: str) -> int:
    """VmRSS of /proc/PID/status, in bytes (0 for a zombie, which has no VmRSS line)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def stat_cpu_ticks(stat_text: str) -> int:
    """utime + stime + cutime + cstime of /proc/PID/stat, in clock ticks: the process's own CPU time and that
    of the children it has reaped (a Bash worker's reconcile subshells, their curl and jq)."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15])


def _group_members(pgid: int) -> Iterator[tuple[Path, str]]:
    """Each live process of the group, with its /proc/PID/stat."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        if stat_process_group(stat) == pgid:
            yield proc, stat


def group_rss_bytes(pgid: int) -> int:
    total = 0
    for proc, _ in _group_members(pgid):
        try:
            total += status_rss_bytes((proc / "status").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def group_cpu_seconds(pgid: int) -> float:
    return sum(stat_cpu_ticks(stat) for _, stat in _group_members(pgid)) / CLOCK_TICKS


def process_cpu_seconds(pid: int) -> float | None:
    try:
        return stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / CLOCK_TICKS
    except (FileNotFoundError, ProcessLookupError):
        return None


class CpuMeter:
    """CPU seconds used so far by the program under test (its whole process group) and by each process of the
    cluster (`local` only: another provider's run in containers the bench does not see), read from /proc.

    Read at the start and the end of a phase, it says where the phase's CPU went: on 2 shared cores a phase
    is as long as the CPU everyone needs for it, so this is how the report shows what bounds a phase (the
    program, or the API server's work for it). A process that exits in the phase is counted by the group
    member that reaped it.
    """

    def __init__(self, pgid: int, cluster: object):
        self.pgid = pgid
        processes = getattr(cluster, "processes", {})
        self.cluster_pids = {name: process.pid for name, process in processes.items() if process.pid}

    def read(self) -> dict[str, float]:
        used = {PROGRAM: group_cpu_seconds(self.pgid)}
        for name, pid in self.cluster_pids.items():
            seconds = process_cpu_seconds(pid)
            if seconds is not None:
                used[name] = seconds
        return used


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per component between two reads (a component missing from either read is left out)."""
    return {name: after[name] - before[name] for name in after if name in before}


class PeakRss:
    """Samples a process group's resident memory on a thread; ``stop()`` returns the peak, in bytes."""

    def __init__(self, pgid: int):
        self.pgid = pgid
        self.peak = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stopped.is_set():
            self.peak = max(self.peak, group_rss_bytes(self.pgid))
            self._stopped.wait(SAMPLE_INTERVAL_SECONDS)

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.peak


def children_cpu_seconds() -> float:
    """User + system CPU seconds of every child this process has reaped so far (and their reaped children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(argv: list[str], env: dict[str, str], stdout: Path, timeout: float) -> tuple[float, int | None, int]:
    """Run a program to completion: (wall seconds, peak RSS in bytes or None, exit code).

    The peak RSS is GNU time's %M: the kernel's high-water mark for the program's largest process (for a
    pipeline, the largest of its processes, not their sum). It has to come from a small launcher like GNU
    time: a process forked from the bench starts with the bench's own pages mapped, and the high-water
    mark survives exec. Without GNU time (Debian package `time`) the peak is not measured (None).
    The program's stderr is kept next to its stdout, for the failure message.
    """
    time_report = stdout.with_suffix(".time")
    launcher = [str(GNU_TIME), "--format=%M", f"--output={time_report}"] if GNU_TIME.is_file() else []
    with open(stdout, "w") as out, open(stdout.with_suffix(".stderr"), "w") as err:
        started = time.monotonic()
        # A session of its own: on a timeout, the program goes too, not only GNU time.
        process = subprocess.Popen([*launcher, *argv], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)  # fmt: skip
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        wall = time.monotonic() - started
    # GNU time's last line is the format's; a line before it may say the program was killed.
    peak = int(time_report.read_text().split()[-1]) * 1024 if launcher else None
    return wall, peak, code
