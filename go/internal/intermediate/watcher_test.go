package intermediate

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"controller-examples/go/internal/cli"
)

func pod(namespace, name string, phase corev1.PodPhase, resourceVersion string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, ResourceVersion: resourceVersion},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func podList(resourceVersion string, pods ...*corev1.Pod) *corev1.PodList {
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: resourceVersion}}
	for _, pod := range pods {
		list.Items = append(list.Items, *pod)
	}
	return list
}

func bookmark(resourceVersion string) watch.Event {
	return watch.Event{Type: watch.Bookmark, Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: resourceVersion}}}
}

// expired is the ERROR event a server sends when the watch's resourceVersion
// is too old: a Status with code 410.
func expired() watch.Event {
	status := metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"}
	return watch.Event{Type: watch.Error, Object: &status}
}

var (
	forbidden  = apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	refused    = &url.Error{Op: "Get", URL: "https://127.0.0.1:6443", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	serverDown = apierrors.NewServiceUnavailable("shutting down")
)

// answer is the fake server's answer to one request: an error, or else a
// list (for a list request) or events followed by the end of the stream
// (for a watch request).
type answer struct {
	list   *corev1.PodList
	events []watch.Event
	err    error
}

// fakeServer answers list and watch requests from a script, through
// client-go's fake clientset. When the watch answers run out, it cancels the
// context: the test's way to stop the watcher.
type fakeServer struct {
	client      *fake.Clientset
	lists       []answer
	watches     []answer
	watchedFrom []string // the resourceVersion of each watch request
	cancel      context.CancelFunc
}

func newFakeServer(t *testing.T, cancel context.CancelFunc, lists, watches []answer) *fakeServer {
	server := &fakeServer{client: fake.NewClientset(), lists: lists, watches: watches, cancel: cancel}
	server.client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if len(server.lists) == 0 {
			t.Fatal("unexpected list request")
		}
		next := server.lists[0]
		server.lists = server.lists[1:]
		if next.err != nil {
			return true, nil, next.err
		}
		return true, next.list, nil
	})
	server.client.PrependWatchReactor("pods", func(action k8stesting.Action) (bool, watch.Interface, error) {
		options := action.(k8stesting.WatchActionImpl).ListOptions
		if !options.AllowWatchBookmarks || options.TimeoutSeconds == nil || *options.TimeoutSeconds != cli.WatchTimeoutSeconds {
			t.Errorf("watch options %+v", options)
		}
		server.watchedFrom = append(server.watchedFrom, options.ResourceVersion)
		stream, err := server.nextWatch()
		return true, stream, err
	})
	return server
}

func (s *fakeServer) nextWatch() (watch.Interface, error) {
	if len(s.watches) == 0 {
		s.cancel()
		return watch.NewFake(), nil // never sends: the watcher stops on the cancelled context
	}
	next := s.watches[0]
	s.watches = s.watches[1:]
	if next.err != nil {
		return nil, next.err
	}
	stream := watch.NewFakeWithChanSize(len(next.events), false)
	for _, event := range next.events {
		stream.Action(event.Type, event.Object)
	}
	stream.Stop() // the server ends the stream after these events
	return stream, nil
}

// runWatcher runs a Watcher with JSON output against the script and returns
// what it printed, the resourceVersions it watched from and Run's error.
func runWatcher(t *testing.T, lists, watches []answer) (string, []string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server := newFakeServer(t, cancel, lists, watches)
	var out bytes.Buffer
	print, _ := NewPrinter(&out, cli.OutputJSON)
	watcher := &Watcher{
		Pods:    server.client.CoreV1().Pods("demo"),
		Watches: server.client.CoreV1().Pods("demo"),
		Print:   print,
		Backoff: wait.Backoff{Duration: time.Millisecond, Factor: 2, Cap: 4 * time.Millisecond, Steps: 10},
	}
	first, err := watcher.List(ctx)
	if err == nil {
		err = watcher.Run(ctx, first)
	}
	if len(server.lists)+len(server.watches) > 0 {
		t.Errorf("unused answers: %d lists, %d watches", len(server.lists), len(server.watches))
	}
	return out.String(), server.watchedFrom, err
}

