package framework

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"controller-examples/go/internal/advanced"
)

// The hand-built reconciler (advanced.Reconciler) reads client-go listers;
// controller-runtime's cache is read through a client.Reader instead. These
// adapters let the one reconciler read the other cache, so the two programs
// share every step of SPEC.md's reconcile and differ only in what the
// framework replaces.
//
// Why not client-go listers over the framework's informers: with --namespace
// the cache is a multi-namespace cache whose informers hide their indexers.
//
// Each adapter embeds the lister interface it stands for and implements only
// what the reconciler calls (X(namespace).Get, and List for sites): the
// embedded interface is nil, so any other method would panic, loudly, rather
// than quietly answer from nowhere.
//
// A lister's Get has no context; a read of the cache is a map lookup (the
// cache blocks only for a kind it does not watch yet, and every kind read
// here is watched from the start), so context.Background is enough.

// siteGVK is StaticSite's group, version and kind: the cache holds sites as
// unstructured objects, as the hand-built informer does (advanced.StaticSite
// explains why no generated types).
var siteGVK = advanced.SiteResource.GroupVersion().WithKind(advanced.Kind)

// newSite is an empty unstructured StaticSite, to read into.
func newSite() *unstructured.Unstructured {
	site := &unstructured.Unstructured{}
	site.SetGroupVersionKind(siteGVK)
	return site
}

// cachesFrom is the reconciler's view of controller-runtime's cache.
func cachesFrom(reader client.Reader) advanced.Caches {
	return advanced.Caches{
		Sites:       siteLister{reader: reader},
		ConfigMaps:  configMapLister{reader: reader},
		Deployments: deploymentLister{reader: reader},
		Services:    serviceLister{reader: reader},
	}
}

// get reads one object from the cache into obj.
func get[T client.Object](reader client.Reader, namespace, name string, obj T) (T, error) {
	err := reader.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, obj)
	return obj, err
}

type siteLister struct {
	toolscache.GenericLister
	reader client.Reader
}

func (l siteLister) ByNamespace(namespace string) toolscache.GenericNamespaceLister {
	return siteNamespaceLister{reader: l.reader, namespace: namespace}
}

type siteNamespaceLister struct {
	toolscache.GenericNamespaceLister
	reader    client.Reader
	namespace string
}

func (l siteNamespaceLister) Get(name string) (runtime.Object, error) {
	return get(l.reader, l.namespace, name, newSite())
}

func (l siteNamespaceLister) List(selector labels.Selector) ([]runtime.Object, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(siteGVK.GroupVersion().WithKind(advanced.Kind + "List"))
	err := l.reader.List(context.Background(), list,
		client.InNamespace(l.namespace), client.MatchingLabelsSelector{Selector: selector})
	if err != nil {
		return nil, err
	}
	objects := make([]runtime.Object, len(list.Items))
	for i := range list.Items {
		objects[i] = &list.Items[i]
	}
	return objects, nil
}

type configMapLister struct {
	corelisters.ConfigMapLister
	reader client.Reader
}

func (l configMapLister) ConfigMaps(namespace string) corelisters.ConfigMapNamespaceLister {
	return configMapNamespaceLister{reader: l.reader, namespace: namespace}
}

type configMapNamespaceLister struct {
	corelisters.ConfigMapNamespaceLister
	reader    client.Reader
	namespace string
}

func (l configMapNamespaceLister) Get(name string) (*corev1.ConfigMap, error) {
	return get(l.reader, l.namespace, name, &corev1.ConfigMap{})
}

type deploymentLister struct {
	appslisters.DeploymentLister
	reader client.Reader
}

func (l deploymentLister) Deployments(namespace string) appslisters.DeploymentNamespaceLister {
	return deploymentNamespaceLister{reader: l.reader, namespace: namespace}
}

type deploymentNamespaceLister struct {
	appslisters.DeploymentNamespaceLister
	reader    client.Reader
	namespace string
}

func (l deploymentNamespaceLister) Get(name string) (*appsv1.Deployment, error) {
	return get(l.reader, l.namespace, name, &appsv1.Deployment{})
}

type serviceLister struct {
	corelisters.ServiceLister
	reader client.Reader
}

func (l serviceLister) Services(namespace string) corelisters.ServiceNamespaceLister {
	return serviceNamespaceLister{reader: l.reader, namespace: namespace}
}

type serviceNamespaceLister struct {
	corelisters.ServiceNamespaceLister
	reader    client.Reader
	namespace string
}

func (l serviceNamespaceLister) Get(name string) (*corev1.Service, error) {
	return get(l.reader, l.namespace, name, &corev1.Service{})
}
