"""Track `advanced`: a child taken away by hand is never taken back by force.

The controller writes its children with a forced server-side apply, so it
must check, on the very object it is about to write, that the site controls it
(a controller ownerReference with the site's uid). Here a Ready site's
Deployment is re-owned by hand to another site and edited: the site reports
``ChildConflict`` and the Deployment stays exactly as the hand left it; once
handed back, the drift is repaired.
"""

from __future__ import annotations

import copy
import itertools
import time

import pytest
from advanced_fixtures import start
from controllers import create_site, get_site, ready_condition, wait_ready
from kubernetes import client

from kube import wait_for

pytestmark = pytest.mark.track("advanced")

MERGE = "application/merge-patch+json"  # replaces the ownerReferences list (a strategic merge would add to it)


def owner_reference(site: dict) -> dict:
    return {
        "apiVersion": site["apiVersion"],
        "kind": site["kind"],
        "name": site["metadata"]["name"],
        "uid": site["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def by_hand(deployment: client.V1Deployment) -> tuple:
    """What the hand set, and the controller would change if it took the Deployment back."""
    meta = deployment.metadata
    return meta.labels, [ref.to_dict() for ref in meta.owner_references or []], deployment.spec.replicas


def test_a_child_re_owned_by_hand_is_a_conflict_left_untouched(api, controllers, site_namespace, language):
    apps = client.AppsV1Api(api)
    start(controllers, language, site_namespace)
    create_site(api, site_namespace, "owned")
    create_site(api, site_namespace, "other")
    wait_ready(api, site_namespace, "owned")
    other = wait_ready(api, site_namespace, "other")

    # By hand: the Deployment `owned` now belongs to the site `other`, with 3 replicas (drift, were it ours).
    deployment = apps.read_namespaced_deployment("owned", site_namespace)
    patch = {"metadata": {"ownerReferences": [owner_reference(other)]}, "spec": {"replicas": 3}}
    left = by_hand(apps.patch_namespaced_deployment("owned", site_namespace, patch, _content_type=MERGE))
    # The Deployment's events now lead to `other`; a change of `owned` itself makes it reconcile. If that
    # reconcile reads a cache the Deployment's change has not reached yet, it sees nothing to do, and no
    # event of the Deployment leads back to `owned`: touch it again (each second) until it reports.
    touches = itertools.count()
    last_touch = 0.0

    def touch_until_reported():
        nonlocal last_touch
        if time.monotonic() - last_touch >= 1:
            last_touch = time.monotonic()
            annotation = {"example.com/touched": str(next(touches))}
            client.CustomObjectsApi(api).patch_namespaced_custom_object(
                "sites.example.com", "v1alpha1", site_namespace, "staticsites", "owned",
                {"metadata": {"annotations": annotation}},
            )  # fmt: skip
        return ready_condition(get_site(api, site_namespace, "owned")).get("reason") == "ChildConflict"

    wait_for(touch_until_reported, timeout=120, what="site owned to report ChildConflict")
    site = wait_ready(api, site_namespace, "owned", reason="ChildConflict")
    assert ready_condition(site)["message"] == "Deployment owned exists and is not controlled by this StaticSite"
    assert by_hand(apps.read_namespaced_deployment("owned", site_namespace)) == left
    wait_ready(api, site_namespace, "other")  # the new owner does not care for a Deployment not named after it

    # Handed back: the drift is repaired (replicas back to the site's 1).
    mine = copy.deepcopy(deployment.metadata.owner_references[0].to_dict())
    handed_back = {"metadata": {"ownerReferences": [_camel(mine)]}}
    apps.patch_namespaced_deployment("owned", site_namespace, handed_back, _content_type=MERGE)
    wait_ready(api, site_namespace, "owned", ready_replicas=1, timeout=180)  # after the conflict's backoff
    wait_for(
        lambda: apps.read_namespaced_deployment("owned", site_namespace).spec.replicas == 1,
        timeout=60,
        what="the Deployment's replicas repaired",
    )
    assert get_site(api, site_namespace, "other") is not None


def _camel(reference: dict) -> dict:
    return {
        "apiVersion": reference["api_version"],
        "kind": reference["kind"],
        "name": reference["name"],
        "uid": reference["uid"],
        "controller": reference["controller"],
        "blockOwnerDeletion": reference["block_owner_deletion"],
    }
