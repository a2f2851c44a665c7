package framework

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
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
// A lister of all namespaces embeds the interface it stands for and
// implements only what the reconciler calls, X(namespace): the embedded
// interface is nil, so any other method would panic, loudly, rather than
// quietly answer from nowhere. The namespace listers are complete.
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

// namespaceLister reads one kind in one namespace from the cache: client-go's
// XNamespaceLister for X = T (and, with T = runtime.Object, the
// GenericNamespaceLister of sites).
type namespaceLister[T runtime.Object] struct {
	reader    client.Reader
	namespace string
	newObject func() T
	newList   func() client.ObjectList
}

func (l namespaceLister[T]) Get(name string) (T, error) {
	obj := l.newObject()
	err := l.reader.Get(context.Background(), client.ObjectKey{Namespace: l.namespace, Name: name}, any(obj).(client.Object))
	return obj, err
}

func (l namespaceLister[T]) List(selector labels.Selector) ([]T, error) {
	list := l.newList()
	err := l.reader.List(context.Background(), list,
		client.InNamespace(l.namespace), client.MatchingLabelsSelector{Selector: selector})
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	objects := make([]T, len(items))
	for i, item := range items {
		objects[i] = item.(T)
	}
	return objects, nil
}

func newSiteList() client.ObjectList {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(siteGVK.GroupVersion().WithKind(advanced.Kind + "List"))
	return list
}

// siteNamespaceLister reads the sites of one namespace.
func siteNamespaceLister(reader client.Reader, namespace string) namespaceLister[runtime.Object] {
	return namespaceLister[runtime.Object]{reader, namespace, func() runtime.Object { return newSite() }, newSiteList}
}

type siteLister struct {
	toolscache.GenericLister
	reader client.Reader
}

func (l siteLister) ByNamespace(namespace string) toolscache.GenericNamespaceLister {
	return siteNamespaceLister(l.reader, namespace)
}

type configMapLister struct {
	corelisters.ConfigMapLister
	reader client.Reader
}

func (l configMapLister) ConfigMaps(namespace string) corelisters.ConfigMapNamespaceLister {
	return namespaceLister[*corev1.ConfigMap]{l.reader, namespace,
		func() *corev1.ConfigMap { return &corev1.ConfigMap{} }, func() client.ObjectList { return &corev1.ConfigMapList{} }}
}

type deploymentLister struct {
	appslisters.DeploymentLister
	reader client.Reader
}

func (l deploymentLister) Deployments(namespace string) appslisters.DeploymentNamespaceLister {
	return namespaceLister[*appsv1.Deployment]{l.reader, namespace,
		func() *appsv1.Deployment { return &appsv1.Deployment{} }, func() client.ObjectList { return &appsv1.DeploymentList{} }}
}

type serviceLister struct {
	corelisters.ServiceLister
	reader client.Reader
}

func (l serviceLister) Services(namespace string) corelisters.ServiceNamespaceLister {
	return namespaceLister[*corev1.Service]{l.reader, namespace,
		func() *corev1.Service { return &corev1.Service{} }, func() client.ObjectList { return &corev1.ServiceList{} }}
}
