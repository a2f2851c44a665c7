package advanced

import (
	"context"
	"maps"
	"slices"
	"sync"

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
// stray keys (strayRegistryKeys) in one merge patch, which registryWriter
// may share with other sites' changes of the same namespace.

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
//
// Every reconcile asks, so it costs one cache lookup per key (isCachedSite)
// rather than a list of the namespace's sites: with 10,000 sites in one
// namespace, listing them and reading each name took 85% of the controller's
// CPU (perf, 2026-12-02). Still a cost of N in each reconcile, but 9 times
// less: 3.8 ms instead of 34.6 ms at 10,000 keys (a Go benchmark).
func strayRegistryKeys(registry *corev1.ConfigMap, isCachedSite func(name string) bool) []string {
	if registry == nil {
		return nil
	}
	var stray []string
	for key := range registry.Data {
		if !isCachedSite(key) || !isServiceName(key) {
			stray = append(stray, key)
		}
	}
	slices.Sort(stray)
	return stray
}

// cachedSite tells whether the site cache holds a site of the namespace by
// that name (a lookup by key: no list, no copy).
func cachedSite(sites cache.GenericLister, namespace string) func(name string) bool {
	inNamespace := sites.ByNamespace(namespace)
	return func(name string) bool {
		_, err := inNamespace.Get(name)
		return err == nil
	}
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

// registryWriter writes the registries' keys: one merge patch per namespace
// at a time, carrying every change waiting for it.
//
// Each merge patch makes the API server rewrite the whole ConfigMap (with a
// thousand sites, about 90 KB, sent again to every watcher of it), so a patch
// per key makes a namespace's N creates or deletes cost N*N. Instead, the
// changes that arrive while a patch of their namespace is in flight wait for
// it to end and then go together in the next one ({"data": {A: URL, B: null,
// ...}}), like a database's group commit: no change waits longer than one
// patch, and under load a patch carries as many keys as there are workers
// waiting. SPEC.md allows this batching; every caller gets the error of the
// patch that carried its change, and its key is retried by the work queue
// like any failed reconcile. Python's registry.py has the same RegistryWriter.
//
// The zero value is ready to use.
type registryWriter struct {
	mu         sync.Mutex
	namespaces map[string]*registryTurn
}

// registryTurn is one namespace's state: a patch in flight or not, and the
// batch of changes waiting for the next patch.
type registryTurn struct {
	sending bool
	next    *registryBatch
}

// registryBatch is the changes one patch carries (a nil value removes its
// key) and its outcome, shared by every caller whose change it holds. The
// caller that opened it sends it, once ready is closed (at once if no patch
// of the namespace was in flight, else when that patch has ended).
type registryBatch struct {
	changes map[string]any
	ready   chan struct{}
	done    chan struct{}
	err     error
}

// add adds or corrects the site's key, and removes the stray keys; it creates
// the registry when the namespace has none yet.
func (w *registryWriter) add(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace, name, url string, stray []string) error {
	changes := map[string]any{name: url}
	for _, key := range stray {
		changes[key] = nil
	}
	return w.write(ctx, configMaps, namespace, changes)
}

// remove removes the site's key. A missing registry counts as removed, so
// this works in a terminating namespace, where nothing can be created but
// patches are still allowed.
func (w *registryWriter) remove(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace, name string) error {
	return w.write(ctx, configMaps, namespace, map[string]any{name: nil})
}

// write joins the namespace's next batch, and sends it if this caller opened
// it. The waits need no deadline of their own: each ends when a patch ends,
// and every patch is bounded by its sender's context.
func (w *registryWriter) write(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace string, changes map[string]any) error {
	batch, sender := w.join(namespace, changes)
	if !sender {
		<-batch.done
		return batch.err
	}
	<-batch.ready
	w.mu.Lock()
	w.namespaces[namespace].next, w.namespaces[namespace].sending = nil, true // later changes: the next batch
	w.mu.Unlock()
	batch.err = writeRegistryEntries(ctx, configMaps, namespace, batch.changes)
	w.mu.Lock()
	close(batch.done)
	turn := w.namespaces[namespace]
	turn.sending = false
	if turn.next != nil {
		close(turn.next.ready) // its sender goes next
	} else {
		delete(w.namespaces, namespace)
	}
	w.mu.Unlock()
	return batch.err
}

// join adds changes to the namespace's waiting batch, or opens one (then the
// caller is its sender); the latest change of a key wins.
func (w *registryWriter) join(namespace string, changes map[string]any) (batch *registryBatch, sender bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.namespaces == nil {
		w.namespaces = map[string]*registryTurn{}
	}
	turn := w.namespaces[namespace]
	if turn == nil {
		turn = &registryTurn{}
		w.namespaces[namespace] = turn
	}
	if turn.next != nil {
		maps.Copy(turn.next.changes, changes)
		return turn.next, false
	}
	turn.next = &registryBatch{changes: maps.Clone(changes), ready: make(chan struct{}), done: make(chan struct{})}
	if !turn.sending {
		close(turn.next.ready)
	}
	return turn.next, true
}

// writeRegistryEntries is one merge patch of the registry. When the namespace
// has none, it creates the registry with the keys added; removing a key from
// a missing registry counts as done.
func writeRegistryEntries(ctx context.Context, configMaps corev1client.ConfigMapsGetter, namespace string, changes map[string]any) error {
	err := patchRegistry(ctx, configMaps, namespace, changes)
	if !apierrors.IsNotFound(err) {
		return err
	}
	added := map[string]string{}
	for key, value := range changes {
		if url, ok := value.(string); ok {
			added[key] = url
		}
	}
	if len(added) == 0 {
		return nil
	}
	// Two processes may both get here: the one whose create fails with 409
	// AlreadyExists patches the registry the other one created.
	err = createRegistry(ctx, configMaps, namespace, added)
	if apierrors.IsAlreadyExists(err) {
		return patchRegistry(ctx, configMaps, namespace, changes)
	}
	return err
}
