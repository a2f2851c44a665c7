"""The StaticSite API (shared-manifests/crd/staticsite.yaml) as the controller sees it.

Sites are handled as plain dicts, decoded from the API server's JSON: the client has no model for a custom
resource, and for the built-in kinds we prefer the JSON too (see `api`). A site is named by its *key*,
"namespace/name": the unit the work queue, the informer caches and the reconciler share, like client-go's
`MetaNamespaceKeyFunc`.
"""

import re
from typing import Any

GROUP = "sites.example.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "StaticSite"
PLURAL = "staticsites"
FINALIZER = f"{GROUP}/registry"

# RFC 1035 label, the rule for Service names: a StaticSite name may be any DNS-1123 subdomain ("1site",
# "a.b"), which is not always a valid Service name, and no schema rule can check metadata.name.
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_MAX_LENGTH = 63


def site_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def object_key(obj: dict[str, Any]) -> str:
    metadata = obj["metadata"]
    return site_key(metadata["namespace"], metadata["name"])


def site_url(namespace: str, name: str) -> str:
    """Where the site is served inside the cluster: its Service's DNS name."""
    return f"http://{name}.{namespace}.svc.cluster.local"


def is_dns_1035_label(name: str) -> bool:
    return len(name) <= _DNS_1035_MAX_LENGTH and _DNS_1035_LABEL.fullmatch(name) is not None
