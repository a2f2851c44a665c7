"""The reconciler: make the cluster match one StaticSite, whatever happened before.

A controller is *level-based*: the work queue hands the reconciler a key ("namespace/name"), never an
event, so it cannot know what changed, and does not need to. It reads the site's current state from the
informer cache, computes what the cluster should look like, and repairs any difference. Run twice in a row,
the second run finds nothing to do and writes nothing. That is what makes retries, restarts, resyncs and
missed events harmless: the next reconcile fixes whatever the last one left.

The numbered steps below are shared-manifests/SPEC.md's "Reconcile, step by step".

`reconcile` returns normally when the site is as it should be (or cannot be fixed by retrying, like an
invalid name), and raises when it should be retried. It never retries by itself: the retry policy (per-key
exponential backoff) belongs to the work queue, and `queue.Workers.handle_error` applies it, as in
client-go's workqueue example controller.
"""

import copy
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime

from kubernetes.client import ApiException

from controller_examples.advanced.api import KubeApi, is_not_found
from controller_examples.advanced.children import (
    CHILD_KINDS,
    CONFIG_MAP_MAX_BYTES,
    LastApplied,
    child_name,
    content_size,
    desired_children,
    first_conflict,
    is_controlled_by,
    needs_apply,
)
from controller_examples.advanced.events import NORMAL, WARNING, Recorder
from controller_examples.advanced.informer import Caches
from controller_examples.advanced.registry import (
    RegistryWriter,
    cached_registry,
    cached_site,
    has_entry,
    stray_keys,
)
from controller_examples.advanced.site import FINALIZER, SYNCED, Object, is_dns_1035_label, site_key, site_url
from controller_examples.advanced.status import (
    Verdict,
    conflict_verdict,
    desired_status,
    invalid_name_verdict,
    ready_replicas,
    refused_child_verdict,
    rollout_verdict,
    status_differs,
    too_large_verdict,
)
from controller_examples.common.errors import server_message

# The most requests one reconcile has in flight at once: its three look-ups (with the registry patch),
# or its three applies. The manager sizes the request pool and the connection pool with it.
PARALLEL_REQUESTS = len(CHILD_KINDS) + 1


class ChildConflictError(Exception):
    """A child's name is taken by an object this site does not control. Retried with backoff until it is gone."""


