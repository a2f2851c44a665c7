package advanced

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// The reconciler's decisions, against client-go's fake clients (which
// record every request as an "action") and caches filled by hand, as an
// informer would fill them.

var testNow = metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))

type testEnv struct {
	t        *testing.T
	kube     *kubefake.Clientset
	dyn      *dynamicfake.FakeDynamicClient
	recorder *record.FakeRecorder
	caches   map[string]cache.Indexer // by kind, "StaticSite" included
	r        *Reconciler
	actions  []clienttesting.Action // the requests to both fake clients, in order
}

func newTestEnv(t *testing.T, site *StaticSite, kubeObjects ...runtime.Object) *testEnv {
	t.Helper()
	e := &testEnv{
		t:        t,
		kube:     kubefake.NewClientset(kubeObjects...),
		recorder: record.NewFakeRecorder(10),
		caches:   map[string]cache.Indexer{},
	}
	var sites []runtime.Object
	if site != nil {
		sites = append(sites, toUnstructured(t, site))
	}
	e.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{SiteResource: "StaticSiteList"}, sites...)
	record := func(action clienttesting.Action) (bool, runtime.Object, error) {
		e.actions = append(e.actions, action.DeepCopy())
		return false, nil, nil // and let the fake's object tracker answer
	}
	e.kube.PrependReactor("*", "*", record)
	e.dyn.PrependReactor("*", "*", record)
	for _, kind := range []string{Kind, KindConfigMap, KindDeployment, KindService} {
		e.caches[kind] = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	if site != nil {
		e.cache(toUnstructured(t, site))
	}
	e.r = &Reconciler{
		Kube:  e.kube,
		Sites: e.dyn.Resource(SiteResource),
		Caches: Caches{
			Sites:       cache.NewGenericLister(e.caches[Kind], SiteResource.GroupResource()),
			ConfigMaps:  corelisters.NewConfigMapLister(e.caches[KindConfigMap]),
			Deployments: appslisters.NewDeploymentLister(e.caches[KindDeployment]),
			Services:    corelisters.NewServiceLister(e.caches[KindService]),
		},
		Recorder: e.recorder,
		Now:      func() metav1.Time { return testNow },
	}
	return e
}

func toUnstructured(t *testing.T, site *StaticSite) *unstructured.Unstructured {
	t.Helper()
	site.APIVersion, site.Kind = APIVersion, Kind
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(site)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: content}
}

// cache puts objects into the informer caches, as a watch event would.
func (e *testEnv) cache(objects ...runtime.Object) {
	for _, obj := range objects {
		kind := Kind
		switch obj.(type) {
		case *corev1.ConfigMap:
			kind = KindConfigMap
		case *appsv1.Deployment:
			kind = KindDeployment
		case *corev1.Service:
			kind = KindService
		}
		if err := e.caches[kind].Update(obj); err != nil {
			e.t.Fatal(err)
		}
	}
}

// catchUp fills the caches with what the fake API server now holds, as the
// informers would once the watch events of our writes arrived.
func (e *testEnv) catchUp(namespace string) {
	ctx := context.Background()
	site, err := e.dyn.Resource(SiteResource).Namespace(namespace).Get(ctx, "web", metav1.GetOptions{})
	if err == nil {
		e.cache(site)
	}
	configMaps, _ := e.kube.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{})
	for i := range configMaps.Items {
		e.cache(&configMaps.Items[i])
	}
	deployments, _ := e.kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	for i := range deployments.Items {
		e.cache(&deployments.Items[i])
	}
	services, _ := e.kube.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	for i := range services.Items {
		e.cache(&services.Items[i])
	}
}

// reconciledEnv is a test environment after one successful reconcile of
// ns/web, with the caches caught up and its requests and events forgotten:
// the starting point of every "what does the next reconcile do" test.
func reconciledEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t, newSite("web"))
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	e.catchUp("ns")
	e.events()
	e.clearActions()
	return e
}

// cacheDriftedDeployment: the cache's Deployment "web" shows an older image
// at resourceVersion version, so the reconciler sees drift.
func (e *testEnv) cacheDriftedDeployment(version string) {
	deployment, _ := e.r.Caches.Deployments.Deployments("ns").Get("web")
	stale := deployment.DeepCopy()
	stale.Spec.Template.Spec.Containers[0].Image = "nginx:1.25"
	stale.ResourceVersion = version
	e.cache(stale)
}

// concurrent sorts got[from:to]: requests sent at the same time, whose
// order is the scheduler's (want lists them sorted).
func concurrent(got []string, from, to int) []string {
	if len(got) >= to {
		slices.Sort(got[from:to])
	}
	return got
}

