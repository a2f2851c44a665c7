"""The informers: the official SharedInformer over our dict-answering ListWatch."""

import json
import threading
import time

from kubernetes.informer import ADDED, DELETED, MODIFIED
from kubernetes.watch import Watch

from controller_examples.advanced.informer import ChildHandler, Informer, ListWatch, enqueue_site


def config_map(name, version):
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo", "resourceVersion": version}}


class ListResponse:
    def __init__(self, body):
        self.data = json.dumps(body).encode()

    def release_conn(self):
        pass


class WatchResponse:
    """A watch's raw HTTP response: one JSON event per line."""

    status = 200

    def __init__(self, events):
        self._events = events

    def stream(self, amt=None, decode_content=False):
        for event in self._events:
            yield json.dumps(event).encode() + b"\n"

    def close(self):
        pass

    def release_conn(self):
        pass


class FakeServer:
    """Answers list calls page by page, then watch calls with the given events."""

    def __init__(self, pages, events=()):
        self.pages = list(pages)
        self.events = list(events)
        self.calls = []

    def __call__(self, **params):
        self.calls.append(params)
        if params.get("watch"):
            events, self.events = self.events, []
            return WatchResponse(events)
        return ListResponse(self.pages.pop(0))


def test_list_follows_continue_tokens_and_answers_with_dicts():
    server = FakeServer(
        [
            {"metadata": {"continue": "next"}, "items": [config_map("a", "1")]},
            {"metadata": {"resourceVersion": "9"}, "items": [config_map("b", "2")]},
        ]
    )

    listing = ListWatch("configmaps", server, threading.Event())(label_selector="x=y")

    assert [item["metadata"]["name"] for item in listing.items] == ["a", "b"]
    assert listing.metadata.resource_version == "9"
    assert [call["_continue"] for call in server.calls] == [None, "next"]
    assert all(call["label_selector"] == "x=y" and call["_preload_content"] is False for call in server.calls)


def test_the_official_watch_yields_dicts_and_tracks_the_resource_version():
    bookmark = {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "12"}}}
    server = FakeServer([], [{"type": "ADDED", "object": config_map("a", "10")}, bookmark])
    watch = Watch()

    events = list(
        watch.stream(ListWatch("configmaps", server, threading.Event()), resource_version="5", timeout_seconds=1)
    )

    assert events[0]["object"] == config_map("a", "10")  # a plain dict, not a model
    assert watch.resource_version == "12"  # so a reconnect resumes after the bookmark
    assert server.calls[0]["allow_watch_bookmarks"] is True
    assert server.calls[0]["resource_version"] == "5"


def test_an_informer_syncs_fills_its_cache_calls_handlers_and_stops():
    server = FakeServer([{"metadata": {"resourceVersion": "3"}, "items": [config_map("a", "1")]}])
    informer = Informer("configmaps", server, label_selector="x=y")
    added = []
    informer.add_event_handler(ADDED, added.append)
    assert not informer.has_synced()

    informer.start()
    try:
        assert informer.wait_for_sync(timeout=5)
        assert informer.has_synced()
        assert informer.cache.get_by_key("demo/a") == config_map("a", "1")
        assert added == [config_map("a", "1")]
    finally:
        started = time.monotonic()
        informer.stop()
    assert time.monotonic() - started < 2  # a watch backoff does not hold the stop


def test_a_watch_that_fails_at_once_is_reopened_after_a_pause():
    server = FakeServer([])
    list_watch = ListWatch("configmaps", server, threading.Event())

    list_watch(watch=True)
    started = time.monotonic()
    list_watch(watch=True)  # the previous one ended immediately

    assert time.monotonic() - started >= 0.7


def site_owner(name, kind="StaticSite"):
    return {
        "apiVersion": "sites.example.com/v1alpha1",
        "kind": kind,
        "name": name,
        "uid": "u",
        "controller": True,
    }


class KeysCache:
    """A site cache with these keys."""

    def __init__(self, *keys):
        self.keys = list(keys)

    def get_by_key(self, key):
        return {"metadata": {}} if key in self.keys else None

    def list_keys(self):
        return list(self.keys)


def test_handlers_enqueue_the_site_or_the_site_controlling_a_child():
    keys = []
    child = {"metadata": {"name": "web-content", "namespace": "demo", "ownerReferences": [site_owner("web")]}}
    orphan = {"metadata": {"name": "lonely", "namespace": "demo"}}
    handler = ChildHandler("ConfigMap", keys.append, KeysCache())

    enqueue_site(keys.append, {"metadata": {"name": "web", "namespace": "demo"}})
    handler.on_change(ADDED, child)
    handler.on_change(ADDED, orphan)

    assert keys == ["demo/web", "demo/web"]


def test_a_reowned_child_enqueues_the_site_that_controlled_it_before():
    keys = []
    handler = ChildHandler("Service", keys.append, KeysCache())

    def service(owner):
        return {"metadata": {"name": "web", "namespace": "demo", "ownerReferences": [site_owner(owner)]}}

    handler.on_change(ADDED, service("a"))
    handler.on_change(MODIFIED, service("b"))  # re-owned: b's, and a hears of it
    handler.on_change(MODIFIED, service("b"))
    handler.on_change(MODIFIED, service("a b"))  # an owner no site can be: ignored, and b hears of it
    handler.on_change(DELETED, service("a b"))

    assert keys == ["demo/a", "demo/a", "demo/b", "demo/b", "demo/b"]


def registry(data):
    return {"metadata": {"name": "staticsite-registry", "namespace": "demo"}, "data": data}


def url(name):
    return f"http://{name}.demo.svc.cluster.local"


def test_a_registry_change_enqueues_the_sites_whose_key_is_missing_or_wrong():
    keys = []
    handler = ChildHandler("ConfigMap", keys.append, KeysCache("demo/a", "demo/b", "demo/1st", "other/c"))

    handler.on_change(ADDED, registry({"a": url("a"), "b": url("b")}))
    assert keys == []  # exact: nothing to do (1st is no Service name: it never holds a key)
    handler.on_change(MODIFIED, registry({"a": url("a")}))
    assert keys == ["demo/b"]


def test_a_stray_key_or_a_deleted_registry_enqueues_every_site_of_the_namespace():
    keys = []
    handler = ChildHandler("ConfigMap", keys.append, KeysCache("demo/a", "demo/b", "other/c"))

    handler.on_change(MODIFIED, registry({"a": url("a"), "b": url("b"), "gone": url("gone")}))
    assert sorted(keys) == ["demo/a", "demo/b"]
    keys.clear()
    handler.on_change(MODIFIED, registry({"a": url("a"), "b": "http://elsewhere"}))
    assert sorted(keys) == ["demo/a", "demo/b"]
    keys.clear()
    handler.on_change(DELETED, registry({"a": url("a"), "b": url("b")}))
    assert sorted(keys) == ["demo/a", "demo/b"]
