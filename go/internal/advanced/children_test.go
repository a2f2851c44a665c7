package advanced

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// The test vector of the SPEC's content hash, computed independently:
//
//	printf 'a.txt\0x\0index.html\0<h1>hi</h1>\0' | sha256sum
const helloHash = "d6dc371b38f0551587ca3c18998a3d912f9f068a6ad09a8e93713a9bcbd8aff1"

func TestContentHashMatchesTheSpecVector(t *testing.T) {
	got := ContentHash(map[string]string{"index.html": "<h1>hi</h1>", "a.txt": "x"})
	if got != helloHash {
		t.Errorf("ContentHash = %s, want %s", got, helloHash)
	}
}

func TestContentHashSeparatesNamesFromBodies(t *testing.T) {
	if ContentHash(map[string]string{"ab": "c"}) == ContentHash(map[string]string{"a": "bc"}) {
		t.Error(`{"ab": "c"} and {"a": "bc"} have the same hash`)
	}
}

func TestContentHashSortsByBytes(t *testing.T) {
	// "B" (0x42) sorts before "a" (0x61) in byte order, unlike in a
	// case-insensitive order.
	want := sha256Hex("B\x00two\x00a\x00one\x00")
	if got := ContentHash(map[string]string{"a": "one", "B": "two"}); got != want {
		t.Errorf("ContentHash = %s, want %s", got, want)
	}
}

// readFixture reads an object as the API server returned it (kubectl get
// -o json) during a real reconcile of testdata/site-hello.json.
func readFixture(t *testing.T, name string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatal(err)
	}
}

func fixtureSite(t *testing.T) *StaticSite {
	t.Helper()
	obj := &unstructured.Unstructured{}
	readFixture(t, "site-hello.json", &obj.Object)
	site, err := siteFrom(obj)
	if err != nil {
		t.Fatal(err)
	}
	return site
}

func TestSiteFromReadsTheFixture(t *testing.T) {
	site := fixtureSite(t)
	if site.Spec.Replicas != 2 || site.Spec.Image != "nginx:1.27.3" || site.Spec.Content["a.txt"] != "x" {
		t.Errorf("spec = %+v", site.Spec)
	}
	ready := site.Status.Conditions[0]
	if ready.Type != ConditionReady || ready.LastTransitionTime.UTC().Format("15:04:05") != "18:24:35" {
		t.Errorf("condition = %+v", ready)
	}
}

// What the server returns for what we applied (plus defaults, status and
// its own metadata) needs no apply: a no-op reconcile writes nothing.
func TestServerObjectsNeedNoApply(t *testing.T) {
	site := fixtureSite(t)
	var (
		configMap  corev1.ConfigMap
		deployment appsv1.Deployment
		service    corev1.Service
	)
	readFixture(t, "configmap-hello-content.json", &configMap)
	readFixture(t, "deployment-hello.json", &deployment)
	readFixture(t, "service-hello.json", &service)
	for _, c := range []struct {
		desired any
		actual  metav1.Object
	}{
		{desiredConfigMap(site), &configMap},
		{desiredDeployment(site), &deployment},
		{desiredService(site), &service},
	} {
		if drifted, err := needsApply(c.desired, c.actual); err != nil || drifted {
			t.Errorf("%s: needsApply = %v, %v; want false", c.actual.GetName(), drifted, err)
		}
	}
}

func TestDriftNeedsApply(t *testing.T) {
	site := fixtureSite(t)
	cases := map[string]func(*appsv1.Deployment){
		"replicas":        func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(int32(5)) },
		"image":           func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:1" },
		"hash":            func(d *appsv1.Deployment) { d.Spec.Template.Annotations[ContentHashAnnotation] = "old" },
		"label":           func(d *appsv1.Deployment) { delete(d.Labels, ManagedByLabel) },
		"owner":           func(d *appsv1.Deployment) { d.OwnerReferences = nil },
		"volume":          func(d *appsv1.Deployment) { d.Spec.Template.Spec.Volumes[0].ConfigMap.Name = "other" },
		"read-only mount": func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].VolumeMounts[0].ReadOnly = false },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			var deployment appsv1.Deployment
			readFixture(t, "deployment-hello.json", &deployment)
			edit(&deployment)
			if drifted, err := needsApply(desiredDeployment(site), &deployment); err != nil || !drifted {
				t.Errorf("needsApply = %v, %v; want true", drifted, err)
			}
		})
	}
}

func TestAdditionsByOthersAreNotDrift(t *testing.T) {
	site := fixtureSite(t)
	var deployment appsv1.Deployment
	readFixture(t, "deployment-hello.json", &deployment)
	deployment.Labels["team"] = "web"
	deployment.Spec.Template.Spec.Containers = append(deployment.Spec.Template.Spec.Containers,
		corev1.Container{Name: "sidecar", Image: "envoy"})
	if drifted, _ := needsApply(desiredDeployment(site), &deployment); drifted {
		t.Error("a label and a container added by someone else count as drift")
	}
}

