"""The registry: one ConfigMap per namespace listing its sites (`NAME: URL`), kept by the finalizer.

It is the example of state *outside* a site's own children: garbage collection cannot clean it up (the
ConfigMap belongs to the namespace, not to any one site), so the controller puts a finalizer on each site
and removes the site's key itself before it lets the site go.

Several workers reconcile different sites of one namespace at the same time, so nobody may write the
whole ConfigMap: each key is added (`{"data": {NAME: URL}}`) or removed (`{"data": {NAME: null}}`) with a
JSON merge patch, which the API server applies to the current object, so concurrent patches of different
keys never overwrite each other.
"""

from typing import Any

from controller_examples.advanced.api import KubeApi, is_not_found
from controller_examples.advanced.children import APP_NAME, MANAGED_BY_LABEL, MANAGER_NAME, NAME_LABEL
from controller_examples.advanced.informer import Cache
from controller_examples.advanced.site import site_key

REGISTRY_NAME = "staticsite-registry"

Object = dict[str, Any]


def has_entry(config_maps: Cache, namespace: str, name: str, url: str) -> bool:
    """True when the cached registry already maps `name` to `url` (the registry is labelled, so cached)."""
    registry = config_maps.get_by_key(site_key(namespace, REGISTRY_NAME)) or {}
    return (registry.get("data") or {}).get(name) == url


def add_entry(api: KubeApi, namespace: str, name: str, url: str) -> None:
    """Add or correct the site's key, creating the registry when the namespace has none yet."""
    try:
        api.patch_config_map(namespace, REGISTRY_NAME, {"data": {name: url}})
    except Exception as error:
        if not is_not_found(error):
            raise
        # Two workers may both get here; the second create fails with 409 and its retry patches.
        api.create_config_map(namespace, _registry(namespace, {name: url}))


def remove_entry(api: KubeApi, namespace: str, name: str) -> None:
    """Remove the site's key; a missing registry counts as removed (and creating one is not needed)."""
    try:
        api.patch_config_map(namespace, REGISTRY_NAME, {"data": {name: None}})
    except Exception as error:
        if not is_not_found(error):
            raise


def _registry(namespace: str, data: dict[str, str]) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # No ownerReference: it belongs to the namespace, not to a site.
        "metadata": {
            "name": REGISTRY_NAME,
            "namespace": namespace,
            "labels": {NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: MANAGER_NAME},
        },
        "data": data,
    }