// appliedResourceVersion is the resourceVersion the apply of that resource
// carried ("" for none).
func (e *testEnv) appliedResourceVersion(resource string) string {
	for _, action := range e.actions {
		if patch, ok := action.(clienttesting.PatchAction); ok && patch.GetPatchType() == types.ApplyPatchType &&
			action.GetResource().Resource == resource {
			var applied struct {
				Metadata struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(patch.GetPatch(), &applied); err != nil {
				e.t.Fatal(err)
			}
			return applied.Metadata.ResourceVersion
		}
	}
	e.t.Fatalf("no apply of %s", resource)
	return ""
}

func (e *testEnv) clearActions() {
	e.actions = nil
}

// requests lists the requests made, as "verb resource[/subresource] name"
// ("patch apply ..." for server-side apply), lists and watches left out.
func (e *testEnv) requests() []string {
	var out []string
	for _, action := range e.actions {
		if action.GetVerb() == "list" || action.GetVerb() == "watch" {
			continue
		}
		resource := action.GetResource().Resource
		if action.GetSubresource() != "" {
			resource += "/" + action.GetSubresource()
		}
		name := ""
		switch a := action.(type) {
		case clienttesting.PatchAction: // before GetAction, which it also is
			name = a.GetName()
			if a.GetPatchType() == types.ApplyPatchType {
				resource = "apply " + resource
			}
		case clienttesting.GetAction:
			name = a.GetName()
		case clienttesting.CreateAction:
			name = a.GetObject().(metav1.Object).GetName()
		}
		out = append(out, strings.TrimSpace(action.GetVerb()+" "+resource+" "+name))
	}
	return out
}

func (e *testEnv) writes() []string {
	return slices.DeleteFunc(e.requests(), func(r string) bool { return strings.HasPrefix(r, "get ") })
}

func (e *testEnv) events() []string {
	var out []string
	for {
		select {
		case event := <-e.recorder.Events:
			out = append(out, event)
		default:
			return out
		}
	}
}

func (e *testEnv) site(namespace, name string) *StaticSite {
	e.t.Helper()
	obj, err := e.dyn.Resource(SiteResource).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	site, err := siteFrom(obj)
	if err != nil {
		e.t.Fatal(err)
	}
	return site
}

func newSite(name string) *StaticSite {
	return &StaticSite{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Generation: 1, ResourceVersion: "10",
		},
		Spec: StaticSiteSpec{Replicas: 1, Image: "nginx:1.27.3", Content: map[string]string{"index.html": "<h1>web</h1>"}},
	}
}

func wantList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestReconcileNewSite(t *testing.T) {
	e := newTestEnv(t, newSite("web"))
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", concurrent(concurrent(e.requests(), 3, 6), 6, 9), []string{
		"patch staticsites web",                 // 3. the finalizer
		"patch configmaps staticsite-registry",  // 5. the registry: missing,
		"create configmaps staticsite-registry", //    so created
		"get configmaps web-content",            // 6. not in the cache: live GETs, at the same time
		"get deployments web",
		"get services web",
		"patch apply configmaps web-content", // 7. server-side apply, at the same time
		"patch apply deployments web",
		"patch apply services web",
		"patch staticsites/status web", // 8. the status
	})
	wantList(t, "events", e.events(), []string{"Normal Synced applied ConfigMap web-content, Deployment web, Service web"})

	finalizerPatch := e.actions[0].(clienttesting.PatchAction)
	var patch map[string]map[string]any
	if err := json.Unmarshal(finalizerPatch.GetPatch(), &patch); err != nil {
		t.Fatal(err)
	}
	if patch["metadata"]["resourceVersion"] != "10" || patch["metadata"]["finalizers"].([]any)[0] != Finalizer {
		t.Errorf("finalizer patch %s: want the finalizer and the resourceVersion read", finalizerPatch.GetPatch())
	}
	for _, action := range e.actions {
		if patch, ok := action.(clienttesting.PatchActionImpl); ok && patch.GetPatchType() == types.ApplyPatchType {
			if options := patch.GetPatchOptions(); options.FieldManager != ManagerName || !*options.Force {
				t.Errorf("apply of %s with options %+v", patch.GetName(), options)
			}
		}
	}

	site := e.site("ns", "web")
	ready := site.Status.Conditions[0]
	if ready.Reason != ReasonProgressing || ready.Message != "0/1 replicas ready" || ready.Status != metav1.ConditionFalse ||
		!ready.LastTransitionTime.Equal(&testNow) || site.Status.URL != "http://web.ns.svc.cluster.local" {
		t.Errorf("status %+v", site.Status)
	}
	registry, _ := e.kube.CoreV1().ConfigMaps("ns").Get(context.Background(), RegistryName, metav1.GetOptions{})
	if registry.Data["web"] != "http://web.ns.svc.cluster.local" || registry.Labels[ManagedByLabel] != ManagerName ||
		len(registry.OwnerReferences) != 0 {
		t.Errorf("registry %+v", registry)
	}
}

