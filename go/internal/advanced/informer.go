package advanced

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Informers: a local, always up-to-date copy of the objects the controller
// reads, and a signal when one changes.
//
// An informer lists a resource, then watches it from the list's
// resourceVersion (the intermediate track's watch-pods does this by hand):
// it keeps every object in a cache (an indexer, read through a lister), and
// calls event handlers on each add, update and delete. When the watch breaks
// it resumes from the last resourceVersion; when that version has expired
// (410 Gone) it lists again. The reconciler then reads the cache instead of
// the API server, and the handlers only enqueue the key of the site to
// reconcile, so a burst of events costs one reconcile.
//
// The controller runs four informers, from two shared informer factories
// (a factory makes one informer per resource, however many parts ask):
//   - StaticSites, from the dynamic factory (see StaticSite for why): every
//     change enqueues the site;
//   - ConfigMaps, Deployments and Services labelled
//     app.kubernetes.io/managed-by=staticsite-controller, from the typed
//     factory (the label selector keeps the cache small: only the
//     controller's own objects): every change enqueues the site that
//     controls the object, so deleting or editing a child gets it repaired,
//     and a Deployment's status changes update the site's status.

// ResyncPeriod is how often the sites informer hands every cached site to
// its handlers again: a safety net of a level-based controller, not the
// mechanism (client-go replays its cache; nothing is listed again).
const ResyncPeriod = 10 * time.Minute

// Caches is the read side of the informers: all the reconciler needs.
type Caches struct {
	Sites       cache.GenericLister // *unstructured.Unstructured StaticSites
	ConfigMaps  corelisters.ConfigMapLister
	Deployments appslisters.DeploymentLister
	Services    corelisters.ServiceLister
}

// Informers are the controller's four informers, started, synced and stopped together.
type Informers struct {
	Caches   Caches
	sites    dynamicinformer.DynamicSharedInformerFactory
	children informers.SharedInformerFactory
	synced   []cache.InformerSynced // one per event handler: its first list has been handled
}

// NewInformers builds the informers of one namespace ("" for all) with
// handlers that call enqueue with site keys.
func NewInformers(kube kubernetes.Interface, dyn dynamic.Interface, namespace string, enqueue func(key string)) (*Informers, error) {
	sites := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, ResyncPeriod, namespace, nil)
	children := informers.NewSharedInformerFactoryWithOptions(kube, 0,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(options *metav1.ListOptions) { options.LabelSelector = ManagedSelector }),
		informers.WithTransform(stripManagedFields),
	)
	i := &Informers{sites: sites, children: children}

	siteInformer := sites.ForResource(SiteResource)
	if err := siteInformer.Informer().SetTransform(stripManagedFields); err != nil {
		return nil, err
	}
	configMaps := children.Core().V1().ConfigMaps()
	deployments := children.Apps().V1().Deployments()
	services := children.Core().V1().Services()
	i.Caches = Caches{
		Sites:       siteInformer.Lister(),
		ConfigMaps:  configMaps.Lister(),
		Deployments: deployments.Lister(),
		Services:    services.Lister(),
	}

	if err := i.handle(siteInformer.Informer(), func(obj any) {
		// DeletionHandlingMetaNamespaceKeyFunc also reads the key of a
		// tombstone (DeletedFinalStateUnknown: a delete the watch missed).
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			enqueue(key)
		}
	}); err != nil {
		return nil, err
	}
	enqueueOwner := func(obj any) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		child, err := meta.Accessor(obj)
		if err != nil {
			return
		}
		if key := ownerSiteKey(child); key != "" { // "" e.g. for the registry: labelled, owned by no site
			enqueue(key)
		}
	}
	for _, informer := range []cache.SharedIndexInformer{configMaps.Informer(), deployments.Informer(), services.Informer()} {
		if err := i.handle(informer, enqueueOwner); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// handle calls onChange for every add, update and delete.
func (i *Informers) handle(informer cache.SharedIndexInformer, onChange func(obj any)) error {
	registration, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onChange,
		UpdateFunc: func(_, obj any) { onChange(obj) },
		DeleteFunc: onChange,
	})
	if err != nil {
		return err
	}
	i.synced = append(i.synced, registration.HasSynced)
	return nil
}

// Start starts every informer; they run until ctx is done.
func (i *Informers) Start(ctx context.Context) {
	i.sites.Start(ctx.Done())
	i.children.Start(ctx.Done())
}

// Shutdown waits for the informers to stop, once the context given to Start is done.
func (i *Informers) Shutdown() {
	i.sites.Shutdown()
	i.children.Shutdown()
}

// HasSynced tells whether every cache is complete and its first list handled.
func (i *Informers) HasSynced() bool {
	for _, synced := range i.synced {
		if !synced() {
			return false
		}
	}
	return true
}

// WaitForCacheSync blocks until HasSynced; false if ctx is done first.
func (i *Informers) WaitForCacheSync(ctx context.Context) bool {
	return cache.WaitForNamedCacheSync(ManagerName, ctx.Done(), i.synced...)
}

// stripManagedFields drops metadata.managedFields before an object enters a
// cache: server-side apply's bookkeeping, often the largest part of a small
// object, and nothing the controller reads.
func stripManagedFields(obj any) (any, error) {
	if accessor, err := meta.Accessor(obj); err == nil {
		accessor.SetManagedFields(nil)
	}
	return obj, nil
}
