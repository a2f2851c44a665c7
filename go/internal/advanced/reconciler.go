package advanced

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
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

// Reconciler reconciles sites. Reads come from the informers' caches; what
// goes to the API server is a GET of a child missing from the cache,
// server-side apply of children, merge patches of a site's finalizers, of
// its status subresource and of the registry ConfigMap, creating that
// ConfigMap, and events: the verbs of shared-manifests/rbac/rbac.yaml.
type Reconciler struct {
	Kube     kubernetes.Interface
	Sites    dynamic.NamespaceableResourceInterface // the dynamic client for SiteResource
	Caches   Caches
	Recorder record.EventRecorder
	Now      func() metav1.Time // the clock of lastTransitionTime; metav1.Now when nil
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
		return r.reportProblem(ctx, site, invalidNameVerdict(site.Name), EventInvalidSpec, nil)
	}
	if size := contentSize(site.Spec.Content); size > ConfigMapMaxBytes {
		return r.reportProblem(ctx, site, tooLargeVerdict(size), EventInvalidSpec, nil)
	}

	// 5. Ensure the site's key in the namespace's registry.
	if err := r.ensureRegistryEntry(ctx, site); err != nil {
		return err
	}

	// 6. Look up the three children; refuse to touch an object that is not ours.
	children, err := r.lookUpChildren(ctx, site)
	if err != nil {
		return err
	}
	if err := r.refuseConflict(ctx, site, children); err != nil {
		return err
	}

	// 7. Apply the children that are missing or drifted. One the API server
	// refuses as invalid (422) is the spec's fault, like an invalid name:
	// reported, not retried (a retry would be refused the same).
	deployment, err := r.applyChildren(ctx, site, children)
	var refused *childRefusedError
	if errors.As(err, &refused) {
		verdict := refusedChildVerdict(refused.Kind, refused.Name, refused.Reason)
		return r.reportProblem(ctx, site, verdict, EventInvalidSpec, ownDeployment(site, children))
	}
	if err != nil {
		return err
	}

	// 8. Compute and write the status.
	_, err = r.writeStatus(ctx, site, rolloutVerdict(site, deployment), deployment)
	return err
}

// ----- steps 2 and 3: the finalizer ---------------------------------------

func (r *Reconciler) finalize(ctx context.Context, site *StaticSite) error {
	// exercise: finalizer begin
	if !slices.Contains(site.Finalizers, Finalizer) {
		return nil // already finalized; another finalizer is holding the site
	}
	// Always patched, never checked in the cache first: a key added a moment
	// ago may not be cached yet.
	if err := removeRegistryEntry(ctx, r.Kube.CoreV1(), site.Namespace, site.Name); err != nil {
		return err
	}
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

// patchFinalizers sets metadata.finalizers and returns the updated site.
//
// A merge patch replaces the whole list, so it carries the resourceVersion
// we read: if the site changed since (someone else added or removed a
// finalizer), the API server answers 409 Conflict and the retry starts from
// the new list, instead of silently dropping the other change. (The RBAC
// allows patch, not update, on sites.)
func (r *Reconciler) patchFinalizers(ctx context.Context, site *StaticSite, finalizers []string) (*StaticSite, error) {
	if finalizers == nil {
		finalizers = []string{} // [] in the patch, not null
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"finalizers": finalizers, "resourceVersion": site.ResourceVersion},
	})
	if err != nil {
		return nil, err
	}
	updated, err := r.Sites.Namespace(site.Namespace).Patch(ctx, site.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ManagerName})
	if err != nil {
		return nil, err
	}
	return siteFrom(updated)
}

// ----- step 5: the registry -----------------------------------------------