func TestWatcherListsThenFollowsAndRelistsOn410(t *testing.T) {
	lists := []answer{
		{list: podList("10", pod("demo", "b", "Running", "9"), pod("demo", "a", "Pending", "8"))},
		// the re-list after the 410: a unchanged, c changed, d new, b gone
		{list: podList("20", pod("demo", "a", "Running", "11"), pod("demo", "c", "Running", "15"), pod("demo", "d", "", "16"))},
	}
	watches := []answer{
		{events: []watch.Event{
			{Type: watch.Modified, Object: pod("demo", "a", "Running", "11")},
			bookmark("12"), // printed nowhere, but the reconnect resumes from it
		}}, // then the stream ends: reconnect from 12
		{events: []watch.Event{
			{Type: watch.Added, Object: pod("demo", "c", "Pending", "13")},
			{Type: watch.Deleted, Object: pod("demo", "b", "Running", "14")},
			expired(),
		}},
		{events: []watch.Event{{Type: watch.Deleted, Object: pod("demo", "d", "Succeeded", "21")}}},
	}
	out, watchedFrom, err := runWatcher(t, lists, watches)
	want := strings.Join([]string{
		`{"type":"ADDED","namespace":"demo","name":"a","phase":"Pending","resourceVersion":"8"}`,
		`{"type":"ADDED","namespace":"demo","name":"b","phase":"Running","resourceVersion":"9"}`,
		`{"type":"MODIFIED","namespace":"demo","name":"a","phase":"Running","resourceVersion":"11"}`,
		`{"type":"ADDED","namespace":"demo","name":"c","phase":"Pending","resourceVersion":"13"}`,
		`{"type":"DELETED","namespace":"demo","name":"b","phase":"Running","resourceVersion":"14"}`,
		`{"type":"MODIFIED","namespace":"demo","name":"c","phase":"Running","resourceVersion":"15"}`,
		`{"type":"ADDED","namespace":"demo","name":"d","phase":"","resourceVersion":"16"}`,
		`{"type":"DELETED","namespace":"demo","name":"d","phase":"Succeeded","resourceVersion":"21"}`,
	}, "\n") + "\n"
	if err != nil || out != want {
		t.Errorf("got %v and\n%s\nwant\n%s", err, out, want)
	}
	if wantFrom := []string{"10", "12", "20", "21"}; !slices.Equal(watchedFrom, wantFrom) {
		t.Errorf("watched from %v, want %v", watchedFrom, wantFrom)
	}
}

// checkRelistedFromAToB: pod a listed at resourceVersion 10, then a re-list at 30
// found b instead: the program printed a, b and a's deletion, and watched from 10
// and then from 30, never from an expired version in between.
func checkRelistedFromAToB(t *testing.T, out string, watchedFrom []string, err error) {
	t.Helper()
	want := `{"type":"ADDED","namespace":"demo","name":"a","phase":"Running","resourceVersion":"5"}` + "\n" +
		`{"type":"ADDED","namespace":"demo","name":"b","phase":"Running","resourceVersion":"25"}` + "\n" +
		`{"type":"DELETED","namespace":"demo","name":"a","phase":"Running","resourceVersion":"5"}` + "\n"
	if err != nil || out != want || !slices.Equal(watchedFrom, []string{"10", "30"}) {
		t.Errorf("got %v, watched from %v and\n%s", err, watchedFrom, out)
	}
}

func TestWatcherRelistsWhenTheWatchIsRefusedWith410(t *testing.T) {
	lists := []answer{
		{list: podList("10", pod("demo", "a", "Running", "5"))},
		{list: podList("30", pod("demo", "b", "Running", "25"))},
	}
	watches := []answer{{err: apierrors.NewResourceExpired("too old resource version: 10 (25)")}}
	out, watchedFrom, err := runWatcher(t, lists, watches)
	checkRelistedFromAToB(t, out, watchedFrom, err)
}

func TestWatcherRelistsAgainWhenTheRelistMeets410(t *testing.T) {
	// Under compaction a re-list's continue token can expire too: 410 again.
	// The re-list is retried (after a delay, like any passing failure), and
	// no watch starts from the expired resourceVersion in between.
	expiredToken := apierrors.NewResourceExpired("The provided continue parameter is too old")
	lists := []answer{
		{list: podList("10", pod("demo", "a", "Running", "5"))},
		{err: expiredToken},
		{err: serverDown},
		{err: expiredToken},
		{list: podList("30", pod("demo", "b", "Running", "25"))},
	}
	watches := []answer{{events: []watch.Event{expired()}}}
	out, watchedFrom, err := runWatcher(t, lists, watches)
	checkRelistedFromAToB(t, out, watchedFrom, err)
}

func TestWatcherRecognises410ByItsCodeAlone(t *testing.T) {
	status := &metav1.Status{Status: metav1.StatusFailure, Code: 410}
	lists := []answer{{list: podList("10")}, {list: podList("11")}}
	watches := []answer{{events: []watch.Event{{Type: watch.Error, Object: status}}}}
	if _, watchedFrom, err := runWatcher(t, lists, watches); err != nil || !slices.Equal(watchedFrom, []string{"10", "11"}) {
		t.Errorf("got %v, watched from %v", err, watchedFrom)
	}
}

