package advanced

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// The informers' handlers, over fake clients: a change to a site enqueues
// the site; a change to a child enqueues the site that controls it.
func TestInformerHandlersEnqueueSiteKeys(t *testing.T) {
	kube := kubefake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{SiteResource: "StaticSiteList"})
	keys := make(chan string, 10)
	informers, err := NewInformers(kube, dyn, "ns", func(key string) { keys <- key })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		informers.Shutdown()
	}()
	informers.Start(ctx)
	if !informers.WaitForCacheSync(ctx) || !informers.HasSynced() {
		t.Fatal("caches did not sync")
	}
	next := func(what string) string {
		t.Helper()
		select {
		case key := <-keys:
			return key
		case <-time.After(5 * time.Second):
			t.Fatalf("no key enqueued for %s", what)
			return ""
		}
	}

	site := toUnstructured(t, newSite("web"))
	if _, err := dyn.Resource(SiteResource).Namespace("ns").Create(ctx, site, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if key := next("a new site"); key != "ns/web" {
		t.Errorf("site added: key %q", key)
	}

	labels := map[string]string{ManagedByLabel: ManagerName}
	// The registry is labelled but controlled by no site: an exact one (the
	// site's key, nothing else) enqueues nothing.
	registry := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: RegistryName, Namespace: "ns", Labels: labels},
		Data:       map[string]string{"web": siteURL("ns", "web")},
	}
	if _, err := kube.CoreV1().ConfigMaps("ns").Create(ctx, registry, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owner := metav1.OwnerReference{APIVersion: APIVersion, Kind: Kind, Name: "web", UID: "uid-web", Controller: ptr.To(true)}
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "ns", Labels: labels, OwnerReferences: []metav1.OwnerReference{owner},
	}}
	if _, err := kube.AppsV1().Deployments("ns").Create(ctx, deployment, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if key := next("a new Deployment"); key != "ns/web" {
		t.Errorf("child added: key %q (the registry must enqueue nothing)", key)
	}
	if err := kube.AppsV1().Deployments("ns").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if key := next("a deleted Deployment"); key != "ns/web" {
		t.Errorf("child deleted: key %q", key)
	}
	// The ConfigMap informer runs apart from the Deployment one, so the
	// registry may reach its cache after the Deployment events: poll.
	inCache := func(context.Context) (bool, error) {
		_, err := informers.Caches.ConfigMaps.ConfigMaps("ns").Get(RegistryName)
		return err == nil, nil
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, inCache); err != nil {
		t.Errorf("the registry never reached the ConfigMap cache: %v", err)
	}
}
