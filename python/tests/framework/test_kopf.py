"""The kopf-built controller's own parts: the index caches, kopf's settings, the diff base, the site daemon.

The handlers themselves run under kopf against a real API server in the conformance suite (python-kopf);
here are the parts that need neither.
"""

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any

import kopf
import pytest
from kubernetes import client

from controller_examples.advanced.endpoints import Metrics
from controller_examples.advanced.informer import Caches
from controller_examples.advanced.options import parse_options
from controller_examples.advanced.site import FINALIZER, MANAGED_SELECTOR
from controller_examples.framework.kopf_diffbase import InMemoryDiffBaseStorage
from controller_examples.framework.kopf_handlers import (
    CHILD_RESOURCES,
    INDEX_IDS,
    IndexCache,
    Runtime,
    caches_of,
    index_entry,
    informer_events,
    kopf_is_due,
    woken_or_stopped,
)
from controller_examples.framework.kopf_operator import connection_info, operator_settings

DEADLINE_SECONDS = 10


def site(finalizers: list[str] | None = None, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "hello", "namespace": "demo", "uid": "uid-1"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": metadata, "spec": {"replicas": 1}}


# ----- the indexes as the reconciler's caches ------------------------------------------------------
def test_index_entry_is_a_copy_under_the_object_key():
    body = site()
    entry = index_entry(body)
    assert entry == {"demo/hello": body}
    entry["demo/hello"]["spec"]["replicas"] = 5
    assert body["spec"]["replicas"] == 1, "the index must not share the watch event's objects"


def test_index_cache_reads_an_index_by_key():
    index = {"demo/hello": [site()]}  # a kopf index maps each key to a store of values
    cache = IndexCache(index)  # type: ignore[arg-type]
    assert cache.get_by_key("demo/hello") == site()
    assert cache.get_by_key("demo/absent") is None
    assert cache.list_keys() == ["demo/hello"]


def test_caches_of_picks_each_kinds_index_from_the_handler_arguments():
    indices = {index_id: {f"demo/{index_id}": [{"kind": index_id}]} for index_id in INDEX_IDS.values()}
    caches = caches_of({**indices, "logger": None})
    assert isinstance(caches, Caches)
    assert caches.sites.list_keys() == ["demo/sites"]
    assert caches.children["Deployment"].get_by_key("demo/deployments") == {"kind": "deployments"}


@pytest.mark.parametrize(
    ("cached", "due"),
    [
        (None, False),  # gone: the reconciler's step 1 says there is nothing to do
        (site(finalizers=[FINALIZER]), False),
        (site(), True),  # kopf is adding the finalizer
        (site(finalizers=["other"]), True),
        (site(finalizers=[FINALIZER], deleting=True), True),  # kopf's delete handler
    ],
)
def test_kopf_is_due_for_the_finalizer_steps(cached, due):
    assert kopf_is_due(cached) is due


# ----- kopf's settings ------------------------------------------------------------------------------
def test_settings_keep_kopf_from_writing_anything_of_its_own():
    options = parse_options(["--workers", "3"])
    diffbase = InMemoryDiffBaseStorage()
    settings = operator_settings(options, diffbase)
    assert settings.persistence.finalizer == FINALIZER
    assert settings.persistence.diffbase_storage is diffbase
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.posting.enabled is False
    assert settings.scanning.disabled is True
    assert settings.peering.standalone is True
    # The three children's watches, filtered by the API server on the managed-by label.
    assert len(list(settings.watching.label_selectors)) == len(CHILD_RESOURCES)
    assert set(settings.watching.label_selectors.values()) == {MANAGED_SELECTOR}
    assert settings.networking.request_timeout > 0
    assert settings.watching.client_timeout > settings.watching.server_timeout
    # A deleted site's daemon is awaited, not polled once a minute with dummy patches of the site.
    assert settings.background.instant_exit_timeout is not None
    assert settings.background.cancellation_polling < 60


def test_diff_base_is_kept_in_memory_not_in_a_patch():
    storage = InMemoryDiffBaseStorage()
    body = kopf.Body({"metadata": {"uid": "uid-1", "annotations": {"a": "b"}}, "spec": {"replicas": 1}})
    essence = storage.build(body=body)
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=essence)
    assert not patch, "storing the diff base must not write to the object"
    assert storage.fetch(body=body) == essence
    storage.forget("uid-1")
    assert storage.fetch(body=body) is None


def test_connection_info_carries_the_clients_credentials():
    configuration = client.Configuration(host="https://127.0.0.1:6443")
    configuration.api_key["BearerToken"] = "Bearer secret"
    configuration.ssl_ca_cert = "/tmp/ca.crt"
    info = connection_info(configuration)
    assert (info.server, info.scheme, info.token) == ("https://127.0.0.1:6443", "Bearer", "secret")
    assert info.ca_path == "/tmp/ca.crt"
    assert info.insecure is False


