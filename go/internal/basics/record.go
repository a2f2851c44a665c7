// Package basics is list-pods: list the pods page by page, summarise each one
// in a small record, and print the records as JSON lines or as a table.
package basics

import (
	"cmp"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodRecord is the summary of one pod that list-pods prints. The listing
// keeps only these records, never the pods themselves, so memory stays small
// however large the pods are. The field order is the JSON key order of the
// contract: encoding/json writes struct fields in declaration order.
type PodRecord struct {
	Namespace  string    `json:"namespace"`
	Name       string    `json:"name"`
	Phase      string    `json:"phase"`
	Node       string    `json:"node"`
	Ready      string    `json:"ready"` // "R/T": R ready containers out of T
	Restarts   int64     `json:"restarts"`
	Containers []string  `json:"containers"`
	Images     []string  `json:"images"`
	Created    time.Time `json:"-"` // for the table's AGE column only
}

// NewPodRecord summarises a pod. Init containers are left out everywhere:
// they run before the pod's containers and say nothing about whether it
// serves now (kubectl's READY column ignores them too).
func NewPodRecord(pod *corev1.Pod) PodRecord {
	record := PodRecord{
		Namespace:  pod.Namespace,
		Name:       pod.Name,
		Phase:      string(pod.Status.Phase),
		Node:       pod.Spec.NodeName,
		Containers: make([]string, 0, len(pod.Spec.Containers)),
		Images:     make([]string, 0, len(pod.Spec.Containers)),
		Created:    pod.CreationTimestamp.Time,
	}
	for _, container := range pod.Spec.Containers {
		record.Containers = append(record.Containers, container.Name)
		record.Images = append(record.Images, container.Image)
	}
	ready := 0
	for _, status := range pod.Status.ContainerStatuses { // init containers have their own InitContainerStatuses
		record.Restarts += int64(status.RestartCount)
		if status.Ready {
			ready++
		}
	}
	record.Ready = fmt.Sprintf("%d/%d", ready, len(pod.Spec.Containers))
	return record
}

// Key names the pod: its namespace and name.
func (r PodRecord) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
}

// CompareKeys orders pods by namespace, then name, comparing bytes (Go's
// string comparison), the order the contract prints them in.
func CompareKeys(a, b types.NamespacedName) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
