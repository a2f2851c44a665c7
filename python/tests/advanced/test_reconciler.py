"""The reconciler's decisions, against an in-memory cluster that records every request."""

import copy
import threading
from datetime import UTC, datetime

import pytest
from kubernetes.client import ApiException

from advanced.fakes import FakeCluster, InlineExecutor, make_site
from controller_examples.advanced.events import EventRecorder
from controller_examples.advanced.reconciler import ChildConflictError, Reconciler

KEY = "demo/hello"
FINALIZER = "sites.example.com/registry"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def cluster():
    return FakeCluster()


def reconciler_for(cluster):
    return Reconciler(cluster, cluster.caches, EventRecorder(cluster), now=lambda: NOW, requests=InlineExecutor())


def site_in(cluster):
    return cluster.find("StaticSite", "demo", "hello")


def roll_out(cluster, ready):
    """What the Deployment controller (and kwok's pods) would do."""
    deployment = copy.deepcopy(cluster.find("Deployment", "demo", "hello"))
    deployment["metadata"]["generation"] = 1
    deployment["status"] = {
        "observedGeneration": 1,
        "replicas": ready,
        "updatedReplicas": ready,
        "readyReplicas": ready,
    }
    cluster.put(deployment)


def test_a_new_site_gets_finalizer_registry_children_event_and_status_in_that_order(cluster):
    cluster.put(make_site())

    reconciler_for(cluster).reconcile(KEY)

    assert cluster.writes() == [
        ("patch", "StaticSite", "hello"),  # the finalizer, before anything else
        ("patch", "ConfigMap", "staticsite-registry"),  # 404: the namespace has no registry yet
        ("create", "ConfigMap", "staticsite-registry"),
        ("apply", "ConfigMap", "hello-content"),
        ("apply", "Deployment", "hello"),
        ("apply", "Service", "hello"),
        ("create", "Event", "Synced"),
        ("patch-status", "StaticSite", "hello"),
    ]
    site = site_in(cluster)
    assert site["metadata"]["finalizers"] == [FINALIZER]
    assert cluster.find("ConfigMap", "demo", "staticsite-registry")["data"] == {
        "hello": "http://hello.demo.svc.cluster.local"
    }
    [event] = cluster.events
    assert (event["type"], event["reason"], event["message"]) == (
        "Normal",
        "Synced",
        "applied ConfigMap hello-content, Deployment hello, Service hello",
    )
    assert event["source"] == {"component": "staticsite-controller"}
    assert event["involvedObject"]["uid"] == "uid-1"
    assert site["status"]["conditions"][0]["reason"] == "Progressing"


def test_the_finalizer_patch_carries_the_resource_version(cluster):
    site = cluster.put(make_site(finalizers=["someone.else/first"]))
    cluster.stale[("StaticSite", "demo", "hello")] = site  # the cache has not seen the next change yet
    changed = copy.deepcopy(site)
    changed["metadata"].update(resourceVersion="2", finalizers=["someone.else/first", "someone.else/second"])
    cluster.put(changed)

    with pytest.raises(ApiException) as error:
        reconciler_for(cluster).reconcile(KEY)

    assert error.value.status == 409  # retried from the new list, instead of overwriting it
    assert site_in(cluster)["metadata"]["finalizers"] == ["someone.else/first", "someone.else/second"]


def test_a_second_reconcile_with_nothing_changed_writes_nothing(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    roll_out(cluster, ready=2)
    reconciler.reconcile(KEY)  # Available now
    cluster.requests.clear()

    reconciler.reconcile(KEY)

    assert cluster.requests == []  # not even a GET: everything came from the caches
    condition = site_in(cluster)["status"]["conditions"][0]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "True",
        "Available",
        "2/2 replicas ready",
    )


