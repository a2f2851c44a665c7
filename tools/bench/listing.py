"""The basics and intermediate programs: list-pods over many pods, watch-pods' event latency.

The pods name a scheduler that does not exist, so they stay Pending: nothing schedules or "runs" them, and
10,000 of them cost the cluster only their storage.
"""

from __future__ import annotations

import json
import queue
import time

from kubernetes import client

from bench.context import Bench
from bench.kubeutil import create_namespace, delete_namespace, discard, in_parallel
from bench.resources import run_measured
from bench.settings import say
from bench.suite import programs

NO_SCHEDULER = "bench-no-such-scheduler"
LIST_TIMEOUT_SECONDS = 600
EVENT_TIMEOUT_SECONDS = 30
PROGRESS_EVERY = 1000


def pod_manifest(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"schedulerName": NO_SCHEDULER, "containers": [{"name": "web", "image": "nginx:1.27.3"}]},
    }


def create_pods(api: client.ApiClient, namespace: str, count: int) -> None:
    core = client.CoreV1Api(api)

    def create(name: str) -> None:
        discard(core.create_namespaced_pod(namespace, pod_manifest(name), _preload_content=False))

    names = [f"pod-{index:05d}" for index in range(count)]
    for start in range(0, count, PROGRESS_EVERY):
        batch = names[start : start + PROGRESS_EVERY]
        in_parallel(create, batch)
        say(f"  {start + len(batch)}/{count} pods created")


# ----- list-pods ----------------------------------------------------------------------
def measure_list_pods(bench: Bench, languages: list[str]) -> None:
    """Each language lists the same namespace of pods, ``reps`` times; only complete outputs are timed."""
    count = bench.settings.pods
    say(f"list-pods: creating {count} Pending pods")
    namespace = create_namespace(bench.api, "list-pods")
    try:
        create_pods(bench.api, namespace, count)
        for rep in range(1, bench.settings.reps + 1):
            for language in languages:
                _list_once(bench, language, namespace, rep)
    finally:
        delete_namespace(bench.api, namespace, timeout=600)


def _list_once(bench: Bench, language: str, namespace: str, rep: int) -> None:
    argv = programs.argv_for("basics", language, ["-n", namespace, "-o", "json"])
    out = bench.work_dir / f"list-pods-{language}.out"
    environment = programs.environment(bench.cluster, bench.cluster.kubeconfig)
    wall, peak_rss, code = run_measured(argv, environment, out, LIST_TIMEOUT_SECONDS)
    lines = sum(1 for line in out.read_text().splitlines() if line.strip())
    key = {"language": language, "pods": bench.settings.pods}
    if code != 0 or lines != bench.settings.pods:
        stderr = out.with_suffix(".stderr").read_text().strip().splitlines()
        error = f"exit {code}, {lines} lines instead of {bench.settings.pods}: {stderr[-1] if stderr else ''}"
        bench.samples.fail("list_pods_seconds", error, rep=rep, **key)
        bench.samples.fail("list_pods_rss", error, rep=rep, **key)
        say(f"  list-pods {language}: failed ({error})")
        return
    bench.samples.add("list_pods_seconds", wall, rep=rep, **key)
    if peak_rss is not None:
        bench.samples.add("list_pods_rss", peak_rss, rep=rep, **key)
    memory = f"{peak_rss / 2**20:.0f} MiB" if peak_rss is not None else "not measured (no GNU time)"
    say(f"  list-pods {language}: {wall:.2f}s, peak RSS {memory}")


# ----- watch-pods ---------------------------------------------------------------------
class TimedWatcher(programs.Watcher):
    """The suite's watch-pods runner, noting the moment each line is read from the program's stdout."""

    def __init__(self, *args, **kwargs):
        self.arrivals: queue.Queue[tuple[float, str]] = queue.Queue()
        super().__init__(*args, **kwargs)  # starts the reading thread, which uses ``arrivals``

    def _read(self) -> None:
        for line in self.process.stdout:
            self.arrivals.put((time.monotonic(), line))

    def wait_added(self, name: str) -> float:
        """When the ADDED line of pod ``name`` was read (lines about other pods are skipped)."""
        deadline = time.monotonic() + EVENT_TIMEOUT_SECONDS
        while True:
            try:
                arrived, line = self.arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no ADDED line for {name} within {EVENT_TIMEOUT_SECONDS}s") from None
            event = json.loads(line)
            if event["type"] == "ADDED" and event["name"] == name:
                return arrived


def measure_watch_pods(bench: Bench, language: str) -> None:
    """Latency from a pod's create to watch-pods printing its ADDED line, ``watch_events`` times.

    Two clocks: from the create call's *return* (the API server has stored the pod and answered; the
    watch event may even be printed before that answer arrives, hence values at or below 0) and from the
    moment the call was *made* (this includes the write itself).
    """
    say(f"watch-pods {language}: {bench.settings.watch_events} events")
    core = client.CoreV1Api(bench.api)
    namespace = create_namespace(bench.api, f"watch-{language}")
    watcher = TimedWatcher(bench.cluster, language, ["-n", namespace, "-o", "json"])
    try:
        # A first pod, unmeasured: once its line is read, the watcher has listed and is watching.
        discard(core.create_namespaced_pod(namespace, pod_manifest("warm-up"), _preload_content=False))
        watcher.wait_added("warm-up")
        for index in range(1, bench.settings.watch_events + 1):
            name = f"latency-{index:02d}"
            called = time.monotonic()
            response = core.create_namespaced_pod(namespace, pod_manifest(name), _preload_content=False)
            returned = time.monotonic()
            discard(response)
            printed = watcher.wait_added(name)
            bench.samples.add("watch_latency", printed - returned, rep=index, language=language)
            bench.samples.add("watch_latency_from_call", printed - called, rep=index, language=language)
        say(f"  watch-pods {language}: done")
    except (TimeoutError, json.JSONDecodeError, KeyError) as error:
        bench.samples.fail("watch_latency", f"{error}; stderr: {watcher.stderr()[-300:]}", rep=0, language=language)
    finally:
        watcher.stop()
        delete_namespace(bench.api, namespace, timeout=120)
