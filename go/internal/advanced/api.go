package advanced

import (
	"context"
	"encoding/json"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// The API requests of the controller, in one place: what the reconciler
// sends to the API server (reads come from the informers' caches; the
// informers' own list and watch, the events and the Lease are client-go's).
// These are the verbs of shared-manifests/rbac/rbac.yaml:
//
//   - GET of a child missing from the cache (getChild);
//   - server-side apply of a child (applyChild);
//   - merge patches of a site's finalizers (patchFinalizers) and of its
//     status subresource (patchStatus);
//   - merge patches of the registry ConfigMap, and creating it (patchRegistry,
//     createRegistry).
//
// Every request runs in the reconcile's context, which ReconcileTimeout
// bounds (queue.go), so none can hold a worker forever.

// namespacedLister is what an informer's lister offers for one namespace.
type namespacedLister[T any] interface {
	Get(name string) (T, error)
}

// childClient is what client-go's typed client of one kind offers for one
// namespace, of which the reconciler uses two requests.
type childClient[T, Apply any] interface {
	Get(ctx context.Context, name string, options metav1.GetOptions) (T, error)
	Apply(ctx context.Context, child Apply, options metav1.ApplyOptions) (T, error)
}

// getChild reads a child from the API server; nil when it does not exist.
func (r *Reconciler) getChild(ctx context.Context, kind childKind, namespace, name string) (metav1.Object, error) {
	obj, err := kind.get(ctx, r.Kube, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}

// applyChild sends a child with server-side apply: the controller owns the
// fields it lists (Force takes them over from whoever changed them: drift to
// repair), and the API server keeps every other field. An existing child is
// applied with the resourceVersion of the object it was compared with (the
// cache's, or what the last apply returned): a precondition, so the apply
// lands only on that very object. If anyone changed it since (re-owned it,
// or deleted it and created their own), the API server answers 409 Conflict
// and the key is retried from a cache that shows the change: a conflict
// found in step 6, never an object taken over. (The reference confirms the
// drift with a live GET instead, which costs a request and still leaves the
// moment between the GET and the apply open.)
func (r *Reconciler) applyChild(ctx context.Context, kind childKind, desired any, compared metav1.Object, namespace string) (metav1.Object, error) {
	resourceVersion := ""
	if compared != nil {
		resourceVersion = compared.GetResourceVersion()
	}
	return kind.apply(ctx, r.Kube, namespace, resourceVersion, desired, metav1.ApplyOptions{FieldManager: ManagerName, Force: true})
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

// patchStatus writes the site's status through the status subresource. (A
// PATCH of the site itself ignores status: with a status subresource, the
// two are written separately.)
func (r *Reconciler) patchStatus(ctx context.Context, site *StaticSite, status StaticSiteStatus) error {
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = r.Sites.Namespace(site.Namespace).Patch(ctx, site.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ManagerName}, "status")
	return err
}

// patchRegistry merges data (a key to a URL, or to nil: removed) into the
// namespace's registry.
func patchRegistry(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace string, data map[string]any) error {
	patch, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	_, err = configMaps.ConfigMaps(namespace).Patch(ctx, RegistryName, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ManagerName})
	return err
}

// createRegistry creates the namespace's registry holding data.
func createRegistry(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace string, data map[string]string) error {
	registry := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      RegistryName,
			Namespace: namespace,
			// No ownerReference: it belongs to the namespace, not to a site.
			Labels: map[string]string{NameLabel: AppName, ManagedByLabel: ManagerName},
		},
		Data: data,
	}
	_, err := configMaps.ConfigMaps(namespace).Create(ctx, registry, metav1.CreateOptions{FieldManager: ManagerName})
	return err
}

// concurrently runs request(i) for each i in indexes at the same time and
// waits for all of them: independent requests of one reconcile cost one
// round trip instead of one each. Each request keeps its own result.
func concurrently(indexes []int, request func(i int)) {
	var running sync.WaitGroup
	for _, i := range indexes {
		running.Go(func() { request(i) })
	}
	running.Wait()
}
