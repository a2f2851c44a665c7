// Package intermediate is watch-pods: list the pods, then follow their
// changes with a watch that survives dropped connections and expired
// resourceVersions, printing one line per change.
package intermediate

import (
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"controller-examples/go/internal/basics"
	"controller-examples/go/internal/cli"
)

// Event is one printed line. The field order is the contract's JSON key order.
type Event struct {
	Type            watch.EventType `json:"type"` // watch.Added, watch.Modified or watch.Deleted
	Namespace       string          `json:"namespace"`
	Name            string          `json:"name"`
	Phase           string          `json:"phase"`
	ResourceVersion string          `json:"resourceVersion"`
}

// PodState is what the watcher remembers of each pod it has printed: enough
// to tell, after a re-list, whether the pod changed, and to print its DELETED
// line if it is gone.
type PodState struct {
	Phase           string
	ResourceVersion string
}

// Snapshot is the set of pods as printed so far.
type Snapshot map[types.NamespacedName]PodState

func keyOf(pod *corev1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
}

func stateOf(pod *corev1.Pod) PodState {
	return PodState{Phase: string(pod.Status.Phase), ResourceVersion: pod.ResourceVersion}
}

func newEvent(eventType watch.EventType, key types.NamespacedName, state PodState) Event {
	return Event{Type: eventType, Namespace: key.Namespace, Name: key.Name, Phase: state.Phase, ResourceVersion: state.ResourceVersion}
}

// Printer prints one event.
type Printer func(Event) error

// NewPrinter returns the printer for an output format; the table's header is
// printed at once.
//
// Every line must reach a consumer as soon as it is printed. Both printers
// write each line with a single Write, and Go's os.Stdout is not buffered,
// so there is nothing to flush (Python has to flush explicitly).
func NewPrinter(w io.Writer, output string) (Printer, error) {
	if output == cli.OutputJSON {
		encoder := basics.NewJSONEncoder(w)
		return func(e Event) error { return encoder.Encode(e) }, nil
	}
	const row = "%-9s %-20s %-40s %s\n"
	if _, err := fmt.Fprintf(w, row, "EVENT", "NAMESPACE", "NAME", "PHASE"); err != nil {
		return nil, err
	}
	return func(e Event) error {
		_, err := fmt.Fprintf(w, row, e.Type, e.Namespace, e.Name, e.Phase)
		return err
	}, nil
}
