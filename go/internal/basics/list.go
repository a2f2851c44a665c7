package basics

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"controller-examples/go/internal/cli"
)

// PageSize is how many pods one list request asks for.
const PageSize = 500

// ListPods lists the pods page by page (limit and continue token) and calls
// visit for each one. Each page is dropped once visited, so memory does not
// grow with the number of pods. It returns the list's resourceVersion: the
// point in the cluster's history that the whole list shows, from which a
// watch can carry on.
//
// client-go has a pager (k8s.io/client-go/tools/pager), but it does not
// suit us: its EachListItem hides the list's resourceVersion, which
// watch-pods needs, and when a continue token expires it silently falls back
// to one unpaginated list of everything, the memory growth we avoid. A plain
// loop is short and shows the protocol.
func ListPods(ctx context.Context, pods corev1client.PodInterface, selector string, visit func(*corev1.Pod)) (string, error) {
	// exercise: pagination begin
	opts := metav1.ListOptions{LabelSelector: selector, Limit: PageSize}
	for {
		page, err := pods.List(ctx, opts)
		if err != nil {
			return "", &cli.CallError{Verb: "list", Err: err}
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
		if page.Continue == "" {
			return page.ResourceVersion, nil
		}
		opts.Continue = page.Continue
	}
	// exercise: pagination end
}
