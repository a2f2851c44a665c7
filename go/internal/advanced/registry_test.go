package advanced

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	wantList(t, "stray keys", strayRegistryKeys(registry, []string{"a", "1st", "deleting"}), []string{"1st", "UP", "gone"})
	wantList(t, "stray keys of no registry", strayRegistryKeys(nil, []string{"a"}), nil)
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
