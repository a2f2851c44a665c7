// Package advanced is the StaticSite controller of shared-manifests/SPEC.md,
// written with client-go in the style of kubernetes/sample-controller:
//
//	site.go        the StaticSite API and the controller's vocabulary (this file)
//	informer.go    shared informers for StaticSites and their three child kinds
//	queue.go       the work queue, and the workers' loop with its retry policy
//	reconciler.go  one reconcile of one site, the SPEC's steps 1-8
//	api.go         every request the reconciler sends to the API server
//	leader.go      leader election on a Lease
//	manager.go     the process: wiring, endpoints, workers, shutdown
//
// and, beside them, what the reconciler computes (children.go, status.go,
// registry.go, events.go), the command line (options.go) and what the
// manager serves (endpoints.go).
package advanced

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The StaticSite API, shared-manifests/crd/staticsite.yaml.
const (
	Group      = "sites.example.com"
	Version    = "v1alpha1"
	Kind       = "StaticSite"
	Resource   = "staticsites"
	APIVersion = Group + "/" + Version
	// Finalizer holds a site until its registry key is removed.
	Finalizer = Group + "/registry"
)

// Labels every child carries, and the name the controller writes under.
const (
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	AppName        = "staticsite"
	// ManagerName is the field manager of every write, the managed-by label
	// and the events' source component.
	ManagerName = "staticsite-controller"
	// ContentHashAnnotation on the pod template: a content change rolls the pods.
	ContentHashAnnotation = Group + "/content-hash"
)

// ManagedSelector is what the children's informers list and watch.
var ManagedSelector = ManagedByLabel + "=" + ManagerName

// ConditionReady is the one condition type; `kubectl wait --for=condition=Ready` reads it.
const ConditionReady = "Ready"

// The Ready condition's reasons. A problem's Warning event carries the
// same reason as the condition (events.go).
const (
	ReasonAvailable     = "Available"
	ReasonProgressing   = "Progressing"
	ReasonChildConflict = "ChildConflict"
	ReasonInvalidSpec   = "InvalidSpec"
)

// SiteResource is what the dynamic client and the dynamic informer address.
var SiteResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}

// StaticSite is the controller's typed view of a site.
//
// Why typed structs over the dynamic client, and not a generated clientset:
// a clientset, its informers and listers need code generators (and a
// DeepCopy for every type, generated or kept in sync by hand). The dynamic
// client needs nothing: it speaks JSON (unstructured.Unstructured, a
// map[string]any) for any resource, and the dynamic informer caches those.
// The reconciler, though, is far clearer with typed fields than with
// unstructured.NestedInt64(obj, "spec", "replicas"), so the one place where
// the two meet is siteFrom: runtime.DefaultUnstructuredConverter turns the
// cached map into these structs. The conversion builds a new object, so it is
// also the "copy first" that keeps the reconciler from mutating the cache,
// and no DeepCopy is needed at all. The JSON tags are the CRD's field names.
type StaticSite struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   StaticSiteSpec   `json:"spec"`
	Status StaticSiteStatus `json:"status,omitempty"`
}

// StaticSiteSpec is what the user asks for. The API server applies the CRD's
// defaults (replicas 1, image nginx:1.27.3) before anyone reads a site.
type StaticSiteSpec struct {
	Replicas int32             `json:"replicas"`
	Image    string            `json:"image"`
	Content  map[string]string `json:"content"`
}

// StaticSiteStatus is what the controller reports. No omitempty on the
// numbers: "readyReplicas: 0" is written, as the reference writes it.
type StaticSiteStatus struct {
	ObservedGeneration int64              `json:"observedGeneration"`
	ReadyReplicas      int32              `json:"readyReplicas"`
	URL                string             `json:"url"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

// siteFrom converts a site from the informer cache (or from an API answer)
// into a new typed object that the caller owns.
func siteFrom(obj *unstructured.Unstructured) (*StaticSite, error) {
	site := &StaticSite{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.UnstructuredContent(), site); err != nil {
		return nil, fmt.Errorf("cannot read StaticSite %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return site, nil
}

// siteURL is where the site is served inside the cluster: its Service's DNS name.
func siteURL(namespace, name string) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local", name, namespace)
}

// isServiceName tells whether a site name can name a Service: a DNS-1035
// label. A StaticSite name may be any DNS-1123 subdomain ("1site", "a.b"),
// and no schema rule can check metadata.name, so the controller does.
func isServiceName(name string) bool {
	return len(validation.IsDNS1035Label(name)) == 0
}
