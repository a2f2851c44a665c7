package advanced

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"
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

// What the pod serves, and where.
const (
	webRoot  = "/usr/share/nginx/html"
	httpPort = 80
)

// The kinds of children, in the order they are rendered, applied and checked
// for conflicts.
const (
	KindConfigMap  = "ConfigMap"
	KindDeployment = "Deployment"
	KindService    = "Service"
)

// ChildKinds is that order.
var ChildKinds = kindNames(childKinds)

// childKind is one kind of child: all the reconciler does that depends on
// the kind, so that no code switches on it. Each closure is one typed call
// of client-go (kindOf builds them).
type childKind struct {
	name    string                                                             // KindConfigMap, KindDeployment or KindService
	desired func(site *StaticSite) any                                         // the apply configuration (desiredConfigMap...)
	cached  func(caches Caches, namespace, name string) (metav1.Object, error) // from the informer
	get     func(ctx context.Context, kube kubernetes.Interface, namespace, name string) (metav1.Object, error)
	apply   func(ctx context.Context, kube kubernetes.Interface, namespace, resourceVersion string, desired any, options metav1.ApplyOptions) (metav1.Object, error)
}

// childKinds is the table of the three kinds, in ChildKinds order.
var childKinds = []childKind{
	kindOf(KindConfigMap, desiredConfigMap,
		func(c Caches, namespace string) namespacedLister[*corev1.ConfigMap] {
			return c.ConfigMaps.ConfigMaps(namespace)
		},
		func(kube kubernetes.Interface, namespace string) childClient[*corev1.ConfigMap, *corev1ac.ConfigMapApplyConfiguration] {
			return kube.CoreV1().ConfigMaps(namespace)
		}),
	kindOf(KindDeployment, desiredDeployment,
		func(c Caches, namespace string) namespacedLister[*appsv1.Deployment] {
			return c.Deployments.Deployments(namespace)
		},
		func(kube kubernetes.Interface, namespace string) childClient[*appsv1.Deployment, *appsv1ac.DeploymentApplyConfiguration] {
			return kube.AppsV1().Deployments(namespace)
		}),
	kindOf(KindService, desiredService,
		func(c Caches, namespace string) namespacedLister[*corev1.Service] {
			return c.Services.Services(namespace)
		},
		func(kube kubernetes.Interface, namespace string) childClient[*corev1.Service, *corev1ac.ServiceApplyConfiguration] {
			return kube.CoreV1().Services(namespace)
		}),
}

// kindOf is the table row of one kind, from its typed parts. It turns
// every answer into a metav1.Object, and an error into a nil interface (not
// an interface holding a nil pointer, which would not compare equal to nil).
func kindOf[T metav1.Object, A interface{ WithResourceVersion(value string) A }](
	name string,
	desired func(*StaticSite) A,
	lister func(caches Caches, namespace string) namespacedLister[T],
	client func(kube kubernetes.Interface, namespace string) childClient[T, A],
) childKind {
	object := func(obj T, err error) (metav1.Object, error) {
		if err != nil {
			return nil, err
		}
		return obj, nil
	}
	return childKind{
		name:    name,
		desired: func(site *StaticSite) any { return desired(site) },
		cached: func(caches Caches, namespace, childName string) (metav1.Object, error) {
			return object(lister(caches, namespace).Get(childName))
		},
		get: func(ctx context.Context, kube kubernetes.Interface, namespace, childName string) (metav1.Object, error) {
			return object(client(kube, namespace).Get(ctx, childName, metav1.GetOptions{}))
		},
		apply: func(ctx context.Context, kube kubernetes.Interface, namespace, resourceVersion string, child any, options metav1.ApplyOptions) (metav1.Object, error) {
			configuration, ok := child.(A)
			if !ok {
				return nil, fmt.Errorf("cannot apply %T as a %s", child, name)
			}
			if resourceVersion != "" {
				configuration = configuration.WithResourceVersion(resourceVersion)
			}
			return object(client(kube, namespace).Apply(ctx, configuration, options))
		},
	}
}

func kindNames(kinds []childKind) []string {
	names := make([]string, len(kinds))
	for i, kind := range kinds {
		names[i] = kind.name
	}
	return names
}

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
	if actual == nil {
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
