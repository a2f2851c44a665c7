package basics

import (
	"bytes"
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"controller-examples/go/internal/cli"
)

// runListPods runs list-pods against a fake API server holding pods.
func runListPods(t *testing.T, namespace, output string, pods ...corev1.Pod) (string, string) {
	t.Helper()
	client := fake.NewClientset()
	for i := range pods {
		if err := client.Tracker().Add(&pods[i]); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	session := cli.Session{Client: client, Namespace: namespace, Output: output, Stdout: &stdout, Stderr: &stderr}
	if err := ListPodsProgram.Run(context.Background(), session); err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String()
}

func TestListPodsSortsByNamespaceThenName(t *testing.T) {
	stdout, _ := runListPods(t, "", cli.OutputJSON, pod("b", "a"), pod("a", "b"), pod("a", "B"), pod("a", "a"))
	want := "" +
		`{"namespace":"a","name":"B","phase":"","node":"","ready":"0/0","restarts":0,"containers":[],"images":[]}` + "\n" +
		`{"namespace":"a","name":"a","phase":"","node":"","ready":"0/0","restarts":0,"containers":[],"images":[]}` + "\n" +
		`{"namespace":"a","name":"b","phase":"","node":"","ready":"0/0","restarts":0,"containers":[],"images":[]}` + "\n" +
		`{"namespace":"b","name":"a","phase":"","node":"","ready":"0/0","restarts":0,"containers":[],"images":[]}` + "\n"
	if stdout != want {
		t.Errorf("got\n%s\nwant\n%s", stdout, want)
	}
}

func TestListPodsWithoutPods(t *testing.T) {
	stdout, stderr := runListPods(t, "demo", cli.OutputTable, pod("elsewhere", "a"))
	if stdout != "" || stderr != "No resources found in demo namespace.\n" {
		t.Errorf("table: got %q, %q", stdout, stderr)
	}
	stdout, stderr = runListPods(t, "demo", cli.OutputJSON)
	if stdout != "" || stderr != "" {
		t.Errorf("json: got %q, %q", stdout, stderr)
	}
}
