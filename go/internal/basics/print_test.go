package basics

import (
	"bytes"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestWriteJSONIsTheContractsExample(t *testing.T) {
	var out bytes.Buffer
	if err := WriteJSON(&out, []PodRecord{NewPodRecord(webPod())}); err != nil {
		t.Fatal(err)
	}
	want := `{"namespace":"demo","name":"web-0","phase":"Running","node":"kwok-node-0","ready":"2/3","restarts":0,"containers":["a","b","c"],"images":["nginx:1.27","busybox","busybox"]}` + "\n"
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
}

func TestWriteJSONDoesNotEscapeHTMLAndWritesEmptyLists(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: "a<b>&c"}}
	var out bytes.Buffer
	if err := WriteJSON(&out, []PodRecord{NewPodRecord(pod)}); err != nil {
		t.Fatal(err)
	}
	want := `{"namespace":"n","name":"a<b>&c","phase":"","node":"","ready":"0/0","restarts":0,"containers":[],"images":[]}` + "\n"
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
}

func tableRecords() []PodRecord {
	return []PodRecord{
		{Namespace: "demo", Name: "web-0", Phase: "Running", Node: "kwok-node-0", Ready: "2/3", Restarts: 12, Created: now.Add(-45 * time.Second)},
		{Namespace: "kube-system", Name: "pending-pod-with-a-long-name", Phase: "Pending", Ready: "0/1", Created: now.Add(-(2*24 + 3) * time.Hour)},
	}
}

func TestWriteTable(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, tableRecords(), false, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME                           READY   STATUS    RESTARTS   NODE          AGE\n" +
		"web-0                          2/3     Running   12         kwok-node-0   45s\n" +
		"pending-pod-with-a-long-name   0/1     Pending   0          <none>        2d3h\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestWriteTableAllNamespaces(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, tableRecords(), true, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAMESPACE     NAME                           READY   STATUS    RESTARTS   NODE          AGE\n" +
		"demo          web-0                          2/3     Running   12         kwok-node-0   45s\n" +
		"kube-system   pending-pod-with-a-long-name   0/1     Pending   0          <none>        2d3h\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestAgeIsKubectlsHumanDuration(t *testing.T) {
	tests := []struct {
		age  time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{119 * time.Second, "119s"},
		{3*time.Minute + 20*time.Second, "3m20s"},
		{15 * time.Minute, "15m"},
		{5*time.Hour + 2*time.Minute, "5h2m"},
		{20 * time.Hour, "20h"},
		{2*24*time.Hour + 3*time.Hour, "2d3h"},
		{-time.Second, "0s"}, // a clock slightly behind the server's
	}
	for _, test := range tests {
		if got := ageCell(now.Add(-test.age), now); got != test.want {
			t.Errorf("%s: got %s, want %s", test.age, got, test.want)
		}
	}
	if got := ageCell(time.Time{}, now); got != "<unknown>" {
		t.Errorf("no creation time: got %s", got)
	}
}

func TestNoResourcesMessage(t *testing.T) {
	if got := NoResourcesMessage("demo"); got != "No resources found in demo namespace." {
		t.Error(got)
	}
	if got := NoResourcesMessage(""); got != "No resources found" {
		t.Error(got)
	}
}
