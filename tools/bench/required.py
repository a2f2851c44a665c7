"""The API requests SPEC.md requires of a controller per site and phase: the floor's yardstick.

Derived from shared-manifests/SPEC.md for a valid site in a namespace of its own controller, with no
conflict, one replica and no one else writing (what the bench creates):

- create: the finalizer before anything else is written ("Finalizer and registry", step 3), the site's
  registry key (step 5), the three children by server-side apply (step 7), a ``Synced`` event (step 7), the
  status ``Progressing`` right after the applies (step 8: the Deployment was just written, it cannot be
  rolled out), then ``Available`` in a later reconcile once the Deployment has rolled out;
- update (new content): the two children whose fields changed (ConfigMap ``data``, the Deployment's
  content-hash annotation; the Service is unchanged and "compare before writing" skips it), the ``Synced``
  event, then the status ``Progressing`` for the new generation and ``Available`` once rolled out. In between,
  the rollout has one state with another ``readyReplicas``: the new pod ready while the old one still runs
  (surge, 2 of 1). SPEC has Deployment status changes update the site's status (its ``readyReplicas`` and
  message ``R/N replicas ready``), so a controller that sees that state writes ``Progressing`` with it; one that
  looks only later never sees it: at most one per site;
- delete: the registry key removed, then the finalizer removed; no child, no event.

Reads are in a table apart: a controller chooses how it learns what exists (caches, watches), except that SPEC
requires a live GET of each child absent from its label-selected cache before the applies (the conflict check: an
object it does not manage has no label, so no cache holds it): the three children of a new site. Events are counted
apart: SPEC writes them in the background, off the reconcile's path. Labels are the audit log's ``verb
resource[/subresource]`` (a server-side apply and a merge patch are both ``patch``; the registry ConfigMap is told
apart from the sites' own), so the table compares directly with the counts. The first site of a namespace also
creates the registry (a ``patch`` answered 404, then a ``create``): once per namespace, not per site, so not in the
table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.audit import REGISTRY_TARGET
from bench.phases import PHASES


@dataclass(frozen=True)
class Required:
    label: str  # the audit log's "verb resource[/subresource]"
    what: str  # the SPEC.md rule that asks for it


FINALIZER_ADD = Required("patch staticsites", "finalizer added, with the resourceVersion, before any other write")
# SPEC.md allows one merge patch to carry the registry keys of several sites of a namespace: per site, these two
# are "at most one" (the floor batches them as the Python reference does, bench/floor.py: Floor.keys).
REGISTRY_ADD = Required(
    f"patch {REGISTRY_TARGET}", "registry key `NAME: URL` (merge patch, may carry other sites' keys)"
)
APPLY_CONFIG_MAP = Required("patch configmaps", "ConfigMap `NAME-content` (server-side apply)")
APPLY_DEPLOYMENT = Required("patch deployments", "Deployment `NAME` (server-side apply)")
APPLY_SERVICE = Required("patch services", "Service `NAME` (server-side apply)")
PROGRESSING = Required("patch staticsites/status", "status `Ready=False/Progressing`, after the applies")
AVAILABLE = Required("patch staticsites/status", "status `Ready=True/Available`, once rolled out")
SURGE_READY = Required(
    "patch staticsites/status", "status `Progressing`, `2/1 replicas ready`, if the surge is seen (at most one)"
)
REGISTRY_REMOVE = Required(f"patch {REGISTRY_TARGET}", "registry key removed (`NAME: null`; may be batched too)")
FINALIZER_REMOVE = Required("patch staticsites", "finalizer removed, with the resourceVersion")
SYNCED_EVENT = "Synced event"

# Per site, in the order SPEC.md imposes within a site (the three applies are one step: SPEC puts them after
# the registry key and before the status, in no order among themselves, and the Go controller sends them at once).
REQUIRED: dict[str, tuple[Required, ...]] = {
    "create": (FINALIZER_ADD, REGISTRY_ADD, APPLY_CONFIG_MAP, APPLY_DEPLOYMENT, APPLY_SERVICE, PROGRESSING, AVAILABLE),
    "update": (APPLY_CONFIG_MAP, APPLY_DEPLOYMENT, PROGRESSING, SURGE_READY, AVAILABLE),
    "delete": (REGISTRY_REMOVE, FINALIZER_REMOVE),
}
# The reads SPEC requires per site: the live GETs of the children absent from the cache (a new site's three,
# answered 404), after the registry key and before the applies, at once among themselves.
REQUIRED_READS: dict[str, tuple[Required, ...]] = {
    "create": tuple(
        Required(f"get {plural}", f"live GET of the new site's {kind} (absent from the cache: the conflict check)")
        for kind, plural in (("ConfigMap", "configmaps"), ("Deployment", "deployments"), ("Service", "services"))
    ),
    "update": (),
    "delete": (),
}
# Events per site, counted apart from the writes above.
REQUIRED_EVENTS: dict[str, int] = {"create": 1, "update": 1, "delete": 0}

assert set(REQUIRED) == set(PHASES) == set(REQUIRED_EVENTS) == set(REQUIRED_READS)


def required_counts(phase: str) -> dict[str, int]:
    """Per site: {"patch configmaps": 2, ...} for ``phase``, Events excluded."""
    return dict(Counter(request.label for request in REQUIRED[phase]))


def required_writes(phase: str) -> int:
    return len(REQUIRED[phase])