// ensureRegistryEntry: the site's key, and no stray key (the registry's keys
// are exactly the namespace's sites).
func (r *Reconciler) ensureRegistryEntry(ctx context.Context, site *StaticSite) error {
	url := siteURL(site.Namespace, site.Name)
	registry := cachedRegistry(r.Caches.ConfigMaps, site.Namespace)
	stray := strayRegistryKeys(registry, cachedSiteNames(r.Caches.Sites, site.Namespace))
	if len(stray) == 0 && registry != nil && registry.Data[site.Name] == url {
		return nil
	}
	return addRegistryEntry(ctx, r.Kube.CoreV1(), site.Namespace, site.Name, url, stray)
}

// ----- steps 6 and 7: the children ----------------------------------------

// childSet holds the site's children by kind; a missing child is absent.
type childSet map[string]metav1.Object

func (r *Reconciler) lookUpChildren(ctx context.Context, site *StaticSite) (childSet, error) {
	children := childSet{}
	for _, kind := range ChildKinds {
		child, err := r.lookUp(ctx, kind, site.Namespace, childName(kind, site.Name))
		if err != nil {
			return nil, err
		}
		if child != nil {
			children[kind] = child
		}
	}
	return children, nil
}

// lookUp finds a child in the cache, else with a live GET. The caches hold
// only objects labelled managed-by=staticsite-controller: one that is
// missing may still exist unlabelled (someone else's: a conflict), which
// only a live GET can tell. It returns nil when the object does not exist.
func (r *Reconciler) lookUp(ctx context.Context, kind, namespace, name string) (metav1.Object, error) {
	var (
		obj metav1.Object
		err error
	)
	switch kind {
	case KindConfigMap:
		obj, err = r.Caches.ConfigMaps.ConfigMaps(namespace).Get(name)
	case KindDeployment:
		obj, err = r.Caches.Deployments.Deployments(namespace).Get(name)
	case KindService:
		obj, err = r.Caches.Services.Services(namespace).Get(name)
	}
	if apierrors.IsNotFound(err) {
		return r.get(ctx, kind, namespace, name)
	}
	return obj, err
}

