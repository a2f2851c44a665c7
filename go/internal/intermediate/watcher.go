package intermediate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/ptr"

	"controller-examples/go/internal/basics"
	"controller-examples/go/internal/cli"
)

// DefaultBackoff is the contract's delay before reconnecting: 0.2 s,
// doubling, at most 5 s. wait.Backoff grows only while Steps lasts, hence
// the large Steps; once it reaches Cap it stays there.
var DefaultBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Cap: 5 * time.Second, Steps: math.MaxInt32}

// Watcher prints the pods, then every change to them.
//
// This is by hand what client-go's informers (tools/cache) do inside, so the
// protocol can be seen: list, watch from the list's resourceVersion, resume
// after a dropped connection, re-list after 410 Gone. client-go's
// tools/watch.RetryWatcher resumes after dropped connections but stops at
// 410; an informer handles everything but hides the protocol behind its
// cache. A real controller would use an informer.
type Watcher struct {
	Pods     corev1client.PodInterface // for lists: each request bounded by cli.RequestTimeout
	Watches  corev1client.PodInterface // for watches: bounded by cli.WatchRequestTimeout
	Selector string
	Print    Printer
	Backoff  wait.Backoff

	printed         Snapshot // the pods as the printed events describe them
	resourceVersion string   // how far in the history of the pods the printed events go
}

// Listing is the result of one list: the pods, and the resourceVersion
// (the point in the cluster's history) the list shows.
type Listing struct {
	Pods            Snapshot
	ResourceVersion string
}

// List lists the pods page by page; it prints nothing.
func (w *Watcher) List(ctx context.Context) (Listing, error) {
	pods := Snapshot{}
	resourceVersion, err := basics.ListPods(ctx, w.Pods, w.Selector, func(pod *corev1.Pod) {
		pods[keyOf(pod)] = stateOf(pod)
	})
	return Listing{Pods: pods, ResourceVersion: resourceVersion}, err
}

// Run prints the first listing's pods as ADDED events, then follows the
// changes until ctx is done, and then returns nil. It returns an error only
// when retrying cannot help (see isWorthRetrying).
func (w *Watcher) Run(ctx context.Context, first Listing) error {
	// exercise: relist-on-410 begin
	if err := w.catchUp(first); err != nil {
		return err
	}
	backoff := w.Backoff
	mustRelist := false
	for {
		var (
			received bool
			err      error
		)
		if mustRelist {
			err = w.relist(ctx)
			mustRelist = err != nil
		}
		if err == nil {
			received, err = w.follow(ctx)
			if isExpired(err) && ctx.Err() == nil {
				// 410 Gone: the server no longer keeps history back to our
				// resourceVersion (its watch cache holds recent events only, and
				// etcd compacts old ones), so a watch cannot replay what we missed.
				// Only a new list can tell the current state; printing its
				// difference from what we printed lets a consumer converge
				// without seeing anything twice. Re-list at once: there is
				// nothing to wait for.
				mustRelist = true
				continue
			}
		}
		switch {
		case ctx.Err() != nil: // SIGINT, SIGTERM or --timeout
			return nil
		case isExpired(err):
			// A re-list can meet 410 too (its continue token expired under
			// compaction): retry it like any passing failure, after a delay,
			// never in a hot loop.
		case !isWorthRetrying(err):
			return err
		case received:
			backoff = w.Backoff // events were flowing: start the delays afresh
		}
		if !sleep(ctx, backoff.Step()) {
			return nil
		}
	}
	// exercise: relist-on-410 end
}

func (w *Watcher) relist(ctx context.Context) error {
	listing, err := w.List(ctx)
	if err != nil {
		return err
	}
	return w.catchUp(listing)
}

// catchUp prints how a listing differs from what was printed so far (the
// first time, every pod is ADDED) and remembers the listing's
// resourceVersion for the watch to start from.
func (w *Watcher) catchUp(listing Listing) error {
	for _, event := range Diff(w.printed, listing.Pods) {
		if err := w.Print(event); err != nil {
			return err
		}
	}
	w.printed, w.resourceVersion = listing.Pods, listing.ResourceVersion
	return nil
}

// follow watches from the last seen resourceVersion and prints each change,
// until the stream ends (err is nil: reconnect), the server reports an error,
// or ctx is done. received tells whether any event arrived.
func (w *Watcher) follow(ctx context.Context) (received bool, err error) {
	// exercise: resume-from-resource-version begin
	stream, err := w.Watches.Watch(ctx, metav1.ListOptions{
		LabelSelector: w.Selector,
		// Watching from the list's (or the last event's) resourceVersion,
		// not from "now", makes the server replay every change after that
		// point: nothing between the list and the watch, or during a
		// reconnect, is missed, and nothing is printed twice.
		ResourceVersion: w.resourceVersion,
		// Bookmarks are events that only carry a newer resourceVersion. On
		// a quiet selection they keep ours recent, so a reconnect resumes
		// from a point the server still remembers instead of hitting 410.
		AllowWatchBookmarks: true,
		// Ask the server to end the watch after a while (see
		// cli.WatchTimeoutSeconds); an ended watch is resumed like a
		// dropped one.
		TimeoutSeconds: ptr.To(cli.WatchTimeoutSeconds),
	})
	if err != nil {
		return false, &cli.CallError{Verb: "watch", Err: err}
	}
	defer stream.Stop()
	for {
		select {
		case <-ctx.Done():
			return received, nil
		case event, ok := <-stream.ResultChan():
			if !ok { // the server closed the stream: its timeout, a restart, a reset
				return received, nil
			}
			if err := w.apply(event); err != nil {
				return received, err
			}
			received = true
		}
	}
	// exercise: resume-from-resource-version end
}

// apply prints one watch event and records it.
func (w *Watcher) apply(event watch.Event) error {
	if event.Type == watch.Error {
		// The server ends a watch with an ERROR event carrying a Status,
		// e.g. 410 Gone when our resourceVersion has expired.
		return &cli.CallError{Verb: "watch", Err: apierrors.FromObject(event.Object)}
	}
	pod, ok := event.Object.(*corev1.Pod)
	if !ok { // the typed client decodes pods only; this guards against a panic
		return &cli.CallError{Verb: "watch", Err: fmt.Errorf("unexpected %T in a %s event", event.Object, event.Type)}
	}
	w.resourceVersion = pod.ResourceVersion
	key, state := keyOf(pod), stateOf(pod)
	switch event.Type {
	case watch.Bookmark: // nothing happened to any pod: only the resourceVersion moves on
		return nil
	case watch.Deleted:
		delete(w.printed, key)
	default:
		w.printed[key] = state
	}
	return w.Print(newEvent(event.Type, key, state))
}

// isExpired recognises 410 Gone, with either reason the server uses for it.
func isExpired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

// isWorthRetrying tells the failures that may go away: a stream that ended
// (err is nil), a dropped or refused connection, an overloaded or restarting
// server (429, 5xx). A refusal (401, 403, any other 4xx), an untrusted
// certificate, or an error that is not the API's at all (stdout failing)
// will not go away.
func isWorthRetrying(err error) bool {
	var (
		status apierrors.APIStatus
		call   *cli.CallError
	)
	switch {
	case err == nil:
		return true
	case errors.As(err, &status):
		code := status.Status().Code
		return code == http.StatusTooManyRequests || code >= http.StatusInternalServerError
	}
	return errors.As(err, &call) && !cli.IsTLSFailure(err)
}

// sleep waits for d, or less if ctx is done first; it tells whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
