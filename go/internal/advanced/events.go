package advanced

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Events: the controller's notes on a site, shown by `kubectl describe
// staticsite NAME`. An Event (core/v1) is an object of its own that points at
// the site (involvedObject).
//
// client-go's record.EventRecorder writes them. Recording is asynchronous:
// Event() puts the event on a buffered channel and returns; a goroutine of
// the broadcaster writes it (and patches the count of an identical recent
// event instead of creating another). So an event that cannot be written
// (the namespace is terminating, the API server is down) is logged by
// client-go and dropped: it never fails or blocks a reconcile.

// The events' reasons. A Warning names the problem with the Ready
// condition's own reason (site.go): one constant for both.
const (
	EventSynced        = "Synced"            // Normal: the reconcile applied at least one child
	EventChildConflict = ReasonChildConflict // Warning: a child's name is taken
	EventInvalidSpec   = ReasonInvalidSpec   // Warning: the spec asks for what cannot be (name, size, a refused child)
)

// newEventRecorder starts a broadcaster that writes events through the API
// server; call the returned shutdown function on exit.
func newEventRecorder(client kubernetes.Interface) (record.EventRecorder, func()) {
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: ManagerName})
	return recorder, broadcaster.Shutdown
}

// siteReference is the involvedObject of an event about the site. The
// recorder takes any runtime.Object and looks its kind up in a scheme;
// StaticSite is in none, but an ObjectReference is used as it is.
func siteReference(site *StaticSite) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion:      APIVersion,
		Kind:            Kind,
		Namespace:       site.Namespace,
		Name:            site.Name,
		UID:             site.UID,
		ResourceVersion: site.ResourceVersion,
	}
}
