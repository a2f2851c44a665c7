"""The StaticSite API (shared-manifests/crd/staticsite.yaml) as the controller sees it, and its vocabulary.

Every constant the controller shares with the cluster lives here, once: the API's group, version and
names, the finalizer, the labels and field manager of its children, the condition and event reasons, and
the rule that turns a site into its URL. The other modules import them from here.

Sites are handled as plain dicts, decoded from the API server's JSON: the client has no model for a custom
resource, and for the built-in kinds we prefer the JSON too (see `api`). A site is named by its *key*,
"namespace/name": the unit the work queue, the informer caches and the reconciler share, like client-go's
`MetaNamespaceKeyFunc`.
"""

import re
from typing import Any

# An object as the API server sent it: decoded JSON. One alias for every module of the controller.
Object = dict[str, Any]

GROUP = "sites.example.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "StaticSite"
PLURAL = "staticsites"
FINALIZER = f"{GROUP}/registry"

# The controller's name: its children's managed-by label, its server-side apply field manager, and the
# source of its events.
MANAGER_NAME = "staticsite-controller"
FIELD_MANAGER = MANAGER_NAME

# The labels every child (and the registry) carries; the informers select on managed-by.
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
APP_NAME = "staticsite"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER_NAME}"  # what the children's informers list and watch

# The namespace's list of sites (registry.py).
REGISTRY_NAME = "staticsite-registry"

# The Ready condition and its reasons; the Warning events use the same reasons (SPEC.md, Status and Events).
READY = "Ready"
AVAILABLE = "Available"
PROGRESSING = "Progressing"
CHILD_CONFLICT = "ChildConflict"
INVALID_SPEC = "InvalidSpec"
# The Normal event of a reconcile that wrote children.
SYNCED = "Synced"

# RFC 1035 label, the rule for Service names: a StaticSite name may be any DNS-1123 subdomain ("1site",
# "a.b"), which is not always a valid Service name, and no schema rule can check metadata.name.
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_MAX_LENGTH = 63


def site_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def object_key(obj: Object) -> str:
    metadata = obj["metadata"]
    return site_key(metadata["namespace"], metadata["name"])


def site_url(namespace: str, name: str) -> str:
    """Where the site is served inside the cluster: its Service's DNS name."""
    return f"http://{name}.{namespace}.svc.cluster.local"


def is_dns_1035_label(name: str) -> bool:
    return len(name) <= _DNS_1035_MAX_LENGTH and _DNS_1035_LABEL.fullmatch(name) is not None
