package framework

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"controller-examples/go/internal/advanced"
)

// What enqueues a site beyond For and Owns, and what Owns must not enqueue.
//
// Owns(ConfigMap) enqueues the controller owner of a child; the registry
// ConfigMap has no owner, so a watch of its own (Watches with a handler)
// enqueues the sites a change of it concerns (SPEC.md, "The registry is
// exact"). controller-runtime hands a handler the event, not just the
// object, so a deleted registry is told from an edited one.

// registryHandler enqueues, on a change of a namespace's registry, the sites
// whose key is missing or wrong, or every site when it may hold a stray key
// or was deleted.
func registryHandler(reader client.Reader) handler.EventHandler {
	enqueue := func(ctx context.Context, namespace string, registry *corev1.ConfigMap, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		names, err := siteNames(ctx, reader, namespace)
		if err != nil {
			klog.ErrorS(err, "Cannot list the sites of a namespace", "namespace", namespace)
			return
		}
		for _, name := range sitesToRepair(registry, namespace, names) {
			queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}})
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			registry, _ := e.Object.(*corev1.ConfigMap)
			enqueue(ctx, e.Object.GetNamespace(), registry, queue)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			registry, _ := e.ObjectNew.(*corev1.ConfigMap)
			enqueue(ctx, e.ObjectNew.GetNamespace(), registry, queue)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object.GetNamespace(), nil, queue)
		},
	}
}

// isRegistry selects the registry ConfigMaps among the cached ones.
var isRegistry = predicate.NewPredicateFuncs(func(obj client.Object) bool {
	return obj.GetName() == advanced.RegistryName
})

// siteNames are the names of the namespace's cached sites.
func siteNames(_ context.Context, reader client.Reader, namespace string) ([]string, error) {
	sites, err := siteNamespaceLister(reader, namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	names := make([]string, len(sites))
	for i, site := range sites {
		names[i] = site.(client.Object).GetName()
	}
	return names, nil
}

// sitesToRepair are the sites to reconcile after the registry (nil:
// deleted) changed: those whose key is missing or wrong, or all of them when
// it may hold a stray key. Only sites with a Service name hold a key.
//
// This is the hand-built controller's rule (advanced/registry.go), which it
// does not export: the two must agree, and the conformance scenario
// registry_is_repaired_at_once checks both.
func sitesToRepair(registry *corev1.ConfigMap, namespace string, siteNames []string) []string {
	names := slices.DeleteFunc(slices.Clone(siteNames), func(name string) bool { return !isServiceName(name) })
	if registry == nil {
		return names
	}
	holders := make(map[string]bool, len(names))
	for _, name := range names {
		holders[name] = true
	}
	good := map[string]bool{}
	every := false
	for key, value := range registry.Data {
		isGood := isServiceName(key) && value == fmt.Sprintf("http://%s.%s.svc.cluster.local", key, namespace)
		good[key] = isGood
		every = every || !isGood || !holders[key]
	}
	if every {
		return names
	}
	return slices.DeleteFunc(names, func(name string) bool { return good[name] })
}

func isServiceName(name string) bool {
	return len(validation.IsDNS1035Label(name)) == 0
}

// ownedBySiteName is Owns' filter: an object whose controller is a
// StaticSite by a name no StaticSite can have (not a DNS-1123 subdomain:
// anyone who can write a labelled object can put any name there) is no
// site's child. Owns would enqueue it as a key; it is ignored instead, with
// one log line per object, not one per event or resync.
type ownedBySiteName struct {
	logged sync.Map // uid -> struct{}: the objects already logged
}

func (o *ownedBySiteName) predicate() predicate.Predicate {
	return predicate.NewPredicateFuncs(o.allows)
}

func (o *ownedBySiteName) allows(obj client.Object) bool {
	owner := metav1.GetControllerOf(obj)
	if owner == nil || owner.Kind != advanced.Kind || owner.APIVersion != advanced.APIVersion {
		return true // no site's child: Owns enqueues nothing for it anyway
	}
	if len(validation.IsDNS1123Subdomain(owner.Name)) == 0 {
		return true
	}
	if _, seen := o.logged.LoadOrStore(obj.GetUID(), struct{}{}); !seen {
		klog.InfoS("Ignoring an object whose controller is no StaticSite name", "object", klog.KObj(obj),
			"owner", owner.Name)
	}
	return false
}