func TestReconcileTwiceWritesNothingTheSecondTime(t *testing.T) {
	e := reconciledEnv(t)

	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests of a no-op reconcile", e.requests(), nil)
	wantList(t, "events of a no-op reconcile", e.events(), nil)
}

func TestDeploymentRolledOutMakesTheSiteAvailable(t *testing.T) {
	e := reconciledEnv(t)
	ctx := context.Background()
	deployment, _ := e.r.Caches.Deployments.Deployments("ns").Get("web")
	rolledOut := deployment.DeepCopy()
	rolledOut.Status = appsv1.DeploymentStatus{ObservedGeneration: rolledOut.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1}
	e.cache(rolledOut)

	if err := e.r.Reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", e.requests(), []string{"patch staticsites/status web"})
	site := e.site("ns", "web")
	if c := site.Status.Conditions[0]; c.Reason != ReasonAvailable || c.Message != "1/1 replicas ready" || site.Status.ReadyReplicas != 1 {
		t.Errorf("status %+v", site.Status)
	}
}

// rememberApplied makes the reconciler remember the Deployment "web" as its
// last apply returned it, at resourceVersion version.
func (e *testEnv) rememberApplied(version string) {
	deployment, _ := e.r.Caches.Deployments.Deployments("ns").Get("web")
	applied := deployment.DeepCopy()
	applied.ResourceVersion = version
	e.r.remember(childKinds[deploymentIndex], applied)
}

func TestACacheBehindTheLastApplyIsAnsweredByIt(t *testing.T) {
	e := reconciledEnv(t)
	// The cache still shows the Deployment from before our last apply (an
	// older resourceVersion, an older spec): the watch has not delivered the
	// apply yet. What the apply returned is up to date: nothing to write.
	e.rememberApplied("6")
	e.cacheDriftedDeployment("5")

	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", e.requests(), nil)
}

func TestADriftedCacheNewerThanTheLastApplyIsApplied(t *testing.T) {
	e := reconciledEnv(t)
	e.rememberApplied("6")
	e.cacheDriftedDeployment("7") // someone changed it after our apply

	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", e.requests(), []string{"patch apply deployments web"})
	if version := e.appliedResourceVersion("deployments"); version != "7" {
		t.Errorf("applied with resourceVersion %q, want the cached object's", version)
	}
}

func TestDriftIsRepaired(t *testing.T) {
	e := reconciledEnv(t)
	ctx := context.Background()
	// Someone edits the Deployment and deletes the Service.
	deployment, _ := e.kube.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	deployment.Spec.Replicas = ptr.To(int32(5))
	if _, err := e.kube.AppsV1().Deployments("ns").Update(ctx, deployment, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.kube.CoreV1().Services("ns").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.caches[KindService].Delete(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	e.catchUp("ns")
	e.clearActions()

	if err := e.r.Reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", concurrent(e.requests(), 1, 3), []string{
		"get services web",
		"patch apply deployments web", // no live GET: the cache shows the edit
		"patch apply services web",
	})
	cached, _ := e.r.Caches.Deployments.Deployments("ns").Get("web")
	if version := e.appliedResourceVersion("deployments"); version != cached.ResourceVersion {
		t.Errorf("Deployment applied with resourceVersion %q, want the cached %q", version, cached.ResourceVersion)
	}
	if version := e.appliedResourceVersion("services"); version != "" {
		t.Errorf("a missing Service applied with resourceVersion %q", version)
	}
	wantList(t, "events", e.events(), []string{"Normal Synced applied Deployment web, Service web"})
	repaired, _ := e.kube.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	if *repaired.Spec.Replicas != 1 {
		t.Errorf("replicas %d after repair", *repaired.Spec.Replicas)
	}
}

