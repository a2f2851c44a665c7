"""The registry: one ConfigMap per namespace listing its sites (`NAME: URL`), kept by the finalizer.

It is the example of state *outside* a site's own children: garbage collection cannot clean it up (the
ConfigMap belongs to the namespace, not to any one site), so the controller puts a finalizer on each site
and removes the site's key itself before it lets the site go.

Several workers reconcile different sites of one namespace at the same time, so nobody may write the
whole ConfigMap: each key is added (`{"data": {NAME: URL}}`) or removed (`{"data": {NAME: null}}`) with a
JSON merge patch, which the API server applies to the current object, so concurrent patches of different
keys never overwrite each other.

The registry is exact: its keys are the namespace's sites, no more, no less. Someone may delete it or edit
it by hand, so the controller watches it (informer.py): a change queues the sites whose key is missing or
wrong (`sites_to_repair`), and each reconcile adds its site's key and removes stray keys (`stray_keys`) in
one merge patch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from controller_examples.advanced.api import KubeApi, is_not_found
from controller_examples.advanced.site import (
    APP_NAME,
    MANAGED_BY_LABEL,
    MANAGER_NAME,
    NAME_LABEL,
    REGISTRY_NAME,
    Object,
    is_dns_1035_label,
    site_key,
    site_url,
)

if TYPE_CHECKING:  # informer.py imports this module: only the type, no import at run time
    from controller_examples.advanced.informer import Cache


def cached_registry(config_maps: Cache, namespace: str) -> Object | None:
    """The namespace's registry from the ConfigMap cache (the registry is labelled, so cached)."""
    return config_maps.get_by_key(site_key(namespace, REGISTRY_NAME))


def has_entry(registry: Object | None, name: str, url: str) -> bool:
    """True when the registry already maps `name` to `url`."""
    return ((registry or {}).get("data") or {}).get(name) == url


def cached_site_names(sites: Cache, namespace: str) -> list[str]:
    """The names of the namespace's sites in the site cache."""
    prefix = site_key(namespace, "")
    return [key.removeprefix(prefix) for key in sites.list_keys() if key.startswith(prefix)]


def stray_keys(registry: Object | None, site_names: Iterable[str]) -> list[str]:
    """The registry's keys that no site holds: no cached site has that name, or no site's key can have it.

    A site whose name is not a Service name never gets a key (it stops at InvalidSpec). A key whose site is
    being deleted is not stray: its finalizer removes it. A site created a moment ago is cached before its
    reconcile adds its key (the informer caches a site, then queues it), so this process never takes a
    live site's key for a stray; a key written by another process from a fresher cache may be, until that
    site's own event here adds it back.
    """
    names = set(site_names)
    data = (registry or {}).get("data") or {}
    return sorted(key for key in data if key not in names or not is_dns_1035_label(key))


def sites_to_repair(registry: Object | None, namespace: str, site_names: Iterable[str]) -> list[str]:
    """The sites to reconcile after the registry (None: deleted) changed: those whose key is missing or wrong,
    or all of them when it may hold a stray key. Only sites with a Service name hold a key.

    Queueing every site at every change would make a namespace of N new sites cost N * N reconciles: each
    key a reconcile adds is a change of the registry.
    """
    names = [name for name in site_names if is_dns_1035_label(name)]
    data = (registry or {}).get("data") or {}
    good = {key for key, value in data.items() if is_dns_1035_label(key) and value == site_url(namespace, key)}
    if registry is None or len(good) < len(data) or not good <= set(names):
        return names
    return [name for name in names if name not in good]


def add_entry(api: KubeApi, namespace: str, name: str, url: str, stray: Iterable[str] = ()) -> None:
    """Add or correct the site's key, and remove the stray keys, in one merge patch; create the registry
    when the namespace has none yet."""
    try:
        api.patch_config_map(namespace, REGISTRY_NAME, {"data": {name: url, **dict.fromkeys(stray)}})
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