func TestConfigMapDataMustBeEqual(t *testing.T) {
	site := fixtureSite(t)
	var configMap corev1.ConfigMap
	readFixture(t, "configmap-hello-content.json", &configMap)
	configMap.Data["old.html"] = "a file removed from spec.content"
	if drifted, _ := needsApply(desiredConfigMap(site), &configMap); !drifted {
		t.Error("a file left over in the ConfigMap is not drift")
	}
}

func TestMissingChildNeedsApply(t *testing.T) {
	if drifted, _ := needsApply(desiredService(fixtureSite(t)), nil); !drifted {
		t.Error("a missing Service needs no apply")
	}
}

func TestDesiredChildrenAreShapedAsTheSpecSays(t *testing.T) {
	site := fixtureSite(t)
	deployment, err := asJSON(desiredDeployment(site))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name":      "hello",
			"namespace": "dev-go-fx",
			"labels": map[string]any{
				"app.kubernetes.io/name":       "staticsite",
				"app.kubernetes.io/instance":   "hello",
				"app.kubernetes.io/managed-by": "staticsite-controller",
			},
			"ownerReferences": []any{map[string]any{
				"apiVersion": "sites.example.com/v1alpha1", "kind": "StaticSite", "name": "hello",
				"uid": string(site.UID), "controller": true, "blockOwnerDeletion": true,
			}},
		},
		"spec": map[string]any{
			"replicas": 2.0,
			"selector": map[string]any{"matchLabels": map[string]any{
				"app.kubernetes.io/name": "staticsite", "app.kubernetes.io/instance": "hello",
			}},
			"template": map[string]any{
				"metadata": map[string]any{
					"labels": map[string]any{
						"app.kubernetes.io/name":       "staticsite",
						"app.kubernetes.io/instance":   "hello",
						"app.kubernetes.io/managed-by": "staticsite-controller",
					},
					"annotations": map[string]any{"sites.example.com/content-hash": helloHash},
				},
				"spec": map[string]any{
					"containers": []any{map[string]any{
						"name":  "web",
						"image": "nginx:1.27.3",
						"ports": []any{map[string]any{"name": "http", "containerPort": 80.0, "protocol": "TCP"}},
						"volumeMounts": []any{map[string]any{
							"name": "content", "mountPath": "/usr/share/nginx/html", "readOnly": true,
						}},
					}},
					"volumes": []any{map[string]any{
						"name": "content", "configMap": map[string]any{"name": "hello-content"},
					}},
				},
			},
		},
	}
	if !jsonEqual(deployment, want) {
		t.Errorf("desired Deployment:\n%s\nwant\n%s", mustJSON(deployment), mustJSON(want))
	}

	service, _ := asJSON(desiredService(site))
	wantSpec := map[string]any{
		"type":     "ClusterIP",
		"selector": map[string]any{"app.kubernetes.io/name": "staticsite", "app.kubernetes.io/instance": "hello"},
		"ports":    []any{map[string]any{"name": "http", "port": 80.0, "targetPort": 80.0, "protocol": "TCP"}},
	}
	if !jsonEqual(service["spec"], wantSpec) {
		t.Errorf("desired Service spec: %s", mustJSON(service["spec"]))
	}
	configMap, _ := asJSON(desiredConfigMap(site))
	if configMap["metadata"].(map[string]any)["name"] != "hello-content" ||
		!jsonEqual(configMap["data"], map[string]any{"index.html": "<h1>hi</h1>", "a.txt": "x"}) {
		t.Errorf("desired ConfigMap: %s", mustJSON(configMap))
	}
}

func TestOwnerSiteKey(t *testing.T) {
	site := fixtureSite(t)
	var configMap corev1.ConfigMap
	readFixture(t, "configmap-hello-content.json", &configMap)
	if got := ownerSiteKey(&configMap); got != "dev-go-fx/hello" {
		t.Errorf("ownerSiteKey(child) = %q", got)
	}
	if !isControlledBy(&configMap, site) {
		t.Error("the child is not controlled by its site")
	}
	other := *site
	other.UID = types.UID("another-site-of-the-same-name")
	if isControlledBy(&configMap, &other) {
		t.Error("a child is controlled by a site of the same name but another uid")
	}

	var registry corev1.ConfigMap
	readFixture(t, "configmap-staticsite-registry.json", &registry)
	if got := ownerSiteKey(&registry); got != "" {
		t.Errorf("ownerSiteKey(registry) = %q, want none", got)
	}
	replicaSet := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "Deployment", Name: "hello", Controller: ptr.To(true),
	}}}}
	if got := ownerSiteKey(replicaSet); got != "" {
		t.Errorf("ownerSiteKey(object controlled by a Deployment) = %q, want none", got)
	}
}

func TestIsServiceName(t *testing.T) {
	for name, want := range map[string]bool{
		"hello": true, "a-1": true, "1st-site": false, "a.b": false, "Hello": false, "a-": false,
		"a123456789012345678901234567890123456789012345678901234567890ab":  true, // 63
		"a123456789012345678901234567890123456789012345678901234567890abc": false,
	} {
		if got := isServiceName(name); got != want {
			t.Errorf("isServiceName(%q) = %v, want %v", name, got, want)
		}
	}
}
