"""Track `advanced`: the registry is repaired at once, both ways (issue 10, item 5; SPEC.md, "The registry is
exact").

Sites a and b are Ready; then, by hand: the registry ConfigMap is deleted, a key is removed, a key gets another
value, a stray key is added. Each time the registry must be exact again (the keys of a and b with their URLs,
nothing else) well before the 10-minute resync could repair it: the controller watches the registry.
"""

from __future__ import annotations

import pytest
from advanced_fixtures import start
from controllers import REGISTRY, create_site, wait_ready
from kubernetes import client

from kube import wait_for

pytestmark = pytest.mark.track("advanced")

# Far below the resync (600 s): only a reaction to the registry's own events repairs it this soon. Generous
# for a loaded machine: a repair takes one event and one reconcile.
REPAIR_DEADLINE_SECONDS = 30


def test_registry_is_repaired_at_once(api, controllers, site_namespace, language, golden):
    core = client.CoreV1Api(api)
    start(controllers, language, site_namespace)
    for name in ("a", "b"):
        create_site(api, site_namespace, name)
    for name in ("a", "b"):
        wait_ready(api, site_namespace, name)
    exact = {name: f"http://{name}.{site_namespace}.svc.cluster.local" for name in ("a", "b")}

    def registry_data():
        try:
            return core.read_namespaced_config_map(REGISTRY, site_namespace).data or {}
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def wait_exact(after: str) -> None:
        wait_for(
            lambda: registry_data() == exact,
            timeout=REPAIR_DEADLINE_SECONDS,
            what=f"the registry to be exact again after {after}",
        )

    wait_exact("the sites became Ready")
    golden("exact", api, site_namespace, ["a", "b"])

    core.delete_namespaced_config_map(REGISTRY, site_namespace)
    wait_exact("its deletion")

    core.patch_namespaced_config_map(REGISTRY, site_namespace, {"data": {"a": None}})
    wait_exact("the removal of key a")

    core.patch_namespaced_config_map(REGISTRY, site_namespace, {"data": {"b": "http://elsewhere"}})
    wait_exact("another value for key b")

    core.patch_namespaced_config_map(REGISTRY, site_namespace, {"data": {"stray": "http://stray"}})
    wait_exact("a stray key")

    golden("repaired", api, site_namespace, ["a", "b"])
