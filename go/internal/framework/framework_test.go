package framework

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"controller-examples/go/internal/advanced"
)

// ----- fixtures ---------------------------------------------------------------

const ns = "demo"

// cacheWith is controller-runtime's fake client standing in for the cache:
// StaticSites are known to its scheme as unstructured objects, as to the
// manager's cache.
func cacheWith(t *testing.T, objects ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	scheme.AddKnownTypeWithName(siteGVK, &unstructured.Unstructured{})
	scheme.AddKnownTypeWithName(siteGVK.GroupVersion().WithKind(advanced.Kind+"List"), &unstructured.UnstructuredList{})
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build()
}

func site(name string) *unstructured.Unstructured {
	obj := newSite()
	obj.SetNamespace(ns)
	obj.SetName(name)
	obj.SetUID(types.UID("uid-" + name))
	obj.SetGeneration(1)
	obj.SetFinalizers([]string{advanced.Finalizer})
	obj.Object["spec"] = map[string]any{
		"replicas": int64(2), "image": "nginx:1.27.3", "content": map[string]any{"index.html": "<h1>hi</h1>"},
	}
	return obj
}

func registry(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: advanced.RegistryName},
		Data:       data,
	}
}

func url(name string) string { return "http://" + name + "." + ns + ".svc.cluster.local" }

// ----- caches.go ------------------------------------------------------------

func TestCachesReadTheFrameworksCache(t *testing.T) {
	configMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello-content"}}
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello"}}
	service := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello"}}
	caches := cachesFrom(cacheWith(t, site("hello"), site("other"), configMap, deployment, service))

	got, err := caches.Sites.ByNamespace(ns).Get("hello")
	if err != nil || got.(*unstructured.Unstructured).GetUID() != "uid-hello" {
		t.Fatalf("site: %v, %v", got, err)
	}
	sites, err := caches.Sites.ByNamespace(ns).List(labels.Everything())
	if err != nil || len(sites) != 2 {
		t.Fatalf("sites: %d, %v", len(sites), err)
	}
	if _, err := caches.ConfigMaps.ConfigMaps(ns).Get("hello-content"); err != nil {
		t.Fatal(err)
	}
	if _, err := caches.Deployments.Deployments(ns).Get("hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := caches.Services.Services(ns).Get("hello"); err != nil {
		t.Fatal(err)
	}
	// The reconciler tells "not cached" (then a live GET) by a NotFound error.
	if _, err := caches.Services.Services(ns).Get("missing"); !apierrors.IsNotFound(err) {
		t.Fatalf("a missing object: %v, want NotFound", err)
	}
}

// ----- reconciler.go: the hand-built reconcile over the framework's cache -----

func TestReconcileAppliesTheChildrenAndCountsIt(t *testing.T) {
	kube := kubefake.NewClientset()
	hello := site("hello")
	sites := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{advanced.SiteResource: advanced.Kind + "List"}, hello.DeepCopy())
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	recorder := record.NewFakeRecorder(10)
	r := &Reconciler{
		Site: &advanced.Reconciler{
			Kube: kube, Sites: sites.Resource(advanced.SiteResource),
			Caches: cachesFrom(cacheWith(t, hello)), Recorder: recorder,
		},
		Metrics: metrics,
	}

	result, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "hello"}})
	if err != nil || result != (reconcile.Result{}) {
		t.Fatalf("Reconcile: %v, %v", result, err)
	}
	var applied []string
	for _, action := range kube.Actions() {
		if patch, ok := action.(k8stesting.PatchAction); ok && patch.GetPatchType() == types.ApplyPatchType {
			applied = append(applied, patch.GetResource().Resource+" "+patch.GetName())
		}
	}
	// The order of the applies is the reconciler's business (it may apply the three at once).
	slices.Sort(applied)
	want := []string{"configmaps hello-content", "deployments hello", "services hello"}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	event := <-recorder.Events
	for _, part := range []string{"Normal Synced applied ", "ConfigMap hello-content", "Deployment hello", "Service hello"} {
		if !strings.Contains(event, part) {
			t.Fatalf("event %q does not say %q", event, part)
		}
	}
	if count := testutil.ToFloat64(metrics.Reconciles.WithLabelValues("success")); count != 1 {
		t.Fatalf("staticsite_reconcile_total{result=success} = %v, want 1", count)
	}
}

