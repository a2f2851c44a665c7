package advanced

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
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
//     and a Deployment's status changes update the site's status. A change
//     of a namespace's registry ConfigMap (labelled, owned by no site)
//     enqueues the sites whose key it lacks (registry.go), so a registry
//     deleted or edited by hand is repaired at once.
//
// Every field of an object is data: anyone who can write a labelled
// ConfigMap can give it an ownerReference with any name (the API server
// checks only that it is not empty). A name no StaticSite can have (not a
// DNS-1123 subdomain) is no site's key: the object is ignored, with one log
// line, not one per event.

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

	if err := i.handle(siteInformer.Informer(), nil, func(obj any, _ bool) {
		// DeletionHandlingMetaNamespaceKeyFunc also reads the key of a
		// tombstone (DeletedFinalStateUnknown: a delete the watch missed).
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			enqueue(key)
		}
	}); err != nil {
		return nil, err
	}
	for kind, informer := range map[string]cache.SharedIndexInformer{
		KindConfigMap: configMaps.Informer(), KindDeployment: deployments.Informer(), KindService: services.Informer(),
	} {
		handler := newChildHandler(kind, enqueue, i.Caches.Sites)
		if err := i.handle(informer, handler.onReowned, handler.onChange); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// handle calls onChange for every add, update and delete (deleted tells
// which), and onUpdate, when not nil, with the old and the new object of an
// update first.
func (i *Informers) handle(informer cache.SharedIndexInformer, onUpdate func(old, obj any),
	onChange func(obj any, deleted bool)) error {
	registration, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { onChange(obj, false) },
		UpdateFunc: func(old, obj any) {
			if onUpdate != nil {
				onUpdate(old, obj)
			}
			onChange(obj, false)
		},
		DeleteFunc: func(obj any) { onChange(obj, true) },
	})
	if err != nil {
		return err
	}
	i.synced = append(i.synced, registration.HasSynced)
	return nil
}

// childHandler is what a change of a labelled ConfigMap, Deployment or
// Service enqueues: the site that controls a child, or, for the registry,
// the sites whose key it lacks. An informer calls a handler from one
// goroutine, so its state needs no lock.
type childHandler struct {
	kind    string
	enqueue func(key string)
	sites   cache.GenericLister
	ignored map[string]bool // objects already logged as ignored
}

func newChildHandler(kind string, enqueue func(key string), sites cache.GenericLister) *childHandler {
	return &childHandler{kind: kind, enqueue: enqueue, sites: sites, ignored: map[string]bool{}}
}

func (h *childHandler) onChange(obj any, deleted bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	child, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	objectKey := child.GetNamespace() + "/" + child.GetName()
	key := ownerSiteKey(child)
	switch {
	case key == "" && h.kind == KindConfigMap && child.GetName() == RegistryName:
		var registry *corev1.ConfigMap
		if !deleted {
			registry, _ = obj.(*corev1.ConfigMap)
		}
		namespace := child.GetNamespace()
		for _, name := range sitesToRepair(registry, namespace, cachedSiteNames(h.sites, namespace)) {
			h.enqueue(namespace + "/" + name)
		}
	case key != "" && !isSiteKey(key):
		h.ignore(objectKey, key, deleted)
	default:
		delete(h.ignored, objectKey)
		if key != "" {
			h.enqueue(key)
		}
	}
}

// onReowned: a child whose controller changed (someone edited its
// ownerReferences) was the old site's child until now: that site is enqueued
// too, so it sees at once that its child is gone or no longer its own (a
// ChildConflict), not at the next resync. controller-runtime's
// EnqueueRequestForOwner does the same.
func (h *childHandler) onReowned(old, obj any) {
	before, errBefore := meta.Accessor(old)
	after, errAfter := meta.Accessor(obj)
	if errBefore != nil || errAfter != nil {
		return
	}
	if key := ownerSiteKey(before); key != "" && key != ownerSiteKey(after) && isSiteKey(key) {
		h.enqueue(key)
	}
}

// ignore: the object's controller is a "StaticSite" no one can create, so
// it is no site's child. Logged once per object.
func (h *childHandler) ignore(objectKey, ownerKey string, deleted bool) {
	if deleted {
		delete(h.ignored, objectKey)
		return
	}
	if h.ignored[objectKey] {
		return
	}
	h.ignored[objectKey] = true
	_, owner, _ := strings.Cut(ownerKey, "/")
	if len(owner) > 300 {
		owner = owner[:300]
	}
	// klog quotes the values (%q), so any name stays on one line.
	klog.InfoS("Ignoring an object: its controller ownerReference names a StaticSite that cannot exist (not a DNS-1123 subdomain)",
		"kind", h.kind, "object", objectKey, "owner", owner)
}

// isSiteKey tells whether key is NAMESPACE/NAME with names the API server
// allows (a namespace: a DNS-1123 label; a StaticSite: a DNS-1123 subdomain).
func isSiteKey(key string) bool {
	namespace, name, ok := strings.Cut(key, "/")
	return ok && len(validation.IsDNS1123Label(namespace)) == 0 && len(validation.IsDNS1123Subdomain(name)) == 0
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
