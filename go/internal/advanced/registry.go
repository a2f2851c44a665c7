package advanced

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// The registry: one ConfigMap per namespace listing its sites (NAME: URL),
// kept by the finalizer.
//
// It is the example of state outside a site's own children: garbage
// collection cannot clean it up (the ConfigMap belongs to the namespace, not
// to any one site), so the controller puts a finalizer on each site and
// removes the site's key itself before it lets the site go.
//
// Several workers reconcile different sites of one namespace at the same
// time, so nobody may write the whole ConfigMap: each key is added
// ({"data": {NAME: URL}}) or removed ({"data": {NAME: null}}) with a JSON
// merge patch, which the API server applies to the current object, so
// concurrent patches of different keys never overwrite each other.
//
// The registry is exact: its keys are the namespace's sites, no more, no
// less. Someone may delete it or edit it by hand, so the controller watches
// it (informer.go): a change enqueues the sites whose key is missing or
// wrong (sitesToRepair), and each reconcile adds its site's key and removes
// stray keys (strayRegistryKeys) in one merge patch.

// RegistryName is the registry ConfigMap's name in every namespace with sites.
const RegistryName = "staticsite-registry"

// cachedRegistry is the namespace's registry from the ConfigMap cache (it is
// labelled managed-by, so cached), or nil.
func cachedRegistry(configMaps corelisters.ConfigMapLister, namespace string) *corev1.ConfigMap {
	registry, err := configMaps.ConfigMaps(namespace).Get(RegistryName)
	if err != nil {
		return nil
	}
	return registry
}

// cachedSiteNames are the names of the namespace's sites in the site cache.
func cachedSiteNames(sites cache.GenericLister, namespace string) []string {
	objects, err := sites.ByNamespace(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(objects))
	for _, obj := range objects {
		if accessor, err := meta.Accessor(obj); err == nil {
			names = append(names, accessor.GetName())
		}
	}
	return names
}

// strayRegistryKeys are the registry's keys that no site holds: no cached
// site has that name, or no site's key can have it (a site whose name is no
// Service name stops at InvalidSpec and never gets a key). A key whose site
// is being deleted is not stray: its finalizer removes it. A site created a
// moment ago is cached before its reconcile adds its key (the informer
// caches a site, then enqueues it), so this process never takes a live
// site's key for a stray; a key written by another process from a fresher
// cache may be, until that site's own event here adds it back.
func strayRegistryKeys(registry *corev1.ConfigMap, siteNames []string) []string {
	if registry == nil {
		return nil
	}
	sites := make(map[string]bool, len(siteNames))
	for _, name := range siteNames {
		sites[name] = true
	}
	var stray []string
	for key := range registry.Data {
		if !sites[key] || !isServiceName(key) {
			stray = append(stray, key)
		}
	}
	slices.Sort(stray)
	return stray
}

// sitesToRepair are the sites to reconcile after the registry (nil:
// deleted) changed: those whose key is missing or wrong, or all of them when
// it may hold a stray key. Only sites with a Service name hold a key.
// Enqueueing every site at every change would make a namespace of N new
// sites cost N*N reconciles: each key a reconcile adds is a change.
func sitesToRepair(registry *corev1.ConfigMap, namespace string, siteNames []string) []string {
	names := slices.DeleteFunc(slices.Clone(siteNames), func(name string) bool { return !isServiceName(name) })
	if registry == nil {
		return names
	}
	good := map[string]bool{}
	for key, value := range registry.Data {
		if isServiceName(key) && value == siteURL(namespace, key) {
			good[key] = true
		}
	}
	holders := make(map[string]bool, len(names))
	for _, name := range names {
		holders[name] = true
	}
	all := len(good) < len(registry.Data)
	for key := range good {
		all = all || !holders[key]
	}
	if all {
		return names
	}
	return slices.DeleteFunc(names, func(name string) bool { return good[name] })
}

// addRegistryEntry adds or corrects the site's key, and removes the stray
// keys, in one merge patch; it creates the registry when the namespace has
// none yet.
func addRegistryEntry(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace, name, url string, stray []string) error {
	data := map[string]any{name: url}
	for _, key := range stray {
		data[key] = nil
	}
	err := patchRegistry(ctx, configMaps, namespace, data)
	if !apierrors.IsNotFound(err) {
		return err
	}
	// Two workers may both get here: the one whose create fails with 409
	// AlreadyExists patches the registry the other one created.
	err = createRegistry(ctx, configMaps, namespace, map[string]string{name: url})
	if apierrors.IsAlreadyExists(err) {
		return patchRegistry(ctx, configMaps, namespace, map[string]any{name: url})
	}
	return err
}

// removeRegistryEntry removes the site's key. A missing registry counts as
// removed, so this works in a terminating namespace, where nothing can be
// created but patches are still allowed.
func removeRegistryEntry(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace, name string) error {
	err := patchRegistry(ctx, configMaps, namespace, map[string]any{name: nil})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
