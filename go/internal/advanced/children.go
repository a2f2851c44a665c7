package advanced

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// The objects a StaticSite owns, as the controller wants them, and how to
// tell whether they drifted.
//
// A controller never edits its children field by field. It renders the
// desired object from the site alone (same site, same object), compares it
// with what the cluster has, and when they differ sends the whole desired
// object with server-side apply. The API server merges it: the fields listed
// are set and owned by our field manager, every other field (defaults,
// status, other managers' fields) is kept. client-go's apply configurations
// (applyconfigurations/...) are typed builders of exactly such partial
// objects: only what is set is sent.

// Labels and names every child carries.
const (
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	AppName        = "staticsite"
	// ManagerName is the field manager of every write, the managed-by label
	// and the events' source component.
	ManagerName = "staticsite-controller"

	ContentHashAnnotation = "sites.example.com/content-hash"
	webRoot               = "/usr/share/nginx/html"
	httpPort              = 80
)

// ManagedSelector is what the children's informers list and watch.
var ManagedSelector = ManagedByLabel + "=" + ManagerName

// The kinds of children, in the order they are rendered, applied and checked
// for conflicts.
const (
	KindConfigMap  = "ConfigMap"
	KindDeployment = "Deployment"
	KindService    = "Service"
)

// ChildKinds is that order.
var ChildKinds = []string{KindConfigMap, KindDeployment, KindService}

// ConfigMapMaxBytes is the most a ConfigMap holds: its keys and values
// together, in UTF-8 bytes (the API server's limit, 1 MiB).
const ConfigMapMaxBytes = 1048576

// contentSize is the bytes the content takes in a ConfigMap: every name and
// body, in UTF-8 (what the API server counts; a Go string's len is its
// UTF-8 bytes).
func contentSize(content map[string]string) int {
	size := 0
	for name, body := range content {
		size += len(name) + len(body)
	}
	return size
}

// ContentHash is SHA-256 (lowercase hex) of "name NUL body NUL" for each
// file, in byte order of the names. It goes into the pod template, so a
// content change changes the template and the Deployment rolls its pods. NUL
// separators keep {"ab": "c"} and {"a": "bc"} apart.
func ContentHash(content map[string]string) string {
	names := make([]string, 0, len(content))
	for name := range content {
		names = append(names, name)
	}
	sort.Strings(names) // Go strings compare byte-wise: byte order of the UTF-8 names
	digest := sha256.New()
	for _, name := range names {
		digest.Write([]byte(name))
		digest.Write([]byte{0})
		digest.Write([]byte(content[name]))
		digest.Write([]byte{0})
	}
	return hex.EncodeToString(digest.Sum(nil))
}

// childName is the name of the site's child of that kind.
func childName(kind, siteName string) string {
	if kind == KindConfigMap {
		return siteName + "-content"
	}
	return siteName
}

// selectorLabels select the site's pods. A Deployment's selector can never
// change, so it is kept minimal.
func selectorLabels(siteName string) map[string]string {
	return map[string]string{NameLabel: AppName, InstanceLabel: siteName}
}

func childLabels(siteName string) map[string]string {
	labels := selectorLabels(siteName)
	labels[ManagedByLabel] = ManagerName
	return labels
}

// ownerReference marks the site as the child's controller: garbage
// collection deletes the child with its site, and the child's events lead
// back to it.
func ownerReference(site *StaticSite) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(APIVersion).
		WithKind(Kind).
		WithName(site.Name).
		WithUID(site.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// desiredConfigMap holds the site's files.
func desiredConfigMap(site *StaticSite) *corev1ac.ConfigMapApplyConfiguration {
	return corev1ac.ConfigMap(childName(KindConfigMap, site.Name), site.Namespace).
		WithLabels(childLabels(site.Name)).
		WithOwnerReferences(ownerReference(site)).
		WithData(site.Spec.Content)
}

// desiredDeployment runs nginx serving the files of the ConfigMap.
func desiredDeployment(site *StaticSite) *appsv1ac.DeploymentApplyConfiguration {
	container := corev1ac.Container().
		WithName("web").
		WithImage(site.Spec.Image).
		WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(httpPort).WithProtocol(corev1.ProtocolTCP)).
		WithVolumeMounts(corev1ac.VolumeMount().WithName("content").WithMountPath(webRoot).WithReadOnly(true))
	volume := corev1ac.Volume().
		WithName("content").
		WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(childName(KindConfigMap, site.Name)))
	template := corev1ac.PodTemplateSpec().
		WithLabels(childLabels(site.Name)).
		WithAnnotations(map[string]string{ContentHashAnnotation: ContentHash(site.Spec.Content)}).
		WithSpec(corev1ac.PodSpec().WithContainers(container).WithVolumes(volume))
	return appsv1ac.Deployment(childName(KindDeployment, site.Name), site.Namespace).
		WithLabels(childLabels(site.Name)).
		WithOwnerReferences(ownerReference(site)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(site.Spec.Replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(site.Name))).
			WithTemplate(template))
}

