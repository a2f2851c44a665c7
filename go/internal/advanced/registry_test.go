package advanced

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// The registry is exact (SPEC.md, "Finalizer and registry"): which keys are
// stray, which sites a change of the registry concerns, and the reconcile
// that adds its key and removes stray ones in one merge patch.

func registryWith(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: RegistryName, Namespace: "ns", Labels: map[string]string{ManagedByLabel: ManagerName}},
		Data:       data,
	}
}

func TestStrayRegistryKeys(t *testing.T) {
	registry := registryWith(map[string]string{
		"a": siteURL("ns", "a"), "gone": siteURL("ns", "gone"), "1st": "x", "UP": "y", "deleting": siteURL("ns", "deleting"),
	})
	sites := cachedSitesIn(t, "ns", "a", "1st", "deleting")
	wantList(t, "stray keys", strayRegistryKeys(registry, cachedSite(sites, "ns")), []string{"1st", "UP", "gone"})
	wantList(t, "stray keys of no registry", strayRegistryKeys(nil, cachedSite(sites, "ns")), nil)
	// Sites of the same names in another namespace hold no key of this one.
	elsewhere := cachedSitesIn(t, "other", "a", "deleting")
	wantList(t, "stray keys, sites elsewhere", strayRegistryKeys(registry, cachedSite(elsewhere, "ns")),
		[]string{"1st", "UP", "a", "deleting", "gone"})
	// A key is looked up as a name, never as a path: none of these reaches
	// site "a" (of this or another namespace).
	hostile := map[string]string{"ns/a": "x", "other/a": "x", "../a": "x", "a\n": "x", "a ": "x", "$(a)": "x", "a🙂": "x"}
	wantList(t, "hostile keys", strayRegistryKeys(registryWith(hostile), cachedSite(cachedSitesIn(t, "ns", "a"), "ns")),
		[]string{"$(a)", "../a", "a\n", "a ", "a🙂", "ns/a", "other/a"})
}

// cachedSitesIn is a site cache holding sites of these names in namespace.
func cachedSitesIn(t *testing.T, namespace string, names ...string) cache.GenericLister {
	t.Helper()
	sites := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, name := range names {
		site := newSite(name)
		site.Namespace = namespace
		if err := sites.Add(toUnstructured(t, site)); err != nil {
			t.Fatal(err)
		}
	}
	return cache.NewGenericLister(sites, SiteResource.GroupResource())
}

func TestSitesToRepair(t *testing.T) {
	names := []string{"a", "b", "1st"}
	for _, tc := range []struct {
		what     string
		registry *corev1.ConfigMap
		want     []string
	}{
		{"exact", registryWith(map[string]string{"a": siteURL("ns", "a"), "b": siteURL("ns", "b")}), []string{}},
		{"a missing key", registryWith(map[string]string{"a": siteURL("ns", "a")}), []string{"b"}},
		{"another value", registryWith(map[string]string{"a": siteURL("ns", "a"), "b": "http://elsewhere"}), []string{"a", "b"}},
		{"a stray key", registryWith(map[string]string{"a": siteURL("ns", "a"), "b": siteURL("ns", "b"), "gone": siteURL("ns", "gone")}), []string{"a", "b"}},
		{"deleted", nil, []string{"a", "b"}},
	} {
		got := sitesToRepair(tc.registry, "ns", names)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		wantList(t, tc.what, got, tc.want)
	}
}

func TestReconcileRemovesStrayKeysWithItsOwnInOnePatch(t *testing.T) {
	e := reconciledEnv(t)
	other := newSite("other")
	e.cache(toUnstructured(t, other))
	registry := registryWith(map[string]string{"web": siteURL("ns", "web"), "other": siteURL("ns", "other"), "gone": "x"})
	if _, err := e.kube.CoreV1().ConfigMaps("ns").Update(context.Background(), registry, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.cache(registry)
	e.clearActions()
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "writes", e.writes(), []string{"patch configmaps staticsite-registry"})
	got, err := e.kube.CoreV1().ConfigMaps("ns").Get(context.Background(), RegistryName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"web": siteURL("ns", "web"), "other": siteURL("ns", "other")}; !jsonEqual(got.Data, want) {
		t.Errorf("registry data %v, want %v", got.Data, want)
	}
}

