"""A StaticSite controller under load: start-up, then N sites created, touched, changed and deleted.

One run = one language, one N, one repetition, in a fresh namespace (the controller is told to watch only
that one, so nothing left over from an earlier run is in its caches):

1. a probe site exists before the controller starts; **start-up** is the time from exec to the probe's
   ``status.observedGeneration`` being set (the first reconcile's write);
2. **create**: N sites created at once; the time until all are Ready for their generation;
3. **no-op resync**: an annotation on every site (metadata only, same generation); nothing needs writing,
   so every write the controller makes meanwhile is waste (counted from the audit log; target 0);
4. **update**: new content for all N (a rollout each); the time until all are Ready again;
5. **delete**: all N deleted; the time until all are gone (the finalizer makes that the controller's work).

Throughout, the controller's process group is sampled for memory; CPU seconds and audited requests are
read when it has stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kubernetes import client

from bench import sites
from bench.context import Bench, Window
from bench.kubeutil import create_namespace, delete_namespace, in_parallel
from bench.phases import PHASES, fail_phases, run_phases
from bench.resources import CpuMeter, PeakRss, children_cpu_seconds
from bench.settings import say
from bench.suite import controllers, kube

PROBE_SITE = "startup-probe"
STARTUP_TIMEOUT_SECONDS = 120
# After the controller has reconciled every touched site, how long late writes still count as the resync's.
RESYNC_SETTLE_SECONDS = 2.0
TOUCH_ANNOTATION = "controller-examples/bench-touched"


def create(api: client.ApiClient, namespace: str, names: list[str], timeout: float) -> float:
    sites.create_sites(api, namespace, names)
    return sites.wait_ready(api, namespace, names, timeout)


def update(api: client.ApiClient, namespace: str, names: list[str], timeout: float) -> float:
    sites.update_sites(api, namespace, names)
    return sites.wait_ready(api, namespace, names, timeout)


def delete(api: client.ApiClient, namespace: str, names: list[str], timeout: float) -> None:
    sites.delete_sites(api, namespace, names)
    sites.wait_gone(api, namespace, names, timeout)


def measure_controller(bench: Bench, language: str, size: int, rep: int, workers: int) -> bool:
    """One run; its figures go to ``bench``. False when a phase failed (the caller then skips larger N)."""
    say(f"{language} controller: N={size}, --workers={workers}, repetition {rep}")
    namespace = create_namespace(bench.api, f"{language}-{size}")
    controllers.create_site(bench.api, namespace, PROBE_SITE)
    kubeconfig = controllers.controller_kubeconfig(
        bench.cluster, bench.api, bench.work_dir / "controller.kubeconfig", bench.settings.token_seconds(size)
    )
    log_position, cpu_before = bench.audit_log.position(), children_cpu_seconds()
    windows: dict[str, Window] = {}
    key = {"language": language, "size": size, "workers": workers}
    launched_wall, launched = time.time(), time.monotonic()
    controller = controllers.Controller(
        bench.cluster, language, kubeconfig, bench.work_dir, f"--namespace={namespace}", f"--workers={workers}"
    )
    memory = PeakRss(controller.process.pid)
    try:
        completed = _startup(bench, namespace, key, rep, launched_wall, launched, windows) and run_phases(
            bench,
            _steps(bench, controller, namespace, key, rep),
            key,
            rep,
            windows,
            CpuMeter(controller.process.pid, bench.cluster),
        )
    finally:
        controller.stop()
        windows["run"] = (launched_wall, time.time())
        bench.samples.add("peak_rss", memory.stop(), rep=rep, **key)
        bench.samples.add("cpu_seconds", children_cpu_seconds() - cpu_before, rep=rep, **key)
        _clean_up(bench.api, namespace, size)
    bench.count_requests(language, size, rep, log_position, windows, workers=workers)
    if not completed:
        say(f"{language} N={size} failed; the end of {controller.log}:\n{controller.log_tail(10)}")
    return completed


def _startup(bench: Bench, namespace: str, key: dict, rep: int, launched_wall: float, launched: float,
             windows: dict[str, Window]) -> bool:  # fmt: skip
    """Wait for the first reconcile and record the start-up time; if it never comes, no phase runs."""
    try:
        sites.wait_observed(bench.api, namespace, PROBE_SITE, STARTUP_TIMEOUT_SECONDS)
    except TimeoutError as error:
        bench.samples.fail("startup", str(error), rep=rep, language=key["language"])
        fail_phases(bench, list(PHASES), "not run: no first reconcile", rep, key)
        return False
    bench.samples.add("startup", time.monotonic() - launched, rep=rep, language=key["language"])
    windows["startup"] = (launched_wall, time.time())
    return True


def _steps(bench: Bench, controller, namespace: str, key: dict, rep: int) -> dict[str, Callable[[], float | None]]:
    api, names, timeout = bench.api, sites.site_names(key["size"]), bench.settings.phase_timeout(key["size"])
    return {
        "create": lambda: create(api, namespace, names, timeout),
        "resync": lambda: _noop_resync(bench, controller, namespace, names, rep, key),
        "update": lambda: update(api, namespace, names, timeout),
        "delete": lambda: delete(api, namespace, names, timeout),
    }


def _noop_resync(bench: Bench, controller, namespace: str, names: list[str], rep: int, key: dict) -> None:
    """Touch every site's metadata and wait until the controller has reconciled them all.

    The writes it made meanwhile are counted from the audit log afterwards; here only the number of
    reconciles is recorded (from the controller's own counter) to show the touch was seen.
    """
    custom = client.CustomObjectsApi(bench.api)
    touch = {"metadata": {"annotations": {TOUCH_ANNOTATION: str(time.time())}}}
    try:
        before = _reconciles(controller)
        in_parallel(
            lambda name: custom.patch_namespaced_custom_object(
                sites.GROUP, sites.VERSION, namespace, sites.PLURAL, name, touch
            ),
            names,
        )
        kube.wait_for(
            lambda: _reconciles(controller) - before >= len(names),
            timeout=30 + 0.1 * len(names),
            what=f"{len(names)} reconciles after the touch",
        )
        time.sleep(RESYNC_SETTLE_SECONDS)
        bench.samples.add("noop_reconciles", _reconciles(controller) - before, rep=rep, **key)
    except AssertionError as error:
        bench.samples.fail("noop_reconciles", str(error), rep=rep, **key)


def _reconciles(controller) -> float:
    """staticsite_reconcile_total, all results added up, from the controller's /metrics."""
    return sum(value for name, value in controller.metrics().items() if name.startswith("staticsite_reconcile_total"))


def _clean_up(api: client.ApiClient, namespace: str, size: int) -> None:
    """The controller is stopped: remove what it would have finalized, then the namespace."""
    controllers.strip_finalizers(api, namespace)
    try:
        delete_namespace(api, namespace, timeout=120 + 0.5 * size)
    except AssertionError as error:
        say(f"warning: {error}; going on")
