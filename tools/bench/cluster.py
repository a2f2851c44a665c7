"""The `local` cluster's own figures: how long its binaries took to build, how fast it starts warm.

The cold build cannot be re-run by the bench (it takes tens of minutes and needs empty caches), so it is
read from what clusterkit recorded when it built the binaries (``build-times.json`` next to the cache's
``bin/``). The warm start is measured: a second cluster, in a temporary directory, started and stopped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.context import Bench
from bench.settings import say
from clusterkit.build import PACKAGES, build_times_path
from clusterkit.local import ClusterError, LocalCluster


def cold_build() -> dict | None:
    """The latest recorded build of every binary: {"finished": ISO date, "seconds": total, "binaries": {...}}."""
    path = build_times_path()
    if not path.is_file():
        return None
    complete = [record for record in json.loads(path.read_text()) if set(record["binaries"]) == set(PACKAGES)]
    return complete[-1] if complete else None


def measure_warm_starts(bench: Bench) -> None:
    """Start a second cluster (binaries cached, a new run directory each time) to /readyz and Ready nodes."""
    for rep in range(1, bench.settings.warm_starts + 1):
        run_dir = Path(tempfile.mkdtemp(prefix="bench-warm-start-"))
        cluster = LocalCluster(run_dir)
        say(f"warm start {rep}/{bench.settings.warm_starts} in {run_dir}")
        try:
            started = time.monotonic()
            cluster.up()
            bench.samples.add("warm_start", time.monotonic() - started, rep=rep)
        except (ClusterError, subprocess.CalledProcessError) as error:
            bench.samples.fail("warm_start", str(error).splitlines()[0], rep=rep)
        finally:
            cluster.down()
            shutil.rmtree(run_dir, ignore_errors=True)
