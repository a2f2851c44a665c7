package intermediate

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"controller-examples/go/internal/basics"
)

// Diff returns the events that bring a consumer who has seen `printed` up to
// `current`: ADDED for new pods, MODIFIED for pods whose resourceVersion
// changed, then DELETED for pods that are gone, carrying their last known
// phase and resourceVersion. Each group is in namespace/name order, as the
// contract asks. The first list is Diff(empty, current): all ADDED.
func Diff(printed, current Snapshot) []Event {
	var events, deleted []Event
	for _, key := range sortedKeys(current) {
		now := current[key]
		before, known := printed[key]
		switch {
		case !known:
			events = append(events, newEvent(watch.Added, key, now))
		case before.ResourceVersion != now.ResourceVersion:
			events = append(events, newEvent(watch.Modified, key, now))
		}
	}
	for _, key := range sortedKeys(printed) {
		if _, exists := current[key]; !exists {
			deleted = append(deleted, newEvent(watch.Deleted, key, printed[key]))
		}
	}
	return append(events, deleted...)
}

func sortedKeys(snapshot Snapshot) []types.NamespacedName {
	return slices.SortedFunc(maps.Keys(snapshot), basics.CompareKeys)
}
