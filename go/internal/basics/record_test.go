package basics

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// webPod is the contract's example pod: three containers, two ready, and an
// init container that must count nowhere.
func webPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-0"},
		Spec: corev1.PodSpec{
			NodeName:       "kwok-node-0",
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers: []corev1.Container{
				{Name: "a", Image: "nginx:1.27"},
				{Name: "b", Image: "busybox"},
				{Name: "c", Image: "busybox"},
			},
		},
		Status: corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", Ready: true, RestartCount: 7}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", Ready: true},
				{Name: "b", Ready: true},
				{Name: "c", Ready: false},
			},
		},
	}
}

func TestNewPodRecordCountsContainersButNotInitContainers(t *testing.T) {
	pod := webPod()
	pod.Status.ContainerStatuses[0].RestartCount = 2
	pod.Status.ContainerStatuses[2].RestartCount = 3
	record := NewPodRecord(pod)
	if record.Ready != "2/3" || record.Restarts != 5 {
		t.Errorf("ready %s, restarts %d; want 2/3, 5", record.Ready, record.Restarts)
	}
	if !slices.Equal(record.Containers, []string{"a", "b", "c"}) || !slices.Equal(record.Images, []string{"nginx:1.27", "busybox", "busybox"}) {
		t.Errorf("containers %v, images %v", record.Containers, record.Images)
	}
	if record.Namespace != "demo" || record.Name != "web-0" || record.Phase != "Running" || record.Node != "kwok-node-0" {
		t.Errorf("got %+v", record)
	}
}

func TestNewPodRecordWithoutStatus(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "new"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "y"}}},
	}
	record := NewPodRecord(pod)
	if record.Phase != "" || record.Node != "" || record.Ready != "0/2" || record.Restarts != 0 {
		t.Errorf("got %+v", record)
	}
}
