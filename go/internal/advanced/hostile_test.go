package advanced

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// Hostile object fields are data, never syntax: owner names no StaticSite
// can have, from the list the three languages share, go through the
// informer's handler and enqueue nothing.

func hostileOwnerNames(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../../shared-manifests/testdata/hostile-owner-names.json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Names []struct{ Name string } `json:"names"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range list.Names {
		names = append(names, entry.Name)
	}
	if len(names) < 10 || !slices.Contains(names, "a b") || !slices.Contains(names, "../victim") {
		t.Fatalf("the shared list lacks names the issue asks for: %q", names)
	}
	return names
}

func childOf(name, owner string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", Labels: map[string]string{ManagedByLabel: ManagerName},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: APIVersion, Kind: Kind, Name: owner, UID: types.UID("no-such-uid"), Controller: ptr.To(true),
		}},
	}}
}

func noSites() cache.GenericLister {
	return cache.NewGenericLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}), SiteResource.GroupResource())
}

func TestHostileOwnerNamesEnqueueNothingAndAreLoggedOnce(t *testing.T) {
	var keys []string
	handler := newChildHandler("ConfigMap", func(key string) { keys = append(keys, key) }, noSites())
	names := hostileOwnerNames(t)
	for round := 0; round < 3; round++ { // seen again: an update, a re-list
		for i, name := range names {
			if isSiteKey("ns/" + name) {
				t.Errorf("%q passes as a site name", name)
			}
			handler.onChange(childOf("child-"+strings.Repeat("x", i), name), false)
		}
	}
	wantList(t, "keys", keys, nil)
	if len(handler.ignored) != len(names) {
		t.Errorf("%d objects ignored (logged), want %d: one each", len(handler.ignored), len(names))
	}
	handler.onChange(childOf("child-", "a b"), true)
	if handler.ignored["ns/child-"] {
		t.Error("a deleted object is still remembered as ignored")
	}
}

func TestAnOwnerThatTurnsValidIsEnqueued(t *testing.T) {
	var keys []string
	handler := newChildHandler("Deployment", func(key string) { keys = append(keys, key) }, noSites())
	handler.onChange(childOf("web", "a b"), false)
	handler.onChange(childOf("web", "site-a"), false)
	if handler.ignored["ns/web"] {
		t.Error("an object with a valid owner is still remembered as ignored")
	}
	for _, name := range []string{"a", "a.b", "1site", strings.Repeat("a", 253)} {
		handler.onChange(childOf("svc", name), false)
	}
	wantList(t, "keys", keys, []string{"ns/site-a", "ns/a", "ns/a.b", "ns/1site", "ns/" + strings.Repeat("a", 253)})
}

func TestAReownedChildEnqueuesItsOldSiteToo(t *testing.T) {
	var keys []string
	handler := newChildHandler("Service", func(key string) { keys = append(keys, key) }, noSites())
	handler.onReowned(childOf("web", "site-a"), childOf("web", "site-b"))
	handler.onReowned(childOf("web", "site-b"), childOf("web", "site-b")) // the same owner: nothing more
	handler.onReowned(childOf("web", "a b"), childOf("web", "site-b"))    // an owner no site can be: ignored
	wantList(t, "keys", keys, []string{"ns/site-a"})
}
