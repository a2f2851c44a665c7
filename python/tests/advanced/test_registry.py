"""The registry is exact (SPEC.md, "Finalizer and registry"): which keys are stray, which sites a change of
the registry concerns, and the reconcile that adds its key and removes stray ones in one merge patch."""

import threading

import pytest
from helpers import wait_until

from advanced.fakes import FakeCluster, InlineExecutor, make_site
from controller_examples.advanced.events import EventRecorder
from controller_examples.advanced.reconciler import Reconciler
from controller_examples.advanced.registry import (
    REGISTRY_NAME,
    RegistryWriter,
    cached_site,
    sites_to_repair,
    stray_keys,
)
from controller_examples.advanced.site import site_key

FINALIZER = "sites.example.com/registry"


def url(name):
    return f"http://{name}.demo.svc.cluster.local"


def registry(data):
    return {
        "kind": "ConfigMap",
        "metadata": {
            "name": REGISTRY_NAME,
            "namespace": "demo",
            "labels": {"app.kubernetes.io/managed-by": "staticsite-controller"},
        },
        "data": data,
    }


def test_stray_keys_are_those_of_no_cached_site_or_of_no_possible_key():
    data = {"a": url("a"), "gone": url("gone"), "1st": "x", "UP": "y", "deleting": url("deleting")}
    sites = SiteCache(site_key("demo", name) for name in ("a", "1st", "deleting"))
    assert stray_keys(registry(data), cached_site(sites, "demo")) == ["1st", "UP", "gone"]
    assert stray_keys(None, cached_site(sites, "demo")) == []
    # Sites of the same names in another namespace hold no key of this one.
    elsewhere = SiteCache(site_key("other", name) for name in ("a", "deleting"))
    assert stray_keys(registry(data), cached_site(elsewhere, "demo")) == ["1st", "UP", "a", "deleting", "gone"]
    # A key is looked up as a name, never as a path: none of these reaches site "a" (of this or another namespace).
    hostile = {"demo/a": "x", "../a": "x", "a\n": "x", "a ": "x", "$(a)": "x", "a🙂": "x"}
    both = SiteCache(site_key(namespace, "a") for namespace in ("demo", "other"))
    assert stray_keys(registry(hostile), cached_site(both, "demo")) == sorted(hostile)


class SiteCache:
    """A site cache that holds a site at each of these keys."""

    def __init__(self, keys):
        self.sites = {key: {"metadata": {}} for key in keys}

    def get_by_key(self, key):
        return self.sites.get(key)

    def list_keys(self):
        return list(self.sites)


@pytest.mark.parametrize(
    ("data", "wanted"),
    [
        ({"a": url("a"), "b": url("b")}, []),  # exact: nothing
        ({"a": url("a")}, ["b"]),  # a missing key: that site
        ({"a": url("a"), "b": "http://elsewhere"}, ["a", "b"]),  # another value: every site looks
        ({"a": url("a"), "b": url("b"), "gone": url("gone")}, ["a", "b"]),  # a stray: every site
        (None, ["a", "b"]),  # deleted: every site
    ],
)
def test_sites_to_repair(data, wanted):
    assert sites_to_repair(None if data is None else registry(data), "demo", ["a", "b", "1st"]) == wanted


@pytest.fixture
def cluster():
    cluster = FakeCluster()
    cluster.put(make_site("hello", finalizers=[FINALIZER]))
    return cluster


def reconcile(cluster):
    Reconciler(cluster, cluster.caches, EventRecorder(cluster), requests=InlineExecutor()).reconcile("demo/hello")


def registry_writes(cluster):
    return [request for request in cluster.writes() if request[1:] == ("ConfigMap", REGISTRY_NAME)]


