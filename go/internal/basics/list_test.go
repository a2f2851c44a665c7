package basics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"controller-examples/go/internal/cli"
)

func pod(namespace, name string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

// pagedClient serves two pages, as a server does for limit=500: the first
// ends with a continue token, and both carry the list's resourceVersion.
func pagedClient(t *testing.T) *fake.Clientset {
	web := func(name string) corev1.Pod {
		pod := pod("demo", name)
		pod.Labels = map[string]string{"app": "web"}
		return pod
	}
	pages := map[string]*corev1.PodList{
		"": {
			ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "page-2"},
			Items:    []corev1.Pod{web("a"), web("b")},
		},
		"page-2": {
			ListMeta: metav1.ListMeta{ResourceVersion: "42"},
			Items:    []corev1.Pod{web("c")},
		},
	}
	client := fake.NewClientset()
	client.PrependReactor("list", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		opts := action.(k8stesting.ListActionImpl).ListOptions
		if opts.Limit != PageSize || opts.LabelSelector != "app=web" {
			t.Errorf("list options %+v", opts)
		}
		page, ok := pages[opts.Continue]
		if !ok {
			return true, nil, fmt.Errorf("unknown continue token %q", opts.Continue)
		}
		return true, page, nil
	})
	return client
}

func TestListPodsFollowsContinueTokens(t *testing.T) {
	var names []string
	resourceVersion, err := ListPods(context.Background(), pagedClient(t).CoreV1().Pods("demo"), "app=web", func(pod *corev1.Pod) {
		names = append(names, pod.Name)
	})
	if err != nil || resourceVersion != "42" || !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("got %v, %q, %v", names, resourceVersion, err)
	}
}

func TestListPodsNamesTheListInErrors(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	_, err := ListPods(context.Background(), client.CoreV1().Pods("demo"), "", func(*corev1.Pod) {})
	var call *cli.CallError
	if !errors.As(err, &call) || call.Verb != "list" || !apierrors.IsForbidden(err) {
		t.Errorf("got %v", err)
	}
}
