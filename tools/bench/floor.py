"""The floor: exactly the writes SPEC.md requires (bench/required.py), by a client told what to write.

Per site it makes the requests of ``required.REQUIRED`` (and the reads of ``required.REQUIRED_READS``) in SPEC's
order, and nothing else: no informer cache, no queue, no comparison. It is a process of its own, started by the
bench like a controller (``python -m bench.floor --namespace NS --sites N --workers W``, with the controller's
ServiceAccount in KUBECONFIG), so the audit log counts its requests like a controller's and its CPU and memory are
measured like a controller's; it shares no interpreter lock with the bench's own watches.

Like a controller it learns what to do from two watches, one on the sites and one on their Deployments,
and hands each site's chain of writes to a pool of as many writers as the controllers get ``--workers``
(a chain sends its three applies at once, as the Go controller does); one more thread writes the
``Synced`` events in the background, as SPEC has the controllers do (the reference's own recorder). What a
site event asks for is read off the event alone, with no comparison: a site without the finalizer is new,
a site whose generation grew has new content, a site with a deletion timestamp is being deleted. The
objects are the Python reference's own (``children``, ``status``, ``registry``, ``events``), so the floor
writes byte for byte what a controller writes. Like a controller, it starts with one site already there
(the start-up probe), so the timed phases find it warm: imports done, connections open, registry created.

- create: finalizer (with the resourceVersion of the event), registry key (in a merge patch that carries every
  key of the namespace waiting at that moment: SPEC allows that batching, the reference does it), the three
  children's live GETs (SPEC's conflict check: they are not in a label-selected cache yet), the three
  applies, the event (in the background), status Progressing from the Deployment the apply returned; then,
  as the Deployment watch sees the rollout go, the status SPEC derives from each state seen, written when it
  differs from the last one written (a surge pod ready before the old one goes: Progressing `2/1 replicas
  ready`), and Available once rolled out (always after that site's Progressing, in the events' order);
- update: the ConfigMap and Deployment applies, the event, Progressing; the rollout's statuses as for create;
- delete: registry key removed, then the finalizer removed (with the resourceVersion of the event); the API
  server then deletes the site.
"""

from __future__ import annotations

import argparse
import functools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from kubernetes import client, config

from bench import convergence, sites
from bench.context import Bench, Window
from bench.kubeutil import create_namespace, delete_namespace, wait_all
from bench.phases import PHASES, fail_phases, run_phases
from bench.resources import CpuMeter, PeakRss, children_cpu_seconds
from bench.settings import FLOOR, say
from bench.suite import controllers, kube, programs
from controller_examples.advanced import events, registry
from controller_examples.advanced.api import KubeApi
from controller_examples.advanced.children import desired_children
from controller_examples.advanced.site import FINALIZER, site_url
from controller_examples.advanced.status import desired_status, ready_replicas, rollout_verdict

USER_AGENT = "bench-floor"
UNCHANGED_ON_UPDATE = "Service"  # the one child a content change leaves as it is


# ----- one site's writes (what required.REQUIRED lists; unit-tested against it) -----------------
def write_created(writer: KubeApi, keys: registry.RegistryWriter, record: Callable[[dict, str], None],
                  site: dict) -> tuple[dict, dict]:  # fmt: skip
    """Create: finalizer, registry key, three applies, event, Progressing. Returns the site as last written and
    the Deployment applied."""
    metadata = site["metadata"]
    patch = {"metadata": {"finalizers": [FINALIZER], "resourceVersion": metadata["resourceVersion"]}}
    site = writer.patch_site(metadata["namespace"], metadata["name"], patch)
    _add_registry_key(keys, metadata["namespace"], metadata["name"])
    children = desired_children(site)
    # SPEC's conflict check: a child absent from the (label-selected) cache needs a live GET, because an object
    # the controller does not manage is not in its cache; a new site's three children are all absent. The
    # answers (404) are not needed here: the floor is told the site is new.
    _at_once(lambda child: writer.get(child["kind"], child["metadata"]["namespace"], child["metadata"]["name"]),
             children)  # fmt: skip
    return _apply_and_report(writer, record, site, children)


def write_updated(writer: KubeApi, record: Callable[[dict, str], None], site: dict) -> tuple[dict, dict]:
    """Update (new content): the ConfigMap and Deployment applies, event, Progressing (as write_created)."""
    changed = [child for child in desired_children(site) if child["kind"] != UNCHANGED_ON_UPDATE]
    return _apply_and_report(writer, record, site, changed)