def test_a_reconcile_removes_stray_keys_with_its_own_in_one_patch(cluster):
    cluster.put(make_site("other", finalizers=[FINALIZER], uid="uid-2"))
    cluster.put(registry({"hello": url("hello"), "other": url("other"), "gone": "x"}))
    reconcile(cluster)
    assert registry_writes(cluster) == [("patch", "ConfigMap", REGISTRY_NAME)]
    assert cluster.find("ConfigMap", "demo", REGISTRY_NAME)["data"] == {"hello": url("hello"), "other": url("other")}


def test_a_removed_key_is_added_back_and_an_exact_registry_is_not_written(cluster):
    cluster.put(registry({}))
    reconcile(cluster)
    assert cluster.find("ConfigMap", "demo", REGISTRY_NAME)["data"] == {"hello": url("hello")}
    before = len(registry_writes(cluster))
    reconcile(cluster)
    assert len(registry_writes(cluster)) == before


def test_the_key_of_a_site_being_deleted_is_left_to_its_finalizer(cluster):
    cluster.put(make_site("leaving", finalizers=[FINALIZER], uid="uid-3", deleting=True))
    cluster.put(registry({"hello": url("hello"), "leaving": url("leaving")}))
    reconcile(cluster)
    assert registry_writes(cluster) == []


class GatedCluster(FakeCluster):
    """A fake cluster whose registry patches wait at a gate, so that others can queue up behind one."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.patches: list[dict] = []

    def patch_config_map(self, namespace, name, patch):
        self.patches.append(patch)
        self.gate.wait(timeout=10)
        return super().patch_config_map(namespace, name, patch)


def test_changes_made_while_a_patch_is_in_flight_go_together_in_the_next_one():
    cluster = GatedCluster()
    cluster.put(registry({"gone": "x"}))
    writer = RegistryWriter(cluster)
    first = threading.Thread(target=writer.add_entry, args=("demo", "a", url("a")))
    first.start()
    wait_until(lambda: len(cluster.patches) == 1, "the first patch")
    others = [
        threading.Thread(target=writer.add_entry, args=("demo", "b", url("b"))),
        threading.Thread(target=writer.remove_entry, args=("demo", "gone")),
    ]
    for thread in others:
        thread.start()
    wait_until(lambda: len(writer._namespaces["demo"].next.changes) == 2, "both changes to wait")
    cluster.gate.set()
    for thread in [first, *others]:
        thread.join(timeout=10)

    assert cluster.patches == [{"data": {"a": url("a")}}, {"data": {"b": url("b"), "gone": None}}]
    assert cluster.find("ConfigMap", "demo", REGISTRY_NAME)["data"] == {"a": url("a"), "b": url("b")}
    assert writer._namespaces == {}  # nothing left behind once idle


class FailingCluster(GatedCluster):
    def patch_config_map(self, namespace, name, patch):
        self.patches.append(patch)
        self.gate.wait(timeout=10)
        raise RuntimeError("down")


def test_every_caller_of_a_failed_patch_gets_its_error():
    cluster = FailingCluster()
    writer = RegistryWriter(cluster)
    errors = []

    def add(name):
        try:
            writer.add_entry("demo", name, url(name))
        except RuntimeError as error:
            errors.append((name, str(error)))

    threads = [threading.Thread(target=add, args=(name,)) for name in "abc"]
    threads[0].start()
    wait_until(lambda: len(cluster.patches) == 1, "the first patch")
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: len(writer._namespaces["demo"].next.changes) == 2, "both changes to wait")
    cluster.gate.set()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(errors) == [("a", "down"), ("b", "down"), ("c", "down")]
    assert len(cluster.patches) == 2  # a alone, then b and c together
    assert writer._namespaces == {}


def test_removing_a_key_from_a_missing_registry_creates_nothing_and_adding_one_creates_it():
    cluster = FakeCluster()
    writer = RegistryWriter(cluster)

    writer.remove_entry("demo", "a")
    assert cluster.find("ConfigMap", "demo", REGISTRY_NAME) is None

    writer.add_entry("demo", "b", url("b"), stray=["a"])
    assert cluster.find("ConfigMap", "demo", REGISTRY_NAME)["data"] == {"b": url("b")}
