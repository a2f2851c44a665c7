"""The registry is exact (SPEC.md, "Finalizer and registry"): which keys are stray, which sites a change of
the registry concerns, and the reconcile that adds its key and removes stray ones in one merge patch."""

import pytest

from advanced.fakes import FakeCluster, InlineExecutor, make_site
from controller_examples.advanced.events import EventRecorder
from controller_examples.advanced.reconciler import Reconciler
from controller_examples.advanced.registry import REGISTRY_NAME, sites_to_repair, stray_keys

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
    assert stray_keys(registry(data), ["a", "1st", "deleting"]) == ["1st", "UP", "gone"]
    assert stray_keys(None, ["a"]) == []


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
