"""The bench's StaticSites: N of them created, changed and deleted concurrently, and when they have converged.

The controller and the floor client face the same load, made by these functions with the admin client:
all N requests issued at once from a small thread pool, then a wait (a watch) for the condition.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from kubernetes import client

from bench.kubeutil import Every, in_parallel, wait_all
from bench.settings import say
from bench.suite import controllers

GROUP, VERSION, PLURAL = controllers.GROUP, controllers.VERSION, controllers.PLURAL
# The N measured sites carry this label; the start-up probe (one site created before the controller
# starts) does not, so waits and deletes select only the load.
LOAD_LABEL = {"controller-examples/bench": "load"}
LOAD_SELECTOR = ",".join(f"{key}={value}" for key, value in LOAD_LABEL.items())


def site_names(size: int) -> list[str]:
    return [f"site-{index:04d}" for index in range(size)]


def list_load(api: client.ApiClient, namespace: str):
    """The list call of the measured sites (a watch is the same call with watch=true)."""
    custom = client.CustomObjectsApi(api)
    return functools.partial(
        custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, label_selector=LOAD_SELECTOR
    )


def create_sites(api: client.ApiClient, namespace: str, names: list[str]) -> list[dict]:
    custom = client.CustomObjectsApi(api)

    def create(name: str) -> dict:
        manifest = controllers.site_manifest(name)
        manifest["metadata"]["labels"] = LOAD_LABEL
        return custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)

    return in_parallel(create, names)


def update_sites(api: client.ApiClient, namespace: str, names: list[str]) -> list[dict]:
    """A content change: a new generation, a new ConfigMap and a new pod template (a rollout)."""

    def change(name: str) -> dict:
        return controllers.patch_site_spec(api, namespace, name, {"content": {"index.html": f"<h1>{name} v2</h1>"}})

    return in_parallel(change, names)


def delete_sites(api: client.ApiClient, namespace: str, names: list[str]) -> None:
    custom = client.CustomObjectsApi(api)
    in_parallel(lambda name: custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name), names)


def is_ready(site: dict | None) -> bool:
    """Ready=True for the site's current generation (the status of an older spec does not count)."""
    if site is None:
        return False
    generation = site["metadata"]["generation"]
    condition = controllers.ready_condition(site)
    return (
        condition.get("status") == "True"
        and condition.get("observedGeneration") == generation
        and (site.get("status") or {}).get("observedGeneration") == generation
    )


def is_written(site: dict | None) -> bool:
    """The status is for the current generation (any condition): the controller has written the children.

    SPEC's step 8 writes the status after the applies of step 7, so this is "all children written" seen
    from outside, the same for every implementation, before any rollout has to finish.
    """
    return site is not None and (site.get("status") or {}).get("observedGeneration") == site["metadata"]["generation"]


class FirstTime:
    """The moment a condition first held for every named object (time.monotonic()), or None."""

    def __init__(self, names: list[str], condition: Callable[[dict | None], bool]):
        self.pending = set(names)
        self.condition = condition
        self.when: float | None = None

    def see(self, name: str, obj: dict | None) -> None:
        if self.when is not None or name not in self.pending or not self.condition(obj):
            return
        self.pending.discard(name)
        if not self.pending:
            self.when = time.monotonic()


def wait_ready(api: client.ApiClient, namespace: str, names: list[str], timeout: float) -> float:
    """Until every site is Ready for its generation; returns when they were all written (time.monotonic())."""
    written = FirstTime(names, is_written)
    total = len(names)

    def progress(pending: int) -> None:
        say(f"    {total - len(written.pending):,} of {total:,} written, {total - pending:,} Ready")

    wait_all(list_load(api, namespace), names, is_ready, timeout=timeout, what=f"{total} sites Ready",
             observe=written.see, progress=Every(progress))  # fmt: skip
    return written.when if written.when is not None else time.monotonic()


def wait_observed(api: client.ApiClient, namespace: str, name: str, timeout: float) -> None:
    """Until the site has a ``status.observedGeneration``: a controller has reconciled it at least once."""
    custom = client.CustomObjectsApi(api)
    list_one = functools.partial(
        custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, field_selector=f"metadata.name={name}"
    )
    wait_all(
        list_one,
        [name],
        lambda site: "observedGeneration" in ((site or {}).get("status") or {}),
        timeout=timeout,
        what=f"the first status of {name}",
    )


def wait_gone(api: client.ApiClient, namespace: str, names: list[str], timeout: float) -> None:
    total = len(names)
    wait_all(list_load(api, namespace), names, lambda site: site is None, timeout=timeout, what="sites deleted",
             progress=Every(lambda pending: say(f"    {total - pending:,} of {total:,} gone")))  # fmt: skip
