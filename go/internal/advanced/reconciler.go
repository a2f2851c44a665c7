package advanced

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// The reconciler: make the cluster match one StaticSite, whatever happened
// before.
//
// A controller is level-based: the work queue hands the reconciler a key
// ("namespace/name"), never an event, so it cannot know what changed, and
// does not need to. It reads the site's current state from the informer
// cache, computes what the cluster should look like, and repairs any
// difference. Run twice in a row, the second run finds nothing to do and
// writes nothing. That is what makes retries, restarts, resyncs and missed
// events harmless: the next reconcile fixes whatever the last one left.
//
// The numbered steps in Reconcile are shared-manifests/SPEC.md's
// "Reconcile, step by step".
//
// Reconcile returns nil when the site is as it should be (or cannot be fixed
// by retrying, like an invalid name), and an error when it should be
// retried. It never retries by itself: the retry policy (per-key exponential
// backoff) belongs to the work queue, and the workers' handleErr applies it,
// as in sample-controller.

// Reconciler reconciles sites. Reads come from the informers' caches; its
// requests to the API server are in api.go, its events go through Recorder.
type Reconciler struct {
	Kube     kubernetes.Interface
	Sites    dynamic.NamespaceableResourceInterface // the dynamic client for SiteResource
	Caches   Caches
	Recorder record.EventRecorder
	Now      func() metav1.Time // the clock of lastTransitionTime; metav1.Now when nil

	// applied holds, by child (appliedKey), the object the controller's last
	// apply of it returned, until the cache has caught up with it (latest).
	applied sync.Map
	// registry writes the registry keys, several sites' in one patch when
	// they wait at the same time (registry.go).
	registry registryWriter
}

// ChildConflictError is returned when a child's name is taken by an object
// the site does not control. The key is retried with backoff until the
// object is gone.
type ChildConflictError struct{ Message string }

func (e *ChildConflictError) Error() string { return e.Message }

// childRefusedError is returned by applyChildren when the API server refuses
// a child as invalid (422): the spec asks for what cannot be. Reconcile
// reports it and does not retry.
type childRefusedError struct{ Kind, Name, Reason string }

func (e *childRefusedError) Error() string { return e.Kind + " " + e.Name + ": " + e.Reason }

