package advanced

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
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

// RegistryName is the registry ConfigMap's name in every namespace with sites.
const RegistryName = "staticsite-registry"

// hasRegistryEntry tells whether the cached registry already maps name to
// url. The registry is labelled managed-by, so the ConfigMap informer has it.
func hasRegistryEntry(configMaps corelisters.ConfigMapLister, namespace, name, url string) bool {
	registry, err := configMaps.ConfigMaps(namespace).Get(RegistryName)
	return err == nil && registry.Data[name] == url
}

// addRegistryEntry adds or corrects the site's key, creating the registry
// when the namespace has none yet.
func addRegistryEntry(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace, name, url string) error {
	err := patchRegistry(ctx, configMaps, namespace, map[string]any{name: url})
	if !apierrors.IsNotFound(err) {
		return err
	}
	// Two workers may both get here: the one whose create fails with 409
	// AlreadyExists patches the registry the other one created.
	registry := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      RegistryName,
			Namespace: namespace,
			// No ownerReference: it belongs to the namespace, not to a site.
			Labels: map[string]string{NameLabel: AppName, ManagedByLabel: ManagerName},
		},
		Data: map[string]string{name: url},
	}
	_, err = configMaps.ConfigMaps(namespace).Create(ctx, registry, metav1.CreateOptions{FieldManager: ManagerName})
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

func patchRegistry(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace string, data map[string]any) error {
	patch, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	_, err = configMaps.ConfigMaps(namespace).Patch(ctx, RegistryName, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: ManagerName})
	return err
}