class ChildRefusedError(Exception):
    """The API server refused a child as invalid (422): the spec asks for what cannot be. Not retried."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        super().__init__(f"{kind} {name}: {reason}")
        self.kind, self.name, self.reason = kind, name, reason


class Reconciler:
    def __init__(
        self,
        api: KubeApi,
        caches: Caches,
        recorder: Recorder,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        requests: Executor | None = None,
    ) -> None:
        self._api = api
        self._caches = caches
        self._recorder = recorder
        self._now = now
        # The threads that send one reconcile's independent requests at once (a shared pool: the manager
        # sizes it for every worker).
        self._requests = requests or ThreadPoolExecutor(PARALLEL_REQUESTS, thread_name_prefix="request")
        self._last_applied = LastApplied()
        self._registry = RegistryWriter(api)

    def reconcile(self, key: str) -> None:
        """Bring the site `key` and its children to the desired state; raise if it should be retried."""
        # 1. Get the site from the informer cache. Gone: nothing to do (its finalizer already cleaned up).
        cached = self._caches.sites.get_by_key(key)
        if cached is None:
            return
        # The cache's objects are shared with the informer and the other workers: never modify them.
        site = copy.deepcopy(cached)

        # 2. Being deleted: finalize and stop. Garbage collection deletes the children.
        if site["metadata"].get("deletionTimestamp"):
            self._finalize(site)
            return

        # 3. Ensure the finalizer, before writing anything it will have to clean up.
        site = self._ensure_finalizer(site)

        # 4. Validate what the schema cannot (or what an older schema let in: the content size rule came
        # later). Retrying would not help: the next spec change re-enqueues it.
        name = site["metadata"]["name"]
        if not is_dns_1035_label(name):
            self._report_problem(site, invalid_name_verdict(name), deployment=None)
            return
        size = content_size(site["spec"]["content"])
        if size > CONFIG_MAP_MAX_BYTES:
            self._report_problem(site, too_large_verdict(size), deployment=None)
            return

        # 5. and 6. Ensure the site's key in the namespace's registry, while looking up the three children
        # (reads: they may overlap the registry write, which still precedes every child's write); refuse to
        # touch an object that is not ours.
        registry = self._requests.submit(self._ensure_registry_entry, site)
        children = self._look_up_children(site)
        registry.result()
        self._refuse_conflict(site, children)

        # 7. Apply the children that are missing or drifted. One the API server refuses as invalid (422) is
        # the spec's fault, like an invalid name: reported, not retried (a retry would be refused the same).
        try:
            deployment = self._apply_children(site, children)
        except ChildRefusedError as refused:
            verdict = refused_child_verdict(refused.kind, refused.name, refused.reason)
            self._report_problem(site, verdict, deployment=self._own_deployment(site, children))
            return

        # 8. Compute and write the status.
        self._write_status(site, rollout_verdict(site, deployment), deployment)

    # ----- steps 2 and 3: the finalizer --------------------------------------------------------------
    def _finalize(self, site: Object) -> None:
        """Remove the site's registry key, then its finalizer, so the API server can delete it."""
        # exercise: finalizer begin
        metadata = site["metadata"]
        finalizers = metadata.get("finalizers") or []
        if FINALIZER not in finalizers:
            return  # already finalized; another finalizer is holding the site
        # Always patched, never checked in the cache first: a key added a moment ago may not be cached yet.
        self._registry.remove_entry(metadata["namespace"], metadata["name"])
        try:
            self._patch_finalizers(site, [finalizer for finalizer in finalizers if finalizer != FINALIZER])
        except Exception as error:
            if not is_not_found(error):  # gone: an earlier pass finalized it and the cache had not seen it yet
                raise
        self._last_applied.forget_site(metadata["namespace"], metadata["name"])
        # exercise: finalizer end

    def _ensure_finalizer(self, site: Object) -> Object:
        finalizers = site["metadata"].get("finalizers") or []
        if FINALIZER in finalizers:
            return site
        return self._patch_finalizers(site, [*finalizers, FINALIZER])

    def _patch_finalizers(self, site: Object, finalizers: list[str]) -> Object:
        """Set metadata.finalizers; returns the updated site.

        A merge patch replaces the whole list, so it carries the resourceVersion we read: if the site
        changed since (someone else added or removed a finalizer), the API server answers 409 Conflict
        and the retry starts from the new list, instead of silently dropping the other change.
        """
        metadata = site["metadata"]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": metadata["resourceVersion"]}}
        return self._api.patch_site(metadata["namespace"], metadata["name"], patch)

    # ----- step 5: the registry ---------------------------------------------------------------------
    def _ensure_registry_entry(self, site: Object) -> None:
        """The site's key, and no stray key: the registry's keys are exactly the namespace's sites."""
        namespace, name = site["metadata"]["namespace"], site["metadata"]["name"]
        url = site_url(namespace, name)
        registry = cached_registry(self._caches.children["ConfigMap"], namespace)
        stray = stray_keys(registry, cached_site(self._caches.sites, namespace))
        if stray or not has_entry(registry, name, url):
            self._registry.add_entry(namespace, name, url, stray)

    # ----- steps 6 and 7: the children --------------------------------------------------------------
    def _look_up_children(self, site: Object) -> dict[str, Object | None]:
        """Each child as the cache (or our last apply) shows it; those missing from the cache, GET all at once.

        The caches hold only objects labelled managed-by=staticsite-controller: one that is missing may
        still exist unlabelled (someone else's: a conflict), which only a live GET can tell.
        """
        namespace, site_name = site["metadata"]["namespace"], site["metadata"]["name"]
        names = {kind: child_name(kind, site_name) for kind in CHILD_KINDS}
        children = {kind: self._cached_child(kind, namespace, name) for kind, name in names.items()}
        gets = {
            kind: self._requests.submit(self._api.get, kind, namespace, names[kind])
            for kind, child in children.items()
            if child is None
        }
        children.update({kind: get.result() for kind, get in gets.items()})
        return children

    def _cached_child(self, kind: str, namespace: str, name: str) -> Object | None:
        """The child from the cache, or what our last apply returned when the cache has not caught up with it."""
        cached = self._caches.children[kind].get_by_key(site_key(namespace, name))
        return None if cached is None else self._last_applied.fresher(kind, cached)

    def _refuse_conflict(self, site: Object, children: dict[str, Object | None]) -> None:
        """Raise ChildConflictError (after the status and event) if a child exists that the site does not control."""
        conflict = first_conflict(site, children)
        if conflict is not None:
            verdict = conflict_verdict(*conflict)
            self._report_problem(site, verdict, deployment=self._own_deployment(site, children))
            raise ChildConflictError(verdict.message)

    def _apply_children(self, site: Object, children: dict[str, Object | None]) -> Object | None:
        """Apply every child that is missing or drifted, all at once; returns the Deployment as it now is.

        Raises ChildRefusedError when the API server refuses a child as invalid (after the Synced event
        for those it accepted), or the first other error (a retry then applies what is still missing).
        """
        stale = [desired for desired in desired_children(site) if needs_apply(desired, children[desired["kind"]])]
        applies = {desired["kind"]: self._requests.submit(self._apply, desired) for desired in stale}
        applied, errors = [], []
        for desired in stale:  # in CHILD_KINDS order: the Synced message and the first error are stable
            kind = desired["kind"]
            try:
                children[kind] = applies[kind].result()
            except Exception as error:
                errors.append(error)
            else:
                applied.append(f"{kind} {desired['metadata']['name']}")
        if applied:
            self._recorder.record(site, NORMAL, SYNCED, "applied " + ", ".join(applied))
        # A transient failure is retried first: the retry meets a refusal again and reports it then.
        errors.sort(key=lambda error: isinstance(error, ChildRefusedError))
        if errors:
            raise errors[0]
        return children["Deployment"]

    def _apply(self, desired: Object) -> Object:
        try:
            applied = self._api.apply(desired)
        except ApiException as error:
            if error.status == 422:
                raise ChildRefusedError(desired["kind"], desired["metadata"]["name"], server_message(error)) from error
            raise
        self._last_applied.remember(desired["kind"], applied)
        return applied

    @staticmethod
    def _own_deployment(site: Object, children: dict[str, Object | None]) -> Object | None:
        deployment = children["Deployment"]
        return deployment if deployment is not None and is_controlled_by(deployment, site) else None

    # ----- steps 4, 6 and 8: the status -------------------------------------------------------------
    def _report_problem(self, site: Object, verdict: Verdict, deployment: Object | None) -> None:
        """Set Ready=False for a problem; the Warning event (its reason the condition's) goes with the change of
        status, not every retry."""
        if self._write_status(site, verdict, deployment):
            self._recorder.record(site, WARNING, verdict.reason, verdict.message)

    def _write_status(self, site: Object, verdict: Verdict, deployment: Object | None) -> bool:
        """Write the status through the status subresource if it changed; returns whether it did."""
        status = desired_status(site, verdict, ready_replicas(deployment), self._now())
        if not status_differs(site, status):
            return False
        metadata = site["metadata"]
        self._api.patch_site_status(metadata["namespace"], metadata["name"], {"status": status})
        return True