// get reads a child from the API server; nil when it does not exist.
func (r *Reconciler) get(ctx context.Context, kind, namespace, name string) (metav1.Object, error) {
	var (
		obj metav1.Object
		err error
	)
	switch kind {
	case KindConfigMap:
		obj, err = r.Kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	case KindDeployment:
		obj, err = r.Kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	case KindService:
		obj, err = r.Kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// refuseConflict returns a ChildConflictError (after the status and event)
// if a child exists that the site does not control.
func (r *Reconciler) refuseConflict(ctx context.Context, site *StaticSite, children childSet) error {
	kind, childName, found := firstConflict(site, children)
	if !found {
		return nil
	}
	verdict := conflictVerdict(kind, childName)
	if err := r.reportProblem(ctx, site, verdict, EventChildConflict, ownDeployment(site, children)); err != nil {
		return err
	}
	return &ChildConflictError{Message: verdict.Message}
}

// firstConflict is the kind and name of the first existing child, in
// ChildKinds order, that the site does not control.
func firstConflict(site *StaticSite, children childSet) (kind, name string, found bool) {
	for _, kind := range ChildKinds {
		if child, ok := children[kind]; ok && !isControlledBy(child, site) {
			return kind, child.GetName(), true
		}
	}
	return "", "", false
}

// ownDeployment is the site's Deployment if the site controls it, for the
// readyReplicas of a status that reports a conflict.
func ownDeployment(site *StaticSite, children childSet) *appsv1.Deployment {
	if deployment, ok := children[KindDeployment].(*appsv1.Deployment); ok && isControlledBy(deployment, site) {
		return deployment
	}
	return nil
}

// desiredChild is the apply configuration of the site's child of that kind.
func desiredChild(site *StaticSite, kind string) any {
	switch kind {
	case KindConfigMap:
		return desiredConfigMap(site)
	case KindDeployment:
		return desiredDeployment(site)
	default:
		return desiredService(site)
	}
}

// applyChildren applies each child that is missing or drifted, records a
// Synced event naming those it applied, and returns the Deployment as it now
// is. It returns a ChildConflictError when the live object turns out not to
// be the site's, and a childRefusedError when the API server refuses a child
// as invalid.
func (r *Reconciler) applyChildren(ctx context.Context, site *StaticSite, children childSet) (*appsv1.Deployment, error) {
	var applied []string
	defer func() {
		if len(applied) > 0 {
			r.Recorder.Event(siteReference(site), corev1.EventTypeNormal, EventSynced, "applied "+strings.Join(applied, ", "))
		}
	}()
	for _, kind := range ChildKinds {
		desired := desiredChild(site, kind)
		actual, exists := children[kind]
		drifted, err := needsApply(desired, actual)
		if err != nil {
			return nil, err
		}
		if exists && drifted {
			// Confirm the drift live: the cache may not have caught up with
			// our own last apply yet. The live object is what a forced apply
			// would take over, so whose it is is checked again on it: someone
			// may have re-owned it, or deleted it and created their own,
			// since the cache showed it as ours.
			if actual, err = r.get(ctx, kind, site.Namespace, actual.GetName()); err != nil {
				return nil, err
			}
			if actual == nil {
				delete(children, kind)
			} else {
				children[kind] = actual
			}
			if err := r.refuseConflict(ctx, site, children); err != nil {
				return nil, err
			}
			if drifted, err = needsApply(desired, actual); err != nil {
				return nil, err
			}
		}
		if !drifted {
			continue
		}
		result, err := r.apply(ctx, desired)
		if apierrors.IsInvalid(err) {
			return nil, &childRefusedError{Kind: kind, Name: childName(kind, site.Name), Reason: err.Error()}
		}
		if err != nil {
			return nil, err
		}
		children[kind] = result
		applied = append(applied, kind+" "+result.GetName())
	}
	deployment, _ := children[KindDeployment].(*appsv1.Deployment)
	return deployment, nil
}

// apply sends a child with server-side apply: the controller owns the fields
// it lists (Force takes them over from whoever changed them: drift to
// repair), and the API server keeps every other field.
func (r *Reconciler) apply(ctx context.Context, desired any) (metav1.Object, error) {
	options := metav1.ApplyOptions{FieldManager: ManagerName, Force: true}
	switch child := desired.(type) {
	case *corev1ac.ConfigMapApplyConfiguration:
		return r.Kube.CoreV1().ConfigMaps(*child.Namespace).Apply(ctx, child, options)
	case *appsv1ac.DeploymentApplyConfiguration:
		return r.Kube.AppsV1().Deployments(*child.Namespace).Apply(ctx, child, options)
	case *corev1ac.ServiceApplyConfiguration:
		return r.Kube.CoreV1().Services(*child.Namespace).Apply(ctx, child, options)
	}
	return nil, fmt.Errorf("cannot apply %T", desired)
}

// ----- steps 4, 6 and 8: the status ---------------------------------------

// reportProblem sets Ready=False for a problem. The Warning event goes with
// the change of status, not with every retry.
func (r *Reconciler) reportProblem(ctx context.Context, site *StaticSite, verdict Verdict, reason string, deployment *appsv1.Deployment) error {
	written, err := r.writeStatus(ctx, site, verdict, deployment)
	if written {
		r.Recorder.Event(siteReference(site), corev1.EventTypeWarning, reason, verdict.Message)
	}
	return err
}

// writeStatus writes the status through the status subresource if it
// changed; it tells whether it did. (A PATCH of the site itself ignores
// status: with a status subresource, the two are written separately.)
func (r *Reconciler) writeStatus(ctx context.Context, site *StaticSite, verdict Verdict, deployment *appsv1.Deployment) (bool, error) {
	now := metav1.Now
	if r.Now != nil {
		now = r.Now
	}
	status, changed := desiredStatus(site, verdict, readyReplicas(deployment), now())
	if !changed {
		return false, nil
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return false, err
	}
	_, err = r.Sites.Namespace(site.Namespace).Patch(ctx, site.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ManagerName}, "status")
	return err == nil, err
}