func TestReconcileOfAGoneSiteIsNothingToDo(t *testing.T) {
	kube := kubefake.NewClientset()
	metrics, _ := NewMetrics(prometheus.NewRegistry())
	r := &Reconciler{Site: &advanced.Reconciler{Kube: kube, Caches: cachesFrom(cacheWith(t))}, Metrics: metrics}
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "gone"}}); err != nil {
		t.Fatal(err)
	}
	if len(kube.Actions()) != 0 {
		t.Fatalf("requests for a gone site: %v", kube.Actions())
	}
}

// ----- registry.go ------------------------------------------------------------

func TestSitesToRepair(t *testing.T) {
	sites := []string{"a", "b", "1site"} // 1site has no Service name: it never holds a key
	for _, tc := range []struct {
		what     string
		registry *corev1.ConfigMap
		want     []string
	}{
		{"deleted: every site", nil, []string{"a", "b"}},
		{"all keys right: none", registry(map[string]string{"a": url("a"), "b": url("b")}), []string{}},
		{"a key missing: its site", registry(map[string]string{"a": url("a")}), []string{"b"}},
		{"a stray key: every site", registry(map[string]string{"a": url("a"), "b": url("b"), "c": url("c")}), []string{"a", "b"}},
		{"a wrong value: every site", registry(map[string]string{"a": "http://elsewhere", "b": url("b")}), []string{"a", "b"}},
	} {
		if got := sitesToRepair(tc.registry, ns, sites); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, got, tc.want)
		}
	}
}

func TestRegistryHandlerEnqueuesTheSitesConcerned(t *testing.T) {
	handler := registryHandler(cacheWith(t, site("a"), site("b")))
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer queue.ShutDown()

	handler.Update(context.Background(), event.UpdateEvent{
		ObjectOld: registry(map[string]string{"a": url("a"), "b": url("b")}),
		ObjectNew: registry(map[string]string{"a": url("a")}),
	}, queue)
	if got := drain(queue); !slices.Equal(got, []string{ns + "/b"}) {
		t.Fatalf("after b's key was removed: %v", got)
	}
	handler.Delete(context.Background(), event.DeleteEvent{Object: registry(map[string]string{"a": url("a")})}, queue)
	if got := drain(queue); !slices.Equal(got, []string{ns + "/a", ns + "/b"}) {
		t.Fatalf("after the registry was deleted: %v", got)
	}
}

func drain(queue workqueue.TypedRateLimitingInterface[reconcile.Request]) []string {
	var keys []string
	for queue.Len() > 0 {
		request, _ := queue.Get()
		keys = append(keys, request.String())
		queue.Done(request)
	}
	slices.Sort(keys)
	return keys
}

func TestOwnsIgnoresAnOwnerNameNoSiteCanHave(t *testing.T) {
	owned := &ownedBySiteName{}
	child := func(owner string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: "child", UID: types.UID("uid-" + owner),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: advanced.APIVersion, Kind: advanced.Kind, Name: owner, UID: "x", Controller: ptr.To(true),
			}},
		}}
	}
	if !owned.allows(child("hello")) || !owned.allows(child("a.b")) {
		t.Fatal("a StaticSite name was refused")
	}
	for _, hostile := range []string{"../x", "a b", "UPPER", "a\nb"} {
		if owned.allows(child(hostile)) || owned.allows(child(hostile)) {
			t.Errorf("owner %q was allowed", hostile)
		}
	}
	if !owned.allows(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: advanced.RegistryName}}) {
		t.Fatal("an object without an owner was refused (Owns ignores it by itself)")
	}
}

// ----- leader.go ------------------------------------------------------------

// recordingLock is a resourcelock.Interface that remembers what was written.
type recordingLock struct {
	resourcelock.Interface
	updates  []string
	deadline time.Time // of the last request's context
}

func (l *recordingLock) Identity() string { return "me" }

func (l *recordingLock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	l.deadline, _ = ctx.Deadline()
	l.updates = append(l.updates, record.HolderIdentity)
	return nil
}