def write_rollout_status(writer: KubeApi, site: dict, deployment: dict) -> dict:
    """A status from a Deployment event of the rollout: Progressing with another readyReplicas, or Available."""
    return _write_status(writer, site, deployment)


def write_deleted(writer: KubeApi, keys: registry.RegistryWriter, site: dict) -> None:
    """Delete: the registry key, then the finalizer (the site as the delete answered: its resourceVersion)."""
    metadata = site["metadata"]
    keys.remove_entry(metadata["namespace"], metadata["name"])
    patch = {"metadata": {"finalizers": [], "resourceVersion": metadata["resourceVersion"]}}
    writer.patch_site(metadata["namespace"], metadata["name"], patch)


def _add_registry_key(keys: registry.RegistryWriter, namespace: str, name: str) -> None:
    try:
        keys.add_entry(namespace, name, site_url(namespace, name))
    except client.ApiException as error:
        if error.status != 409:
            raise
        # Another writer created the registry between our 404 and our create: the key goes in by patch.
        keys.add_entry(namespace, name, site_url(namespace, name))


def _apply_and_report(writer: KubeApi, record: Callable[[dict, str], None], site: dict,
                      children: list[dict]) -> tuple[dict, dict]:  # fmt: skip
    """The applies, the event, Progressing. Returns the site as last written and the Deployment applied."""
    applied = {child["kind"]: answer for child, answer in zip(children, _at_once(writer.apply, children),
                                                              strict=True)}  # fmt: skip
    record(site, "applied " + ", ".join(f"{child['kind']} {child['metadata']['name']}" for child in children))
    return _write_status(writer, site, applied["Deployment"]), applied["Deployment"]


def _reported(site: dict, deployment: dict) -> tuple[int, str, int]:
    """What decides the status written from ``deployment``: its generation (an older one's events come late),
    the Ready condition's status (its reason follows) and readyReplicas (the message's R)."""
    return deployment["metadata"]["generation"], rollout_verdict(site, deployment).status, ready_replicas(deployment)


def _at_once(request: Callable[[dict], dict | None], children: list[dict]) -> list[dict | None]:
    """One request per child, all at once, as the controllers send them: SPEC orders a site's lookups (and its
    applies) among the other steps, not among themselves, and a floor must not wait where a controller need not."""
    with ThreadPoolExecutor(len(children), thread_name_prefix="floor-child") as requests:
        return list(requests.map(request, children))


def _write_status(writer: KubeApi, site: dict, deployment: dict) -> dict:
    status = desired_status(site, rollout_verdict(site, deployment), ready_replicas(deployment), datetime.now(UTC))
    metadata = site["metadata"]
    return writer.patch_site_status(metadata["namespace"], metadata["name"], {"status": status})


# ----- the process: two watches, the writers' pool, the events thread ----------------------------
# The process lives as long as a run; its watches end only when the bench stops it.
WATCH_SECONDS = 24 * 3600
# Three connections per writer (its applies go at once), one per watch and one for the events thread,
# plus spares: the client's default pool (five per CPU) would make a floor with more writers than that
# open and drop connections all the time.
CONNECTIONS_PER_WRITER = 3
SPARE_CONNECTIONS = 4