func TestWatcherReconnectsAfterFailures(t *testing.T) {
	lists := []answer{{list: podList("10", pod("demo", "a", "Running", "5"))}}
	watches := []answer{
		{err: refused},
		{err: serverDown},
		{events: []watch.Event{{Type: watch.Error, Object: &metav1.Status{Status: metav1.StatusFailure, Code: 500}}}},
		{events: []watch.Event{{Type: watch.Modified, Object: pod("demo", "a", "Running", "12")}}},
	}
	out, watchedFrom, err := runWatcher(t, lists, watches)
	if err != nil || strings.Count(out, "\n") != 2 || !slices.Equal(watchedFrom, []string{"10", "10", "10", "10", "12"}) {
		t.Errorf("got %v, watched from %v and\n%s", err, watchedFrom, out)
	}
}

func TestWatcherGivesUpOnDenial(t *testing.T) {
	tests := []struct {
		name    string
		lists   []answer
		watches []answer
		want    string
	}{{
		name:    "403 on the watch",
		lists:   []answer{{list: podList("10")}},
		watches: []answer{{err: forbidden}},
		want:    `error: 403 Forbidden: cannot watch pods in namespace "demo": pods is forbidden: no`,
	}, {
		name:    "401 in the stream",
		lists:   []answer{{list: podList("10")}},
		watches: []answer{{events: []watch.Event{{Type: watch.Error, Object: &apierrors.NewUnauthorized("Unauthorized").ErrStatus}}}},
		want:    `error: 401 Unauthorized: cannot watch pods in namespace "demo": Unauthorized`,
	}, {
		name:    "403 on the re-list",
		lists:   []answer{{list: podList("10")}, {err: forbidden}},
		watches: []answer{{events: []watch.Event{expired()}}},
		want:    `error: 403 Forbidden: cannot list pods in namespace "demo": pods is forbidden: no`,
	}, {
		name:  "the first list fails",
		lists: []answer{{err: refused}},
		want:  "error: cannot reach the API server at https://127.0.0.1:6443: dial tcp: connection refused",
	}}
	for _, test := range tests {
		_, _, err := runWatcher(t, test.lists, test.watches)
		if got := cli.Describe(err, "https://127.0.0.1:6443", "demo"); got != test.want {
			t.Errorf("%s:\n got %s\nwant %s", test.name, got, test.want)
		}
	}
}

func TestDefaultBackoffDoublesUpTo5s(t *testing.T) {
	backoff := DefaultBackoff
	var got []time.Duration
	for range 8 {
		got = append(got, backoff.Step())
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// runWatchPods runs the watch-pods program with table output against the
// script and returns what it printed and its error.
func runWatchPods(t *testing.T, lists, watches []answer) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server := newFakeServer(t, cancel, lists, watches)
	var out bytes.Buffer
	session := cli.Session{Client: server.client, WatchClient: server.client, Namespace: "demo", Output: cli.OutputTable, Stdout: &out}
	err := WatchPodsProgram.Run(ctx, session)
	return out.String(), err
}

func TestWatchPodsPrintsTheHeaderAfterTheFirstList(t *testing.T) {
	out, err := runWatchPods(t, []answer{{list: podList("10", pod("demo", "a", "Running", "5"))}}, nil)
	want := "" +
		"EVENT     NAMESPACE            NAME                                     PHASE\n" +
		"ADDED     demo                 a                                        Running\n"
	if err != nil || out != want {
		t.Errorf("got %v and\n%s", err, out)
	}
}

func TestWatchPodsPrintsNothingWhenTheFirstListFails(t *testing.T) {
	out, err := runWatchPods(t, []answer{{err: forbidden}}, nil)
	if !apierrors.IsForbidden(err) || out != "" {
		t.Errorf("got %v and %q", err, out)
	}
}

func TestIsWorthRetrying(t *testing.T) {
	watchFailed := func(err error) error { return &cli.CallError{Verb: "watch", Err: err} }
	untrusted := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"the stream ended", nil, true},
		{"connection refused", watchFailed(refused), true},
		{"503", watchFailed(serverDown), true},
		{"429", watchFailed(apierrors.NewTooManyRequests("slow down", 1)), true},
		{"403", watchFailed(forbidden), false},
		{"401", watchFailed(apierrors.NewUnauthorized("Unauthorized")), false},
		{"400", watchFailed(apierrors.NewBadRequest("bad selector")), false},
		{"untrusted certificate", watchFailed(untrusted), false},
		{"stdout failing", syscall.EPIPE, false},
	}
	for _, test := range tests {
		if got := isWorthRetrying(test.err); got != test.want {
			t.Errorf("%s: got %v", test.name, got)
		}
	}
}