// desiredService gives the site's pods one stable address.
func desiredService(site *StaticSite) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(childName(KindService, site.Name), site.Namespace).
		WithLabels(childLabels(site.Name)).
		WithOwnerReferences(ownerReference(site)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(selectorLabels(site.Name)).
			WithPorts(corev1ac.ServicePort().
				WithName("http").
				WithPort(httpPort).
				WithTargetPort(intstr.FromInt32(httpPort)).
				WithProtocol(corev1.ProtocolTCP)))
}

// isControlledBy tells whether obj's controller is this very site: same uid,
// since a site deleted and created again under the same name is another site.
func isControlledBy(obj metav1.Object, site *StaticSite) bool {
	// exercise: conflict begin
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == site.UID
	// exercise: conflict end
}

// ownerSiteKey is the key ("namespace/name") of the StaticSite controlling
// obj, or "" when no StaticSite controls it (e.g. the registry ConfigMap).
func ownerSiteKey(obj metav1.Object) string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != Kind || ref.APIVersion != APIVersion {
		return ""
	}
	return obj.GetNamespace() + "/" + ref.Name
}

// needsApply tells whether a child must be applied: it is missing, or a
// field the controller sets differs in the actual object.
//
// Both objects are compared as the JSON the API server speaks. Only the
// desired fields count; what the API server or another manager added is
// ignored (a Deployment gets dozens of defaulted fields and a status). Two
// refinements of "is a subset of", as in the reference:
//   - a list matches when each desired item matches some actual item: the
//     lists we set (containers, ports, volumes, ownerReferences) are keyed
//     lists to server-side apply, where others may add items;
//   - a ConfigMap's data must be equal, not a superset: a file removed from
//     spec.content must be removed from the ConfigMap.
func needsApply(desired any, actual metav1.Object) (bool, error) {
	// exercise: compare-before-write begin
	if actual == nil || reflect.ValueOf(actual).IsNil() {
		return true, nil
	}
	want, err := asJSON(desired)
	if err != nil {
		return false, err
	}
	have, err := asJSON(actual)
	if err != nil {
		return false, err
	}
	// Objects from informers and typed clients carry no apiVersion and kind.
	delete(want, "apiVersion")
	delete(want, "kind")
	if _, isConfigMap := desired.(*corev1ac.ConfigMapApplyConfiguration); isConfigMap {
		if !reflect.DeepEqual(want["data"], orEmpty(have["data"])) {
			return true, nil
		}
	}
	return !contains(have, want), nil
	// exercise: compare-before-write end
}

func orEmpty(value any) any {
	if value == nil {
		return map[string]any{}
	}
	return value
}

// asJSON turns any object into the generic form encoding/json decodes to
// (maps, slices, float64, string, bool), so that two objects of different Go
// types compare field by field.
func asJSON(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("cannot encode %T: %w", obj, err)
	}
	generic := map[string]any{}
	if err := json.Unmarshal(data, &generic); err != nil {
		return nil, fmt.Errorf("cannot decode %T: %w", obj, err)
	}
	return generic, nil
}

// contains tells whether actual has every field of desired, with the same value.
func contains(actual, desired any) bool {
	switch want := desired.(type) {
	case map[string]any:
		have, ok := actual.(map[string]any)
		if !ok {
			return false
		}
		for key, value := range want {
			if got, present := have[key]; !present || !contains(got, value) {
				return false
			}
		}
		return true
	case []any:
		have, ok := actual.([]any)
		if !ok {
			return false
		}
		for _, item := range want {
			found := false
			for _, candidate := range have {
				if contains(candidate, item) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(actual, desired)
	}
}
