package framework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"controller-examples/go/internal/advanced"
)

// Leader election: controller-runtime's manager runs client-go's
// leaderelection with the Lease lock it is given
// (Options.LeaderElectionResourceLockInterface), starts the controllers once
// it leads, and on a lost Lease returns "leader election lost" from
// manager.Start, so the process exits 1.
//
// What the framework does not do, and SPEC.md asks (written by hand):
//
//   - It lets the reconciles write until the process exits, and client-go
//     gives up only a renew deadline after the start of the failing renew
//     cycle, then tries to release the Lease (a GET and a PUT) from a record
//     it read before the renewals failed: that PUT could clear a new leader's
//     Lease. So the lock is the hand-built controller's
//     (advanced.LeaseLock: it refuses a release except after SIGTERM, and
//     remembers when it last renewed), and leaseLock adds one thing the
//     hand-built controller does not need (it stops its workers itself at
//     that time): every Lease request is bounded by the last renewal + the
//     renew deadline.
//   - fence refuses every write of the controller (children, status,
//     finalizers, registry, events) once that time has passed, and bounds each
//     write by it: no write of a leader that may have lost the Lease reaches
//     the API server after a standby may have taken over.

// leaseLock is advanced.LeaseLock whose renewals (a Get, then an Update) end
// at deadline().
type leaseLock struct {
	*advanced.LeaseLock
	renewDeadline time.Duration
}

// newLeaseLock is the Lease SPEC.md's flags name, written with a client of
// its own: its requests time out at the renew deadline, and its user agent
// tells them apart in the API server's logs.
func newLeaseLock(config *rest.Config, opts Options) (*leaseLock, error) {
	electionConfig := rest.AddUserAgent(rest.CopyConfig(config), "leader-election")
	electionConfig.Timeout = opts.RenewDeadline
	election, err := kubernetes.NewForConfig(electionConfig)
	if err != nil {
		return nil, err
	}
	return &leaseLock{LeaseLock: advanced.NewLeaseLock(election, opts), renewDeadline: opts.RenewDeadline}, nil
}

var errLeaseMayBeLost = errors.New("the Lease was not renewed within the renew deadline")

// deadline is the last renewal + the renew deadline: until then this process
// still holds the Lease. The zero time when it never led.
func (l *leaseLock) deadline() time.Time {
	renewed := l.LastRenewal()
	if renewed.IsZero() {
		return time.Time{}
	}
	return renewed.Add(l.renewDeadline)
}

// bound gives a Lease request the deadline of the renewal it belongs to.
func (l *leaseLock) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline := l.deadline(); !deadline.IsZero() {
		return context.WithDeadlineCause(ctx, deadline, errLeaseMayBeLost)
	}
	return context.WithCancel(ctx)
}

func (l *leaseLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	return l.LeaseLock.Get(ctx)
}

// Update renews, takes over, or (HolderIdentity "") releases the Lease.
func (l *leaseLock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	return l.LeaseLock.Update(ctx, record)
}

// fence wraps the controller's transport: a write (any verb but GET) is
// refused once deadline() (the lock's: leaseLock.deadline) has passed, and
// is cancelled at that deadline. Reads go through: a standby's informers keep
// their caches warm.
func fence(deadline func() time.Time) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return fencedTransport{next: next, deadline: deadline}
	}
}

type fencedTransport struct {
	next     http.RoundTripper
	deadline func() time.Time
}

func (t fencedTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	if request.Method == http.MethodGet {
		return t.next.RoundTrip(request)
	}
	deadline := t.deadline()
	if !time.Now().Before(deadline) {
		return nil, fmt.Errorf("%s %s refused: %w", request.Method, request.URL.Path, errLeaseMayBeLost)
	}
	ctx, cancel := context.WithDeadlineCause(request.Context(), deadline, errLeaseMayBeLost)
	response, err := t.next.RoundTrip(request.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	// The body is read after RoundTrip returns: cancel when it is closed.
	response.Body = cancelOnClose{ReadCloser: response.Body, cancel: cancel}
	return response, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}
