"""Hostile object fields are data, never syntax: owner names no StaticSite can have, from the list the three
languages share (shared-manifests/testdata/hostile-owner-names.json), go through the informer's handlers."""

import json
import logging
from pathlib import Path

import pytest
from kubernetes.informer import ADDED, DELETED, MODIFIED

from controller_examples.advanced.informer import ChildHandler, is_dns_1123_subdomain, is_site_key

NAMES_FILE = Path(__file__).parents[3] / "shared-manifests" / "testdata" / "hostile-owner-names.json"
HOSTILE = [entry["name"] for entry in json.loads(NAMES_FILE.read_text())["names"]]


class EmptySites:
    def get_by_key(self, key):
        return None

    def list_keys(self):
        return []


def child(name, owner):
    reference = {"apiVersion": "sites.example.com/v1alpha1", "kind": "StaticSite", "name": owner, "uid": "x"}
    return {"metadata": {"name": name, "namespace": "demo", "ownerReferences": [{**reference, "controller": True}]}}


def test_the_shared_list_has_the_names_the_issue_asks_for():
    assert {"a b", "a\nb", "../victim", "été"} <= set(HOSTILE)
    assert any("$(" in name for name in HOSTILE) and any('"' in name for name in HOSTILE)


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_no_hostile_owner_name_is_a_site_name(name):
    assert not is_dns_1123_subdomain(name)
    assert not is_site_key(f"demo/{name}")


def test_hostile_owners_enqueue_nothing_and_are_logged_once_each(caplog):
    keys = []
    handler = ChildHandler("ConfigMap", keys.append, EmptySites())
    children = [child(f"child-{i}", name) for i, name in enumerate(HOSTILE)]

    with caplog.at_level(logging.WARNING):
        for event_type in (ADDED, MODIFIED, MODIFIED):  # seen again: an update, a re-list
            for obj in children:
                handler.on_change(event_type, obj)

    assert keys == []
    ignored = [record.getMessage() for record in caplog.records if "ignoring ConfigMap" in record.getMessage()]
    assert len(ignored) == len(HOSTILE)
    assert all("\n" not in line for line in ignored)  # one line each: the name is quoted (repr)


def test_an_owner_that_turns_valid_is_enqueued_and_one_that_turns_hostile_again_is_logged_again(caplog):
    keys = []
    handler = ChildHandler("Deployment", keys.append, EmptySites())
    with caplog.at_level(logging.WARNING):
        handler.on_change(ADDED, child("web", "a b"))
        handler.on_change(MODIFIED, child("web", "site-a"))
        handler.on_change(MODIFIED, child("web", "a b"))
        handler.on_change(DELETED, child("web", "a b"))
        handler.on_change(ADDED, child("web", "a b"))  # a new object of the same name
    assert keys == ["demo/site-a", "demo/site-a"]  # the second: site-a's child was taken from it
    assert len([r for r in caplog.records if "ignoring Deployment demo/web" in r.getMessage()]) == 3


@pytest.mark.parametrize("name", ["a", "site-a", "a.b", "1site", "a" * 253])
def test_valid_owner_names_are_site_keys(name):
    keys = []
    ChildHandler("Service", keys.append, EmptySites()).on_change(ADDED, child("svc", name))
    assert keys == [f"demo/{name}"]