def test_a_deleted_child_is_applied_again_alone(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    del cluster.objects[("Service", "demo", "hello")]
    cluster.requests.clear()

    reconciler.reconcile(KEY)

    assert cluster.writes() == [("apply", "Service", "hello"), ("create", "Event", "Synced")]
    assert cluster.events[-1]["message"] == "applied Service hello"


def test_a_cache_behind_our_own_last_apply_is_judged_on_what_the_apply_returned(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    stale = copy.deepcopy(cluster.find("Deployment", "demo", "hello"))
    stale["spec"]["replicas"] = 1  # as it was before our own last apply
    stale["metadata"]["resourceVersion"] = "1"
    cluster.stale[("Deployment", "demo", "hello")] = stale
    cluster.requests.clear()

    reconciler.reconcile(KEY)

    assert cluster.requests == []  # no drift, and not even a GET to tell


def test_a_change_made_after_our_last_apply_is_drift_and_is_repaired(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    edited = copy.deepcopy(cluster.find("Deployment", "demo", "hello"))
    edited["spec"]["replicas"] = 5
    edited["metadata"]["resourceVersion"] = "999"  # later than our apply's answer
    cluster.put(edited)
    cluster.requests.clear()

    reconciler.reconcile(KEY)

    assert cluster.writes() == [("apply", "Deployment", "hello"), ("create", "Event", "Synced")]
    assert cluster.find("Deployment", "demo", "hello")["spec"]["replicas"] == 2


def test_a_spec_change_is_applied_and_the_status_follows_the_generation(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    site = copy.deepcopy(site_in(cluster))
    site["spec"]["replicas"] = 3
    site["metadata"]["generation"] = 2
    cluster.put(site)
    cluster.requests.clear()

    reconciler.reconcile(KEY)

    assert cluster.writes() == [
        ("apply", "Deployment", "hello"),
        ("create", "Event", "Synced"),
        ("patch-status", "StaticSite", "hello"),
    ]
    assert cluster.find("Deployment", "demo", "hello")["spec"]["replicas"] == 3
    assert site_in(cluster)["status"]["observedGeneration"] == 2


def test_an_object_the_site_does_not_control_is_a_conflict_and_is_left_alone(cluster):
    cluster.put(make_site())
    foreign = {"kind": "ConfigMap", "metadata": {"name": "hello-content", "namespace": "demo"}, "data": {"x": "y"}}
    cluster.put(copy.deepcopy(foreign))
    reconciler = reconciler_for(cluster)

    with pytest.raises(ChildConflictError, match="ConfigMap hello-content exists and is not controlled"):
        reconciler.reconcile(KEY)

    assert not [request for request in cluster.writes() if request[0] == "apply"]  # no child written
    assert cluster.find("ConfigMap", "demo", "hello-content")["data"] == {"x": "y"}
    condition = site_in(cluster)["status"]["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "ChildConflict")
    assert condition["message"] == "ConfigMap hello-content exists and is not controlled by this StaticSite"
    assert [(event["type"], event["reason"]) for event in cluster.events] == [("Warning", "ChildConflict")]


def test_a_conflict_retried_writes_nothing_more_and_recovers_once_the_object_is_gone(cluster):
    cluster.put(make_site())
    cluster.put({"kind": "Service", "metadata": {"name": "hello", "namespace": "demo"}})
    reconciler = reconciler_for(cluster)
    with pytest.raises(ChildConflictError):
        reconciler.reconcile(KEY)
    cluster.requests.clear()

    with pytest.raises(ChildConflictError):
        reconciler.reconcile(KEY)
    assert cluster.writes() == []

    del cluster.objects[("Service", "demo", "hello")]
    reconciler.reconcile(KEY)
    assert cluster.find("Service", "demo", "hello") is not None
    assert site_in(cluster)["status"]["conditions"][0]["reason"] == "Progressing"


def test_an_invalid_name_gets_invalid_spec_and_no_child(cluster):
    cluster.put(make_site(name="1site"))
    reconciler = reconciler_for(cluster)

    reconciler.reconcile("demo/1site")

    assert cluster.writes() == [
        ("patch", "StaticSite", "1site"),
        ("patch-status", "StaticSite", "1site"),
        ("create", "Event", "InvalidSpec"),
    ]
    site = cluster.find("StaticSite", "demo", "1site")
    condition = site["status"]["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert condition["message"].startswith("name 1site cannot be a Service name: it must be a DNS-1035 label")
    assert cluster.events[0]["type"] == "Warning"

    cluster.requests.clear()
    reconciler.reconcile("demo/1site")
    assert cluster.requests == []


def test_content_too_large_for_a_config_map_gets_invalid_spec_and_no_child(cluster):
    # 20 files of 16384 emoji: what maxLength (characters) lets in, 1.25 MiB of UTF-8.
    cluster.put(make_site(content={f"f{i:02d}": "\U0001f600" * 16384 for i in range(20)}))
    reconciler = reconciler_for(cluster)

    reconciler.reconcile(KEY)

    message = "content is 1310780 bytes: a ConfigMap holds at most 1048576 bytes (1 MiB) of file names and bodies"
    assert cluster.writes() == [
        ("patch", "StaticSite", "hello"),
        ("patch-status", "StaticSite", "hello"),
        ("create", "Event", "InvalidSpec"),
    ]
    condition = site_in(cluster)["status"]["conditions"][0]
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "InvalidSpec", message)
    assert cluster.events[0]["message"] == message
    cluster.requests.clear()
    reconciler.reconcile(KEY)
    assert cluster.requests == []


def test_content_of_exactly_one_mebibyte_is_written(cluster):
    content = {f"f{i:02d}": "\U0001f600" * 16384 for i in range(15)}
    content["f15"] = "\U0001f600" * 16372  # 16 names of 3 bytes + 15 x 65536 + 65488 = 1048576
    cluster.put(make_site(content=content))

    reconciler_for(cluster).reconcile(KEY)

    assert cluster.find("ConfigMap", "demo", "hello-content")["data"] == content


def test_a_child_refused_as_invalid_gets_invalid_spec_and_is_not_retried(cluster):
    cluster.put(make_site())
    refusal = ApiException(status=422, reason="Unprocessable Entity")
    refusal.body = '{"kind": "Status", "message": "Deployment \\"hello\\" is invalid: spec: refused by a policy"}'
    apply = cluster.apply

    def refuse_deployments(obj):
        if obj["kind"] == "Deployment":
            cluster.requests.append(("apply", "Deployment", obj["metadata"]["name"]))
            raise refusal
        return apply(obj)

    cluster.apply = refuse_deployments
    reconciler_for(cluster).reconcile(KEY)  # no exception: retrying would not help

    message = 'Deployment hello cannot be written: Deployment "hello" is invalid: spec: refused by a policy'
    condition = site_in(cluster)["status"]["conditions"][0]
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "InvalidSpec", message)
    assert [(event["reason"], event["message"]) for event in cluster.events] == [
        ("Synced", "applied ConfigMap hello-content, Service hello"),  # applied with the refused one
        ("InvalidSpec", message),
    ]


def test_a_child_re_owned_after_our_last_apply_is_a_conflict_and_is_not_taken_over(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    theirs = copy.deepcopy(cluster.find("Deployment", "demo", "hello"))  # now another site's, with their replicas
    theirs["metadata"]["ownerReferences"][0].update(name="other", uid="uid-other")
    theirs["metadata"]["resourceVersion"] = "999"  # later than our apply's answer
    theirs["spec"]["replicas"] = 7
    cluster.put(theirs)
    cluster.requests.clear()

    with pytest.raises(ChildConflictError, match="Deployment hello exists and is not controlled"):
        reconciler.reconcile(KEY)

    assert cluster.writes() == [("patch-status", "StaticSite", "hello"), ("create", "Event", "ChildConflict")]
    assert cluster.find("Deployment", "demo", "hello") == theirs


def test_a_site_being_deleted_loses_its_registry_key_then_its_finalizer(cluster):
    cluster.put(make_site())
    reconciler = reconciler_for(cluster)
    reconciler.reconcile(KEY)
    cluster.put(make_site(name="other"))
    reconciler.reconcile("demo/other")
    deleting = copy.deepcopy(site_in(cluster))
    deleting["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    deleting["metadata"]["finalizers"] = ["someone.else/keep", FINALIZER]
    cluster.put(deleting)
    cluster.requests.clear()
    cluster.events.clear()

    reconciler.reconcile(KEY)

    assert cluster.writes() == [("patch", "ConfigMap", "staticsite-registry"), ("patch", "StaticSite", "hello")]
    assert cluster.find("ConfigMap", "demo", "staticsite-registry")["data"] == {
        "other": "http://other.demo.svc.cluster.local"
    }
    assert site_in(cluster)["metadata"]["finalizers"] == ["someone.else/keep"]
    assert cluster.events == []  # no event, no child touched


def test_finalizing_without_a_registry_still_removes_the_finalizer(cluster):
    cluster.put(make_site(finalizers=[FINALIZER], deleting=True))

    reconciler_for(cluster).reconcile(KEY)

    assert site_in(cluster)["metadata"]["finalizers"] == []


def test_a_site_being_deleted_without_our_finalizer_is_left_alone(cluster):
    cluster.put(make_site(finalizers=["someone.else/keep"], deleting=True))

    reconciler_for(cluster).reconcile(KEY)

    assert cluster.requests == []


def test_a_site_gone_from_the_cache_needs_nothing(cluster):
    reconciler_for(cluster).reconcile(KEY)

    assert cluster.requests == []


def test_the_cached_objects_are_never_modified(cluster):
    cluster.put(make_site(finalizers=[FINALIZER]))
    cached = site_in(cluster)
    before = copy.deepcopy(cached)

    reconciler_for(cluster).reconcile(KEY)

    assert cached == before
    assert site_in(cluster) is not cached  # the fake stores a new object for each write


def test_an_event_that_cannot_be_written_does_not_fail_the_reconcile(cluster):
    cluster.put(make_site())
    cluster.fail_events = True

    reconciler_for(cluster).reconcile(KEY)

    assert site_in(cluster)["status"]["conditions"][0]["reason"] == "Progressing"


def test_the_three_applies_of_a_reconcile_are_in_flight_at_once(cluster):
    # Each apply waits until all three have started: applied one after another, the first would wait alone
    # and the barrier would break (after its timeout) instead of opening.
    cluster.put(make_site())
    barrier = threading.Barrier(3, timeout=10)
    apply = cluster.apply

    def apply_together(obj):
        barrier.wait()
        return apply(obj)

    cluster.apply = apply_together
    reconciler = Reconciler(cluster, cluster.caches, EventRecorder(cluster), now=lambda: NOW)  # a real pool

    reconciler.reconcile(KEY)

    applied = {request[1] for request in cluster.writes() if request[0] == "apply"}
    assert applied == {"ConfigMap", "Deployment", "Service"}
    assert cluster.events[0]["message"] == "applied ConfigMap hello-content, Deployment hello, Service hello"