// Reconcile brings the site named by key ("namespace/name") and its children
// to the desired state; an error means "retry".
func (r *Reconciler) Reconcile(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we made: retrying would not help
	}

	// 1. Get the site from the informer cache. Gone: nothing to do (its
	// finalizer already cleaned up). siteFrom converts it into a new object:
	// the cache's objects are shared with the informer and the other workers,
	// and must never be modified.
	cached, err := r.Caches.Sites.ByNamespace(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		r.forget(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	site, err := siteFrom(cached.(*unstructured.Unstructured))
	if err != nil {
		return err
	}

	// 2. Being deleted: finalize and stop. Garbage collection deletes the children.
	if site.DeletionTimestamp != nil {
		return r.finalize(ctx, site)
	}

	// 3. Ensure the finalizer, before writing anything it will have to clean up.
	if site, err = r.ensureFinalizer(ctx, site); err != nil {
		return err
	}

	// 4. Validate what the schema cannot (or what an older schema let in:
	// the content size rule came later). Retrying would not help: the next
	// spec change re-enqueues the site.
	if !isServiceName(site.Name) {
		return r.reportProblem(ctx, site, invalidNameVerdict(site.Name), nil)
	}
	if size := contentSize(site.Spec.Content); size > ConfigMapMaxBytes {
		return r.reportProblem(ctx, site, tooLargeVerdict(size), nil)
	}

	// 5. Ensure the site's key in the namespace's registry.
	if err := r.ensureRegistryEntry(ctx, site); err != nil {
		return err
	}

	// 6. Look up the three children (those missing from the cache with live
	// GETs, at the same time); refuse to touch an object that is not ours.
	children, err := r.lookUpChildren(ctx, site)
	if err != nil {
		return err
	}
	if err := r.refuseConflict(ctx, site, children); err != nil {
		return err
	}

	// 7. Apply the children that are missing or drifted (at the same time).
	// One the API server refuses as invalid (422) is the spec's fault, like
	// an invalid name: reported, not retried (a retry would be refused the same).
	deployment, err := r.applyChildren(ctx, site, children)
	var refused *childRefusedError
	if errors.As(err, &refused) {
		verdict := refusedChildVerdict(refused.Kind, refused.Name, refused.Reason)
		return r.reportProblem(ctx, site, verdict, ownDeployment(site, children))
	}
	if err != nil {
		return err
	}

	// 8. Compute and write the status.
	_, err = r.writeStatus(ctx, site, rolloutVerdict(site, deployment), deployment)
	return err
}

// ----- steps 2 and 3: the finalizer ---------------------------------------

// finalize removes the site's registry key, then its finalizer.
func (r *Reconciler) finalize(ctx context.Context, site *StaticSite) error {
	// exercise: finalizer begin
	if !slices.Contains(site.Finalizers, Finalizer) {
		return nil // already finalized; another finalizer is holding the site
	}
	// Always patched, never checked in the cache first: a key added a moment
	// ago may not be cached yet.
	if err := r.registry.remove(ctx, r.Kube.CoreV1(), site.Namespace, site.Name); err != nil {
		return err
	}
	r.forget(site.Namespace, site.Name)
	remaining := slices.DeleteFunc(slices.Clone(site.Finalizers), func(f string) bool { return f == Finalizer })
	_, err := r.patchFinalizers(ctx, site, remaining)
	if apierrors.IsNotFound(err) {
		return nil // gone meanwhile: nothing left to hold
	}
	return err
	// exercise: finalizer end
}

func (r *Reconciler) ensureFinalizer(ctx context.Context, site *StaticSite) (*StaticSite, error) {
	if slices.Contains(site.Finalizers, Finalizer) {
		return site, nil
	}
	return r.patchFinalizers(ctx, site, append(slices.Clone(site.Finalizers), Finalizer))
}

// ----- step 5: the registry -----------------------------------------------

// ensureRegistryEntry: the site's key, and no stray key (the registry's keys
// are exactly the namespace's sites).
func (r *Reconciler) ensureRegistryEntry(ctx context.Context, site *StaticSite) error {
	url := siteURL(site.Namespace, site.Name)
	registry := cachedRegistry(r.Caches.ConfigMaps, site.Namespace)
	stray := strayRegistryKeys(registry, cachedSite(r.Caches.Sites, site.Namespace))
	if len(stray) == 0 && registry != nil && registry.Data[site.Name] == url {
		return nil
	}
	return r.registry.add(ctx, r.Kube.CoreV1(), site.Namespace, site.Name, url, stray)
}

// ----- steps 6 and 7: the children ----------------------------------------

// childSet holds the site's children in childKinds order; a missing child is nil.
type childSet []metav1.Object

// lookUpChildren finds each child in the cache, else with a live GET. The
// caches hold only objects labelled managed-by=staticsite-controller: one
// that is missing may still exist unlabelled (someone else's: a conflict),
// which only a live GET can tell. The GETs (all three for a new site) are
// independent, so they are sent at the same time.
func (r *Reconciler) lookUpChildren(ctx context.Context, site *StaticSite) (childSet, error) {
	children := make(childSet, len(childKinds))
	errs := make([]error, len(childKinds))
	var missing []int
	for i, kind := range childKinds {
		name := childName(kind.name, site.Name)
		cached, err := kind.cached(r.Caches, site.Namespace, name)
		switch {
		case apierrors.IsNotFound(err):
			r.applied.Delete(appliedKey(kind, site.Namespace, name))
			missing = append(missing, i)
		case err != nil:
			return nil, err
		default:
			children[i] = r.latest(kind, cached)
		}
	}
	concurrently(missing, func(i int) {
		children[i], errs[i] = r.getChild(ctx, childKinds[i], site.Namespace, childName(childKinds[i].name, site.Name))
	})
	return children, errors.Join(errs...)
}

// latest is the freshest object the controller knows for a cached child:
// the cached one, or the one its own last apply returned while the cache
// has not caught up with that apply yet (a reconcile may start, say after
// the status write of the one that applied, before the watch has delivered
// the apply). Without it, the reconcile would find the cache's old object
// drifted and apply again; the reference confirms such a drift with a live
// GET, which this answers from memory. resourceVersions of one resource
// compare as numbers (k8s.io/apimachinery/pkg/util/resourceversion): a
// newer cached object (someone changed the child after our apply) wins, as
// does any object the numbers cannot order. Every apply makes a watch event
// that enqueues the site again, so its entry is dropped on the next
// reconcile: applied holds a child only for that moment.
func (r *Reconciler) latest(kind childKind, cached metav1.Object) metav1.Object {
	key := appliedKey(kind, cached.GetNamespace(), cached.GetName())
	remembered, ok := r.applied.Load(key)
	if !ok {
		return cached
	}
	applied := remembered.(metav1.Object)
	if applied.GetUID() == cached.GetUID() {
		order, err := resourceversion.CompareResourceVersion(applied.GetResourceVersion(), cached.GetResourceVersion())
		if err == nil && order > 0 {
			return applied
		}
	}
	r.applied.CompareAndDelete(key, remembered)
	return cached
}

// remember keeps what an apply returned, for latest.
func (r *Reconciler) remember(kind childKind, applied metav1.Object) {
	applied.SetManagedFields(nil) // as the informers strip them: nothing reads them
	r.applied.Store(appliedKey(kind, applied.GetNamespace(), applied.GetName()), applied)
}

// forget drops what applied holds of a site's children (it is going away,
// or gone).
func (r *Reconciler) forget(namespace, siteName string) {
	for _, kind := range childKinds {
		r.applied.Delete(appliedKey(kind, namespace, childName(kind.name, siteName)))
	}
}

func appliedKey(kind childKind, namespace, name string) string {
	return kind.name + "/" + namespace + "/" + name
}

// refuseConflict returns a ChildConflictError (after the status and event)
// if a child exists that the site does not control.
func (r *Reconciler) refuseConflict(ctx context.Context, site *StaticSite, children childSet) error {
	kind, childName, found := firstConflict(site, children)
	if !found {
		return nil
	}
	verdict := conflictVerdict(kind, childName)
	if err := r.reportProblem(ctx, site, verdict, ownDeployment(site, children)); err != nil {
		return err
	}
	return &ChildConflictError{Message: verdict.Message}
}

// firstConflict is the kind and name of the first existing child, in
// ChildKinds order, that the site does not control.
func firstConflict(site *StaticSite, children childSet) (kind, name string, found bool) {
	for i, child := range children {
		if child != nil && !isControlledBy(child, site) {
			return childKinds[i].name, child.GetName(), true
		}
	}
	return "", "", false
}

// ownDeployment is the site's Deployment if the site controls it, for the
// readyReplicas of a status that reports a problem.
func ownDeployment(site *StaticSite, children childSet) *appsv1.Deployment {
	if deployment, ok := children[deploymentIndex].(*appsv1.Deployment); ok && isControlledBy(deployment, site) {
		return deployment
	}
	return nil
}

// deploymentIndex is the Deployment's place in childKinds.
var deploymentIndex = slices.Index(ChildKinds, KindDeployment)

// applyChildren applies each child that is missing or drifted, all at the
// same time (they are independent: the Deployment mounts the ConfigMap by
// name and waits for it if need be), records a Synced event naming those it
// applied, and returns the Deployment as it now is. When the API server
// refuses a child as invalid, it returns a childRefusedError (the first
// refused in ChildKinds order); the children applied meanwhile stay applied
// and are named in the event.
//
// The drift is the cached object's (or, see latest, the last applied
// one's), and the apply carries its resourceVersion (applyChild): no live
// GET confirms it.
func (r *Reconciler) applyChildren(ctx context.Context, site *StaticSite, children childSet) (*appsv1.Deployment, error) {
	desired := make([]any, len(childKinds))
	var drifted []int
	for i, kind := range childKinds {
		desired[i] = kind.desired(site)
		needed, err := needsApply(desired[i], children[i])
		if err != nil {
			return nil, err
		}
		if needed {
			drifted = append(drifted, i)
		}
	}
	errs := make([]error, len(childKinds))
	concurrently(drifted, func(i int) {
		var applied metav1.Object
		if applied, errs[i] = r.applyChild(ctx, childKinds[i], desired[i], children[i], site.Namespace); errs[i] == nil {
			children[i] = applied
			r.remember(childKinds[i], applied)
		}
	})
	var names []string
	for _, i := range drifted {
		if errs[i] == nil {
			names = append(names, childKinds[i].name+" "+children[i].GetName())
		}
	}
	if len(names) > 0 {
		r.Recorder.Event(siteReference(site), corev1.EventTypeNormal, EventSynced, "applied "+strings.Join(names, ", "))
	}
	for _, i := range drifted {
		if apierrors.IsInvalid(errs[i]) {
			return nil, &childRefusedError{Kind: childKinds[i].name, Name: childName(childKinds[i].name, site.Name), Reason: errs[i].Error()}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	deployment, _ := children[deploymentIndex].(*appsv1.Deployment)
	return deployment, nil
}

// ----- steps 4, 6, 7 and 8: the status ------------------------------------

// reportProblem sets Ready=False for a problem, with a Warning event of the
// verdict's reason. The event goes with the change of status, not with
// every retry.
func (r *Reconciler) reportProblem(ctx context.Context, site *StaticSite, verdict Verdict, deployment *appsv1.Deployment) error {
	written, err := r.writeStatus(ctx, site, verdict, deployment)
	if written {
		r.Recorder.Event(siteReference(site), corev1.EventTypeWarning, verdict.Reason, verdict.Message)
	}
	return err
}

// writeStatus writes the status if it changed; it tells whether it did.
func (r *Reconciler) writeStatus(ctx context.Context, site *StaticSite, verdict Verdict, deployment *appsv1.Deployment) (bool, error) {
	now := metav1.Now
	if r.Now != nil {
		now = r.Now
	}
	status, changed := desiredStatus(site, verdict, readyReplicas(deployment), now())
	if !changed {
		return false, nil
	}
	err := r.patchStatus(ctx, site, status)
	return err == nil, err
}