class Floor:
    """What the two watches hand over: each site's chain of writes, queued on the writers' pool."""

    def __init__(self, writer: KubeApi, workers: int):
        self.writer = writer
        # SPEC.md allows a controller to batch the registry keys of one namespace into one merge patch, and the
        # Python reference does (its RegistryWriter: a group commit): so does the floor, or a controller that
        # batches would make fewer requests than the "floor" and beat it.
        self.keys = registry.RegistryWriter(writer)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="floor")
        self.recorder = events.BackgroundEventRecorder(events.EventRecorder(writer))
        self.lock = threading.Lock()
        self.chains: dict[str, Future] = {}  # per site, its latest create or update chain
        self.generation: dict[str, int] = {}  # per site, the generation its latest chain writes for
        self.deleting: set[str] = set()
        # Per site, what its last status was written from: the Deployment's generation, the verdict's status and
        # readyReplicas (SPEC writes a status only when it differs; these decide whether it does).
        self.reported: dict[str, tuple[int, str, int]] = {}
        self.newest: dict[str, dict] = {}  # per site, its newest Deployment state not yet looked at
        self.waiting: set[str] = set()  # the sites with a Deployment task queued and not started

    def record(self, site: dict, message: str) -> None:
        self.recorder.record(site, events.NORMAL, events.SYNCED, message)

    def see_site(self, name: str, site: dict | None) -> None:
        """A site event: queue the writes it asks for, told apart by the event alone."""
        if site is None:
            return
        metadata = site["metadata"]
        with self.lock:
            if metadata.get("deletionTimestamp"):
                if name not in self.deleting:
                    self.deleting.add(name)
                    self._submit(write_deleted, self.writer, self.keys, site)
            elif metadata["generation"] > self.generation.get(name, 0):
                self.generation[name] = metadata["generation"]
                new = FINALIZER not in metadata.get("finalizers", [])
                task = write_created if new else write_updated
                arguments = (self.keys, self.record, site) if new else (self.record, site)
                self.chains[name] = self._submit(self._write_chain, name, task, *arguments)

    def _write_chain(self, name: str, task: Callable, *arguments) -> dict:
        """A create or update chain; what its Progressing was written from is reported."""
        site, deployment = task(self.writer, *arguments)
        with self.lock:
            self.reported[name] = _reported(site, deployment)
        return site

    def see_deployment(self, name: str, deployment: dict | None) -> None:
        """A Deployment event: SPEC has Deployment status changes update the site's status. Like a controller's
        work queue, a site has at most one such task waiting, and it reads the newest state when it starts; it
        starts once the site's previous task has ended (no writer waits for another), so a site's statuses go in
        the events' order and never before its Progressing."""
        if deployment is None:
            return
        with self.lock:
            if name not in self.chains:
                return
            self.newest[name] = deployment
            if name in self.waiting:
                return
            self.waiting.add(name)
            previous, link = self.chains[name], Future()
            self.chains[name] = link
        previous.add_done_callback(lambda _: self._submit(self._write_rollout, previous, name, link))

    def _write_rollout(self, previous: Future, name: str, link: Future) -> None:
        """The status from the site's newest Deployment state, if it differs from the one last written; ``link``
        gets the site as last written (or the error), for the site's next task."""
        try:
            site = previous.result()
            with self.lock:
                self.waiting.discard(name)
                deployment = self.newest.pop(name)
                now, last = _reported(site, deployment), self.reported.get(name)
                # An earlier rollout's event (the new apply has landed since), or nothing new to report.
                changed = last is None or (now[0] >= last[0] and now != last)
                if changed:
                    self.reported[name] = now
            if changed:
                site = write_rollout_status(self.writer, site, deployment)
            link.set_result(site)
        except BaseException as error:
            link.set_exception(error)
            raise

    def _submit(self, task: Callable, *arguments) -> Future:
        future = self.pool.submit(task, *arguments)
        future.add_done_callback(_report_failure)
        return future


def _report_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        print(f"floor: a write failed: {future.exception()}", file=sys.stderr, flush=True)


def _follow(list_objects: Callable, names: list[str], see: Callable[[str, dict | None], None],
            listed: threading.Event, fail: Callable[[], None]) -> None:  # fmt: skip
    """Hand every event about ``names`` to ``see``, from a list then a watch (bench.kubeutil.wait_all)."""

    def observe(name: str, obj: dict | None) -> None:
        listed.set()  # called first for each name of the initial list: the watch starts from it
        see(name, obj)

    try:
        wait_all(list_objects, names, lambda _: False, timeout=WATCH_SECONDS, what="the end", observe=observe)
    except BaseException as error:  # a watch that fails leaves a floor that cannot work: the process ends
        print(f"floor: a watch failed: {error}", file=sys.stderr, flush=True)
        fail()


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--sites", type=int, required=True, help="how many sites (bench/sites.py names them)")
    parser.add_argument("--workers", type=int, required=True, help="concurrent writers, as the controllers' --workers")
    options = parser.parse_args(arguments)
    api = config.new_client_from_config()  # KUBECONFIG: the controller's ServiceAccount, TLS verified
    api.configuration.connection_pool_maxsize = CONNECTIONS_PER_WRITER * options.workers + SPARE_CONNECTIONS
    api = client.ApiClient(api.configuration)
    api.user_agent = USER_AGENT
    floor = Floor(KubeApi(api), options.workers)
    names = [convergence.PROBE_SITE, *sites.site_names(options.sites)]
    stop, failed = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def fail() -> None:  # a watch failed: the floor cannot work on, the bench sees it exit 1
        failed.set()
        stop.set()

    watches = [(_list(api, sites.GROUP, sites.VERSION, options.namespace, sites.PLURAL), floor.see_site),
               (_list(api, "apps", "v1", options.namespace, "deployments"), floor.see_deployment)]  # fmt: skip
    listed = [threading.Event() for _ in watches]
    for (list_objects, see), ready in zip(watches, listed, strict=True):
        threading.Thread(target=_follow, args=(list_objects, names, see, ready, fail), daemon=True).start()
    if all(ready.wait(controllers.SERVING_TIMEOUT) for ready in listed):
        print(WATCHING, flush=True)
    stop.wait()
    floor.pool.shutdown(wait=False, cancel_futures=True)
    return 1 if failed.is_set() else 0