# ----- the site daemon ------------------------------------------------------------------------------
class Stopped:
    """kopf's DaemonStopped as the daemon uses it: truthy once set, and awaitable."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


def make_runtime() -> Runtime:
    workers = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    return Runtime(None, None, Metrics(), workers, InMemoryDiffBaseStorage())  # type: ignore[arg-type]


def test_woken_or_stopped_tells_which():
    async def scenario() -> tuple[bool, bool]:
        wake, stopped = asyncio.Event(), Stopped()
        wake.set()
        woken = await woken_or_stopped(wake, stopped, DEADLINE_SECONDS)  # type: ignore[arg-type]
        stopped.set()
        return woken, await woken_or_stopped(asyncio.Event(), stopped, DEADLINE_SECONDS)  # type: ignore[arg-type]

    assert asyncio.run(scenario()) == (False, True)


def run_daemon(runtime: Runtime, outcome: Callable[[int], bool], passes_wanted: int) -> list[str]:
    """Run one site's daemon with `outcome(pass number)` as its reconcile until it made the passes wanted, then
    stop it; returns the keys it reconciled."""
    passes: list[str] = []

    async def scenario() -> None:
        stopped = Stopped()
        enough = asyncio.Event()

        async def reconcile(key: str, caches: Caches) -> bool:
            passes.append(key)
            if len(passes) == passes_wanted:
                enough.set()
            return outcome(len(passes))

        runtime.reconcile = reconcile  # type: ignore[method-assign]
        daemon = asyncio.ensure_future(runtime.reconcile_until_stopped("demo/hello", stopped, None))  # type: ignore[arg-type]
        await asyncio.wait_for(enough.wait(), DEADLINE_SECONDS)
        stopped.set()
        await asyncio.wait_for(daemon, DEADLINE_SECONDS)

    asyncio.run(scenario())
    return passes


def test_daemon_retries_a_failed_reconcile_with_backoff_then_stops():
    runtime = make_runtime()
    passes = run_daemon(runtime, lambda number: number > 1, passes_wanted=2)  # the first pass fails
    assert passes == ["demo/hello", "demo/hello"]
    assert runtime.backoff.failures("demo/hello") == 0, "a success forgets the failures"
    assert "demo/hello" not in runtime.wakeups, "a stopped daemon leaves no wake-up behind"


def test_wakeups_while_reconciling_collapse_into_one_more_pass():
    runtime = make_runtime()

    def outcome(number: int) -> bool:
        if number == 1:
            for _ in range(3):  # three events arrive during the first pass
                runtime.wake("demo/hello")
        return True

    assert len(run_daemon(runtime, outcome, passes_wanted=2)) == 2


def test_a_daemon_stopped_mid_reconcile_ends_when_that_reconcile_returns():
    """kopf keeps a deleted site's finalizer until its daemon has ended (`instant_exit_timeout`): neither a
    wake-up nor a failure's backoff may start another pass once the daemon is stopped."""
    runtime = make_runtime()
    passes: list[str] = []

    async def scenario() -> None:
        stopped = Stopped()
        reconciling, release = asyncio.Event(), asyncio.Event()

        async def reconcile(key: str, caches: Caches) -> bool:
            passes.append(key)
            reconciling.set()
            await release.wait()
            return False  # a failure: its backoff is scheduled

        runtime.reconcile = reconcile  # type: ignore[method-assign]
        daemon = asyncio.ensure_future(runtime.reconcile_until_stopped("demo/hello", stopped, None))  # type: ignore[arg-type]
        await asyncio.wait_for(reconciling.wait(), DEADLINE_SECONDS)
        runtime.wake("demo/hello")  # an event arrives during the pass
        stopped.set()  # and the site is being deleted
        release.set()
        await asyncio.wait_for(daemon, DEADLINE_SECONDS)

    asyncio.run(scenario())
    assert passes == ["demo/hello"]
    assert "demo/hello" not in runtime.wakeups


def test_waking_a_site_without_a_daemon_leaves_nothing_behind():
    runtime = make_runtime()
    runtime.wake("demo/no-such-site")  # e.g. a child whose owner name no site has
    assert runtime.wakeups == {}


@pytest.mark.parametrize(
    ("kopf_type", "events"),
    [(None, ["ADDED"]), ("ADDED", ["ADDED"]), ("MODIFIED", ["MODIFIED"]), ("DELETED", ["MODIFIED", "DELETED"])],
)
def test_informer_events_of_a_kopf_event(kopf_type, events):
    assert informer_events(kopf_type) == events