func TestConflictWritesNoChild(t *testing.T) {
	squatter := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web-content", Namespace: "ns", Labels: map[string]string{"owner": "someone-else"}},
		Data:       map[string]string{"keep": "me"},
	}
	e := newTestEnv(t, newSite("web"), squatter)
	ctx := context.Background()
	err := e.r.Reconcile(ctx, "ns/web")
	var conflict *ChildConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("Reconcile = %v, want a ChildConflictError", err)
	}
	wantList(t, "writes", e.writes(), []string{
		"patch staticsites web",
		"patch configmaps staticsite-registry",
		"create configmaps staticsite-registry",
		"patch staticsites/status web",
	})
	message := "ConfigMap web-content exists and is not controlled by this StaticSite"
	wantList(t, "events", e.events(), []string{"Warning ChildConflict " + message})
	site := e.site("ns", "web")
	if c := site.Status.Conditions[0]; c.Reason != ReasonChildConflict || c.Message != message || c.Status != metav1.ConditionFalse {
		t.Errorf("condition %+v", c)
	}

	// The retry finds the same conflict: no new status, no new event, still an error.
	e.catchUp("ns")
	e.clearActions()
	if err := e.r.Reconcile(ctx, "ns/web"); !errors.As(err, &conflict) {
		t.Fatalf("retry: Reconcile = %v, want a ChildConflictError", err)
	}
	wantList(t, "writes of the retry", e.writes(), nil)
	wantList(t, "events of the retry", e.events(), nil)
}

func TestConflictNamesTheFirstForeignChild(t *testing.T) {
	foreignService := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	otherOwner := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: APIVersion, Kind: Kind, Name: "web", UID: "uid-of-an-older-web", Controller: ptr.To(true)}}}}
	e := newTestEnv(t, newSite("web"), foreignService, otherOwner)
	err := e.r.Reconcile(context.Background(), "ns/web")
	if err == nil || err.Error() != "Deployment web exists and is not controlled by this StaticSite" {
		t.Errorf("Reconcile = %v", err)
	}
}

func TestInvalidNameIsReportedNotRetried(t *testing.T) {
	e := newTestEnv(t, newSite("1st-site"))
	if err := e.r.Reconcile(context.Background(), "ns/1st-site"); err != nil {
		t.Fatalf("Reconcile = %v, want nil (retrying would not help)", err)
	}
	wantList(t, "requests", e.requests(), []string{"patch staticsites 1st-site", "patch staticsites/status 1st-site"})
	wantList(t, "events", e.events(), []string{"Warning InvalidSpec " + invalidNameVerdict("1st-site").Message})
	if c := e.site("ns", "1st-site").Status.Conditions[0]; c.Reason != ReasonInvalidSpec {
		t.Errorf("condition %+v", c)
	}
}

func TestContentTooLargeForAConfigMapIsReportedNotRetried(t *testing.T) {
	// 20 files of 16384 emoji: what maxLength (characters) lets in, 1.25 MiB of UTF-8.
	site := newSite("web")
	site.Spec.Content = map[string]string{}
	for i := range 20 {
		site.Spec.Content[fmt.Sprintf("f%02d", i)] = strings.Repeat("😀", 16384)
	}
	e := newTestEnv(t, site)
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatalf("Reconcile = %v, want nil (retrying would not help)", err)
	}
	wantList(t, "writes", e.writes(), []string{"patch staticsites web", "patch staticsites/status web"})
	message := "content is 1310780 bytes: a ConfigMap holds at most 1048576 bytes (1 MiB) of file names and bodies"
	wantList(t, "events", e.events(), []string{"Warning InvalidSpec " + message})
	if c := e.site("ns", "web").Status.Conditions[0]; c.Reason != ReasonInvalidSpec || c.Message != message {
		t.Errorf("condition %+v", c)
	}
}

func TestAChildRefusedAsInvalidIsReportedNotRetried(t *testing.T) {
	e := newTestEnv(t, newSite("web"))
	refusal := apierrors.NewInvalid(schema.GroupKind{Kind: KindDeployment}, "web",
		field.ErrorList{field.Invalid(field.NewPath("spec"), "x", "refused by a policy")})
	e.kube.PrependReactor("patch", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, refusal
	})
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatalf("Reconcile = %v, want nil (retrying would not help)", err)
	}
	message := "Deployment web cannot be written: " + refusal.Error()
	wantList(t, "events", e.events(), []string{
		"Normal Synced applied ConfigMap web-content, Service web", // applied alongside
		"Warning InvalidSpec " + message,
	})
	if c := e.site("ns", "web").Status.Conditions[0]; c.Reason != ReasonInvalidSpec || c.Message != message {
		t.Errorf("condition %+v", c)
	}
}