func TestTheLeaseIsReleasedOnlyAfterSIGTERM(t *testing.T) {
	inner := &recordingLock{}
	lock := &leaseLock{LeaseLock: &advanced.LeaseLock{Interface: inner}, renewDeadline: 4 * time.Second}
	if err := lock.Update(context.Background(), resourcelock.LeaderElectionRecord{}); err == nil {
		t.Fatal("a release before SIGTERM was not refused")
	}
	lock.AllowRelease()
	if err := lock.Update(context.Background(), resourcelock.LeaderElectionRecord{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inner.updates, []string{""}) {
		t.Fatalf("updates %q", inner.updates)
	}
}

func TestARenewalIsBoundedByTheLastOnePlusTheRenewDeadline(t *testing.T) {
	inner := &recordingLock{}
	lock := &leaseLock{LeaseLock: &advanced.LeaseLock{Interface: inner}, renewDeadline: 4 * time.Second}
	if !lock.deadline().IsZero() {
		t.Fatal("a process that never led has a deadline")
	}
	before := time.Now()
	if err := lock.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	if got := lock.deadline(); got.Before(before.Add(4 * time.Second)) {
		t.Fatalf("deadline %v is earlier than the renewal + 4 s", got)
	}
	first := lock.deadline()
	if err := lock.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	if !inner.deadline.Equal(first) {
		t.Fatalf("the next renewal's request had the deadline %v, want %v (the last renewal + 4 s)", inner.deadline, first)
	}
}

func TestTheFenceRefusesWritesOnceTheLeaseMayBeLost(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer server.Close()
	var deadline time.Time // never led
	transport := fence(func() time.Time { return deadline })(http.DefaultTransport)
	send := func(method string) error {
		request, _ := http.NewRequest(method, server.URL, nil)
		response, err := transport.RoundTrip(request)
		if err == nil {
			err = response.Body.Close()
		}
		return err
	}
	if err := send(http.MethodGet); err != nil {
		t.Fatalf("a read was refused: %v", err)
	}
	if err := send(http.MethodPatch); !errors.Is(err, errLeaseMayBeLost) {
		t.Fatalf("a write of a process that never led: %v", err)
	}
	deadline = time.Now().Add(time.Hour)
	if err := send(http.MethodPatch); err != nil {
		t.Fatalf("a write while leading was refused: %v", err)
	}
	deadline = time.Now().Add(-time.Hour)
	if err := send(http.MethodPost); !errors.Is(err, errLeaseMayBeLost) {
		t.Fatalf("a write after the renew deadline: %v", err)
	}
}

// ----- endpoints.go -----------------------------------------------------------

func TestMetricsAreSPECsNames(t *testing.T) {
	registry := prometheus.NewRegistry()
	metrics, err := NewMetrics(registry)
	if err != nil {
		t.Fatal(err)
	}
	queue := metrics.newQueue("test", workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer queue.ShutDown()
	queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "a"}})
	metrics.ObserveReconcile(time.Millisecond, errors.New("retry"))
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, family := range families {
		for _, metric := range family.GetMetric() {
			values[family.GetName()] += metric.GetGauge().GetValue() + metric.GetCounter().GetValue() +
				float64(metric.GetHistogram().GetSampleCount())
		}
	}
	want := map[string]float64{
		"staticsite_reconcile_total": 1, "staticsite_reconcile_duration_seconds": 1,
		"staticsite_queue_depth": 1, "staticsite_leader": 0,
	}
	for name, value := range want {
		if got, ok := values[name]; !ok || got != value {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, value)
		}
	}
}

func TestReadiness(t *testing.T) {
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &state{metrics: metrics}
	if s.ready(false)(nil) == nil {
		t.Fatal("ready before the caches synced")
	}
	if s.ready(true)(nil) != nil {
		t.Fatal("a standby is not ready")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = leaderRunnable{s}.Start(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !s.leading.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling the flag, with a deadline
	}
	if s.ready(true)(nil) == nil {
		t.Fatal("a leader is ready before the caches synced")
	}
	_ = cachesSynced{s}.Start(ctx)
	if s.ready(true)(nil) != nil {
		t.Fatal("a leader with synced caches is not ready")
	}
	cancel()
	<-done
}
