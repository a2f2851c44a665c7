package basics

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"controller-examples/go/internal/cli"
)

// ListPodsProgram is list-pods.
var ListPodsProgram = cli.Program{
	Name:    "list-pods",
	Summary: "List pods, sorted by namespace and name, as a table or as JSON lines.",
	Run:     listPods,
}

func listPods(ctx context.Context, s cli.Session) error {
	var records []PodRecord
	pods := s.Client.CoreV1().Pods(s.Namespace)
	_, err := ListPods(ctx, pods, s.Selector, func(pod *corev1.Pod) {
		records = append(records, NewPodRecord(pod))
	})
	if err != nil {
		return err
	}
	// Sorting needs every row, which is why the records are kept (and only them).
	slices.SortFunc(records, func(a, b PodRecord) int { return CompareKeys(a.Key(), b.Key()) })
	return printRecords(s, records)
}

func printRecords(s cli.Session, records []PodRecord) error {
	if s.Output == cli.OutputJSON {
		out := bufio.NewWriter(s.Stdout) // one write for many lines; flushed at the end
		if err := WriteJSON(out, records); err != nil {
			return err
		}
		return out.Flush()
	}
	if len(records) == 0 {
		fmt.Fprintln(s.Stderr, NoResourcesMessage(s.Namespace))
		return nil
	}
	return WriteTable(s.Stdout, records, s.AllNamespaces(), time.Now())
}