def _list(api: client.ApiClient, group: str, version: str, namespace: str, plural: str):
    # The generic custom-objects call serves any API group and returns plain dicts, for the sites (the
    # start-up probe and the load) and the Deployments alike.
    return functools.partial(client.CustomObjectsApi(api).list_namespaced_custom_object, group, version, namespace,
                             plural)  # fmt: skip


# ----- the bench's side: one run of the floor process -------------------------------------------
WATCHING = "floor: watching"  # the line the process prints once both watches have listed


class FloorProcess:
    """The floor as the bench runs it: its own process group, its output in a log, stopped by SIGTERM."""

    def __init__(self, bench: Bench, kubeconfig, namespace: str, size: int, workers: int):
        self.log = bench.work_dir / f"floor-{namespace}.log"
        argv = [sys.executable, "-m", "bench.floor", f"--namespace={namespace}", f"--sites={size}",
                f"--workers={workers}"]  # fmt: skip
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=programs.environment(bench.cluster, kubeconfig), start_new_session=True,
            )  # fmt: skip

    def wait_watching(self) -> None:
        def watching() -> bool:
            assert self.process.poll() is None, f"the floor exited {self.process.returncode}: {self.tail()}"
            return WATCHING in self.log.read_text()

        kube.wait_for(watching, timeout=controllers.SERVING_TIMEOUT, what="the floor's watches")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=controllers.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 10) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


STEPS = {"create": convergence.create, "update": convergence.update, "delete": convergence.delete}


def _started(bench: Bench, floor: FloorProcess, namespace: str) -> bool:
    """Its watches up, then the probe site's first status written."""
    try:
        floor.wait_watching()
        sites.wait_observed(bench.api, namespace, convergence.PROBE_SITE, convergence.STARTUP_TIMEOUT_SECONDS)
    except (AssertionError, TimeoutError) as error:
        say(f"the floor did not start: {error}")
        return False
    return True


def measure_floor(bench: Bench, size: int, rep: int, workers: int) -> bool:
    say(f"floor process: N={size}, {workers} writers, repetition {rep}")
    namespace = create_namespace(bench.api, f"floor-{size}")
    kubeconfig = controllers.controller_kubeconfig(
        bench.cluster, bench.api, bench.work_dir / "floor.kubeconfig", bench.settings.token_seconds(size)
    )
    names, timeout = sites.site_names(size), bench.settings.phase_timeout(size)
    key = {"language": FLOOR, "size": size, "workers": workers}
    log_position, cpu_before = bench.audit_log.position(), children_cpu_seconds()
    windows: dict[str, Window] = {}
    # A site before the floor starts, as the controllers get one: the floor's first chain (cold imports, the
    # first connections and their TLS handshakes, the registry ConfigMap's creation) is start-up, not load.
    controllers.create_site(bench.api, namespace, convergence.PROBE_SITE)
    started = time.time()
    floor = FloorProcess(bench, kubeconfig, namespace, size, workers)
    memory = PeakRss(floor.process.pid)
    steps = {phase: functools.partial(step, bench.api, namespace, names, timeout) for phase, step in STEPS.items()}
    try:
        completed = _started(bench, floor, namespace)
        if completed:
            windows["startup"] = (started, time.time())
            completed = run_phases(bench, steps, key, rep, windows, CpuMeter(floor.process.pid, bench.cluster))
        else:
            fail_phases(bench, list(PHASES), "not run: the floor did not start", rep, key)
    finally:
        floor.stop()
        windows["run"] = (started, time.time())
        bench.samples.add("peak_rss", memory.stop(), rep=rep, **key)
        bench.samples.add("cpu_seconds", children_cpu_seconds() - cpu_before, rep=rep, **key)
        controllers.strip_finalizers(bench.api, namespace)  # after a failed phase: never a stuck namespace
        delete_namespace(bench.api, namespace, timeout=120 + 0.5 * size)
    bench.count_requests(FLOOR, size, rep, log_position, windows, workers=workers)
    if not completed:
        say(f"the floor at N={size} failed; the end of {floor.log}:\n{floor.tail()}")
    return completed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
