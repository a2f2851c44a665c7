"""The floor: the writes a StaticSite controller cannot avoid, issued by a tight client with no logic.

Per site, the minimal set is three server-side applies (ConfigMap, Deployment, Service) and one status
patch; on an update, two applies (the Service does not change with the content) and one status patch. The
floor client makes exactly those, all at once from a thread pool, with the controller's ServiceAccount
(so the audit log shows them too), and with no informer, queue, cache or comparison: it is told what to
write. The objects and requests are the Python reference's own (its ``children``, ``status`` and ``api``
modules), so the floor writes byte for byte what a controller writes.

Each phase is timed like a controller's, from the bench's first site request to all sites Ready (or gone):
create = create the sites, apply their children, and as each Deployment rolls out, patch its site's status;
update = the same with the new content; delete = delete the sites (without a finalizer to honour, the API
server alone finishes it).
A language's convergence time divided by the floor's is how much its controller adds to the API's own cost.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from kubernetes import client

from bench import sites
from bench.context import Bench, Window
from bench.kubeutil import (
    CLIENT_THREADS,
    create_namespace,
    delete_namespace,
    in_parallel,
    service_account_client,
    wait_all,
)
from bench.phases import run_phases
from bench.settings import FLOOR, say
from controller_examples.advanced.api import KubeApi
from controller_examples.advanced.children import desired_children
from controller_examples.advanced.status import desired_status, ready_replicas, rollout_verdict

USER_AGENT = "bench-floor"


def create(api: client.ApiClient, writer: KubeApi, namespace: str, names: list[str], timeout: float) -> None:
    created = sites.create_sites(api, namespace, names)
    in_parallel(writer.apply, [child for site in created for child in desired_children(site)])
    _roll_out_and_report(api, writer, namespace, created, timeout)


def update(api: client.ApiClient, writer: KubeApi, namespace: str, names: list[str], timeout: float) -> None:
    updated = sites.update_sites(api, namespace, names)
    changed = [child for site in updated for child in desired_children(site) if child["kind"] != "Service"]
    in_parallel(writer.apply, changed)
    _roll_out_and_report(api, writer, namespace, updated, timeout)


def delete(api: client.ApiClient, writer: KubeApi, namespace: str, names: list[str], timeout: float) -> None:
    sites.delete_sites(api, namespace, names)
    sites.wait_gone(api, namespace, names, timeout)


ACTIONS = {"create": create, "update": update, "delete": delete}


def _roll_out_and_report(api: client.ApiClient, writer: KubeApi, namespace: str, site_list: list[dict],
                         timeout: float) -> None:  # fmt: skip
    """As each Deployment finishes rolling out, write its site's Ready status; then see every site Ready.

    Each status is written the moment its own rollout is seen (on a thread pool), not after the slowest
    rollout: a controller does that, and a floor that waited for the last one could be beaten.
    """
    by_name = {site["metadata"]["name"]: site for site in site_list}

    def rolled_out(deployment: dict | None) -> bool:
        return (
            deployment is not None
            and rollout_verdict(by_name[deployment["metadata"]["name"]], deployment).status == "True"
        )

    def report(deployment: dict) -> None:
        site = by_name[deployment["metadata"]["name"]]
        verdict = rollout_verdict(site, deployment)
        status = desired_status(site, verdict, ready_replicas(deployment), datetime.now(UTC))
        writer.patch_site_status(namespace, site["metadata"]["name"], {"status": status})

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        writes = []
        wait_all(_list_deployments(api, namespace), by_name, rolled_out, timeout=timeout, what="rollouts",
                 on_satisfied=lambda deployment: writes.append(pool.submit(report, deployment)))  # fmt: skip
        for write in writes:
            write.result()  # raises the first failed write's error
    sites.wait_ready(api, namespace, list(by_name), timeout)


def _list_deployments(api: client.ApiClient, namespace: str):
    # The generic custom-objects call serves any API group and returns plain dicts, like the site lists.
    return functools.partial(client.CustomObjectsApi(api).list_namespaced_custom_object, "apps", "v1", namespace,
                             "deployments")  # fmt: skip


def measure_floor(bench: Bench, size: int, rep: int) -> None:
    say(f"floor client: N={size}, repetition {rep}")
    namespace = create_namespace(bench.api, f"floor-{size}")
    writer = KubeApi(service_account_client(bench.cluster, bench.api, bench.work_dir / "floor.kubeconfig", USER_AGENT))
    names = sites.site_names(size)
    timeout = bench.settings.phase_timeout(size)
    key = {"language": FLOOR, "size": size}
    log_position = bench.audit_log.position()
    windows: dict[str, Window] = {}
    steps = {
        phase: functools.partial(action, bench.api, writer, namespace, names, timeout)
        for phase, action in ACTIONS.items()
    }
    started = time.time()
    try:
        run_phases(bench, steps, key, rep, windows)
    finally:
        windows["run"] = (started, time.time())
        delete_namespace(bench.api, namespace, timeout=120 + 0.5 * size)
    bench.count_requests(FLOOR, size, rep, log_position, windows)