func TestReconcileLeavesTheKeyOfASiteBeingDeletedToItsFinalizer(t *testing.T) {
	e := reconciledEnv(t)
	leaving := deletedSite()
	leaving.Name, leaving.UID = "leaving", "uid-leaving"
	e.cache(toUnstructured(t, leaving))
	e.cache(registryWith(map[string]string{"web": siteURL("ns", "web"), "leaving": siteURL("ns", "leaving")}))
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "writes", e.writes(), nil)
}

// A change of the registry enqueues the sites whose key is missing or
// wrong, or every site of its namespace (only those that can hold a key).
func TestRegistryEventsEnqueueTheSitesToRepair(t *testing.T) {
	sites := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, name := range []string{"a", "b", "1st"} {
		if err := sites.Add(toUnstructured(t, newSite(name))); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	handler := newChildHandler("ConfigMap", func(key string) { keys = append(keys, key) },
		cache.NewGenericLister(sites, SiteResource.GroupResource()))

	handler.onChange(registryWith(map[string]string{"a": siteURL("ns", "a"), "b": siteURL("ns", "b")}), false)
	wantList(t, "an exact registry", keys, nil)
	handler.onChange(registryWith(map[string]string{"a": siteURL("ns", "a")}), false)
	wantList(t, "a missing key", keys, []string{"ns/b"})
	keys = nil
	handler.onChange(registryWith(map[string]string{"a": siteURL("ns", "a"), "b": siteURL("ns", "b")}), true)
	wantList(t, "a deleted registry", sorted(keys), []string{"ns/a", "ns/b"})
	keys = nil
	handler.onChange(cache.DeletedFinalStateUnknown{Key: "ns/" + RegistryName, Obj: registryWith(nil)}, true)
	wantList(t, "a deleted registry (tombstone)", sorted(keys), []string{"ns/a", "ns/b"})
}

func sorted(keys []string) []string {
	return slices.Sorted(slices.Values(keys))
}

// TestRegistryWriterBatchesChangesThatWaitForAPatch: while one patch of a
// namespace is in flight, the changes that arrive wait, then go together in
// one patch; each caller gets the outcome of the patch that carried its
// change.
func TestRegistryWriterBatchesChangesThatWaitForAPatch(t *testing.T) {
	kube := fake.NewClientset(registryWith(map[string]string{"c": "http://c.ns.svc.cluster.local"}))
	entered, release := make(chan struct{}), make(chan struct{})
	var patches []string
	var first sync.Once
	kube.PrependReactor("patch", "configmaps", func(action clienttesting.Action) (bool, runtime.Object, error) {
		patches = append(patches, string(action.(clienttesting.PatchAction).GetPatch()))
		first.Do(func() { close(entered); <-release }) // the first patch stays in flight until released
		return false, nil, nil
	})
	var writer registryWriter
	ctx, errs := context.Background(), make(chan error, 3)
	go func() { errs <- writer.add(ctx, kube.CoreV1(), "ns", "a", "http://a.ns.svc.cluster.local", nil) }()
	<-entered
	go func() { errs <- writer.add(ctx, kube.CoreV1(), "ns", "b", "http://b.ns.svc.cluster.local", nil) }()
	go func() { errs <- writer.remove(ctx, kube.CoreV1(), "ns", "c") }()
	waiting := func() int {
		writer.mu.Lock()
		defer writer.mu.Unlock()
		if next := writer.namespaces["ns"].next; next != nil {
			return len(next.changes)
		}
		return 0
	}
	for deadline := time.Now().Add(10 * time.Second); waiting() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the two changes did not join the next batch: %d waiting", waiting())
		}
	}
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wantList(t, "patches", patches, []string{
		`{"data":{"a":"http://a.ns.svc.cluster.local"}}`,
		`{"data":{"b":"http://b.ns.svc.cluster.local","c":null}}`,
	})
	after, _ := kube.CoreV1().ConfigMaps("ns").Get(ctx, RegistryName, metav1.GetOptions{})
	if len(after.Data) != 2 || after.Data["b"] == "" || after.Data["a"] == "" {
		t.Errorf("registry after: %v", after.Data)
	}
	if len(writer.namespaces) != 0 {
		t.Errorf("a namespace with nothing waiting is forgotten, got %v", writer.namespaces)
	}
}