func TestADriftedChildReOwnedMeanwhileIsAConflictNotTakenOver(t *testing.T) {
	e := reconciledEnv(t)
	ctx := context.Background()
	// The cache shows our Deployment, drifted; the live one is now another site's.
	e.cacheDriftedDeployment("7")
	live, _ := e.kube.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	live.OwnerReferences[0].UID, live.OwnerReferences[0].Name = "uid-other", "other"
	live.Spec.Replicas = ptr.To(int32(7))
	live.ResourceVersion = "8"
	if _, err := e.kube.AppsV1().Deployments("ns").Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The apply carries the cached resourceVersion, so the API server
	// refuses it (409): the object changed since. (The fake does not check
	// the precondition: this reactor does.)
	e.kube.PrependReactor("patch", "deployments", func(action clienttesting.Action) (bool, runtime.Object, error) {
		e.actions = append(e.actions, action.DeepCopy())
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web",
			errors.New("the object has been modified"))
	})
	e.clearActions()

	if err := e.r.Reconcile(ctx, "ns/web"); err == nil || !apierrors.IsConflict(err) {
		t.Fatalf("Reconcile = %v, want the 409 (a retry)", err)
	}
	if applied := e.appliedResourceVersion("deployments"); applied != "7" {
		t.Errorf("applied with resourceVersion %q, want the cached one", applied)
	}
	wantList(t, "events", e.events(), nil)

	// The retry reads a cache that shows the other site's Deployment: a conflict.
	e.catchUp("ns")
	e.clearActions()
	err := e.r.Reconcile(ctx, "ns/web")
	var conflict *ChildConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("Reconcile = %v, want a ChildConflictError", err)
	}
	wantList(t, "writes", e.writes(), []string{"patch staticsites/status web"})
	wantList(t, "events", e.events(), []string{
		"Warning ChildConflict Deployment web exists and is not controlled by this StaticSite",
	})
	after, _ := e.kube.AppsV1().Deployments("ns").Get(ctx, "web", metav1.GetOptions{})
	if *after.Spec.Replicas != 7 || after.OwnerReferences[0].UID != "uid-other" {
		t.Errorf("the other site's Deployment was changed: %+v", after)
	}
}

func deletedSite() *StaticSite {
	site := newSite("web")
	site.Finalizers = []string{"example.com/other", Finalizer}
	site.DeletionTimestamp = &testNow
	return site
}

func TestDeletionRemovesTheRegistryKeyThenTheFinalizer(t *testing.T) {
	registry := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: RegistryName, Namespace: "ns"},
		Data:       map[string]string{"web": "http://web.ns.svc.cluster.local", "keep": "http://keep.ns.svc.cluster.local"},
	}
	e := newTestEnv(t, deletedSite(), registry)
	ctx := context.Background()
	if err := e.r.Reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", e.requests(), []string{"patch configmaps staticsite-registry", "patch staticsites web"})
	wantList(t, "events", e.events(), nil)
	after, _ := e.kube.CoreV1().ConfigMaps("ns").Get(ctx, RegistryName, metav1.GetOptions{})
	if _, present := after.Data["web"]; present || after.Data["keep"] == "" {
		t.Errorf("registry after: %v", after.Data)
	}
	if finalizers := e.site("ns", "web").Finalizers; !slices.Equal(finalizers, []string{"example.com/other"}) {
		t.Errorf("finalizers after: %v", finalizers)
	}
}

func TestDeletionWithoutRegistry(t *testing.T) {
	// E.g. in a terminating namespace whose registry is already gone: a
	// missing registry counts as a removed key, and nothing is created.
	e := newTestEnv(t, deletedSite())
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", e.requests(), []string{"patch configmaps staticsite-registry", "patch staticsites web"})
}

func TestGoneSiteIsNothingToDo(t *testing.T) {
	e := newTestEnv(t, nil)
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	wantList(t, "requests", e.requests(), nil)
}

func TestAGoneSiteLeavesNothingRemembered(t *testing.T) {
	e := newTestEnv(t, newSite("web"))
	ctx := context.Background()
	if err := e.r.Reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	remembered := func() (n int) {
		e.r.applied.Range(func(any, any) bool { n++; return true })
		return n
	}
	if n := remembered(); n != len(childKinds) {
		t.Fatalf("%d applies remembered, want %d", n, len(childKinds))
	}
	if err := e.caches[Kind].Delete(toUnstructured(t, newSite("web"))); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := remembered(); n != 0 {
		t.Errorf("%d applies still remembered for a gone site", n)
	}
}

func TestReconcileNeverModifiesTheCache(t *testing.T) {
	e := newTestEnv(t, newSite("web"))
	cached, _ := e.r.Caches.Sites.ByNamespace("ns").Get("web")
	before := cached.(*unstructured.Unstructured).DeepCopy()
	if err := e.r.Reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(before.Object, cached.(*unstructured.Unstructured).Object) {
		t.Error("the cached site changed")
	}
}
