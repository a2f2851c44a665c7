package intermediate

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func key(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

func TestDiffOfTheFirstListAddsEverythingInOrder(t *testing.T) {
	current := Snapshot{
		key("b", "a"): {"Running", "3"},
		key("a", "b"): {"Pending", "2"},
		key("a", "a"): {"", "1"},
	}
	want := []Event{
		{"ADDED", "a", "a", "", "1"},
		{"ADDED", "a", "b", "Pending", "2"},
		{"ADDED", "b", "a", "Running", "3"},
	}
	if got := Diff(nil, current); !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestDiffAfterARelist(t *testing.T) {
	printed := Snapshot{
		key("a", "same"):    {"Running", "5"},
		key("a", "changed"): {"Pending", "6"},
		key("b", "gone"):    {"Running", "7"},
		key("a", "gone"):    {"Failed", "8"},
	}
	current := Snapshot{
		key("a", "same"):    {"Running", "5"},
		key("a", "changed"): {"Running", "9"},
		key("c", "new"):     {"Pending", "10"},
		key("a", "new"):     {"", "11"},
	}
	want := []Event{
		{"MODIFIED", "a", "changed", "Running", "9"},
		{"ADDED", "a", "new", "", "11"},
		{"ADDED", "c", "new", "Pending", "10"},
		{"DELETED", "a", "gone", "Failed", "8"}, // last known phase and resourceVersion
		{"DELETED", "b", "gone", "Running", "7"},
	}
	if got := Diff(printed, current); !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestDiffOfNothingNew(t *testing.T) {
	same := Snapshot{key("a", "a"): {"Running", "1"}}
	if got := Diff(same, same); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}
