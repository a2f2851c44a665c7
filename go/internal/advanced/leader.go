package advanced

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Leader election: with --leader-elect, only the process holding a
// coordination.k8s.io/v1 Lease reconciles; the others stand by with warm
// caches and take over when the holder stops renewing (SPEC.md, "The
// process"). client-go's leaderelection package runs the election; this
// file adds what SPEC asks for beyond it: the reconciles stop before the
// Lease may be taken over, and a Lease that may be lost is never released.

// runElected runs lead while this process holds the Lease.
//
// client-go's leaderelection.RunOrDie does the election: it stands by,
// retrying every retry period, until it can take the Lease; then it calls
// OnStartedLeading in a goroutine with a context, and renews the Lease; when
// its own context is cancelled it stops renewing and (ReleaseOnCancel)
// releases the Lease.
//
// Two things to get right:
//
//   - The order on SIGTERM: the Lease is released only once the workers have
//     drained, because until then this process is still writing. So SIGTERM
//     (ctx) stops the workers, and only when they are done is the election's
//     own context cancelled; client-go renews until then.
//   - A lost Lease. client-go cancels the context it gave OnStartedLeading
//     only when RunOrDie returns, after trying to release the Lease, and that
//     release (a GET and a PUT of up to the renew deadline each) decides the
//     Lease is still ours from the record it saw before the renewals failed:
//     its PUT would clear a new leader's Lease, and until it returns the
//     reconciles go on writing. So the lock (LeaseLock) refuses that release
//     and remembers when this process last renewed; the reconciles run in a
//     context cancelled at that time + the renew deadline (untilRenewalsFail);
//     and runElected returns as soon as the workers have stopped, without
//     waiting for RunOrDie: the process exits 1 within the renew deadline of
//     its last renewal.
func (m *Manager) runElected(ctx context.Context) error {
	electing, endElection := context.WithCancel(context.Background())
	defer endElection()
	var (
		mutex   sync.Mutex
		started bool
		drained = make(chan struct{})
		lost    = make(chan struct{})
	)
	lock := NewLeaseLock(m.election, m.opts)
	go func() {
		select {
		case <-ctx.Done():
		case <-electing.Done():
			return
		}
		mutex.Lock()
		wasLeading := started
		mutex.Unlock()
		if wasLeading {
			<-drained
		}
		lock.AllowRelease()
		endElection()
	}()

	lease := m.opts.LeaderElectionNamespace + "/" + m.opts.LeaderElectionID
	config := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   m.opts.LeaseDuration,
		RenewDeadline:   m.opts.RenewDeadline,
		RetryPeriod:     m.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            lease,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				mutex.Lock()
				started = true
				mutex.Unlock()
				defer close(drained)
				klog.InfoS("Leading", "lease", lease, "identity", m.opts.Identity)
				work, stopWatching := untilRenewalsFail(leading, lock, m.opts.RenewDeadline)
				defer stopWatching()
				// Stop on SIGTERM or on a lost Lease; reconcile until the Lease is lost.
				stop, cancel := context.WithCancel(work)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				m.lead(stop, work)
				if work.Err() != nil && !lock.releasing.Load() {
					klog.ErrorS(context.Cause(work), "Stopped reconciling", "lease", lease)
					close(lost)
				}
			},
			OnStoppedLeading: func() {
				mutex.Lock()
				wasLeading := started
				mutex.Unlock()
				if wasLeading && lock.releasing.Load() {
					klog.InfoS("Released the Lease", "lease", lease)
				}
			},
			OnNewLeader: func(identity string) {
				if identity != m.opts.Identity {
					klog.InfoS("Standing by", "lease", lease, "leader", identity)
				}
			},
		},
	}
	elected := make(chan struct{})
	go func() {
		defer close(elected)
		leaderelection.RunOrDie(electing, config)
	}()
	select {
	case <-elected:
		if ctx.Err() != nil {
			return nil
		}
	case <-lost:
	}
	return fmt.Errorf("lost the Lease %s: stopped reconciling", lease)
}

var errRenewDeadline = errors.New("the Lease was not renewed within the renew deadline")

// untilRenewalsFail returns a context derived from parent that is cancelled
// (cause errRenewDeadline) once lock has not renewed the Lease for deadline.
func untilRenewalsFail(parent context.Context, lock *LeaseLock, deadline time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		timer := time.NewTimer(deadline)
		defer timer.Stop()
		for {
			left := time.Until(lock.LastRenewal().Add(deadline))
			if left <= 0 {
				cancel(errRenewDeadline)
				return
			}
			timer.Reset(left)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// LeaseLock is client-go's Lease lock, with two additions (written by hand:
// client-go has neither). It remembers when this process last wrote the
// Lease as its holder (a take-over or a renewal: the time the request
// started). And it refuses to release the Lease (an update that clears the
// holder) until AllowRelease, once the workers drained after SIGTERM:
// client-go releases after a lost Lease too, trusting a record it read before
// the renewals failed, when a standby may hold the Lease.
//
// Exported because the controller-runtime variant (internal/framework) uses
// the same lock: the framework runs the same client-go election.
type LeaseLock struct {
	resourcelock.Interface
	releasing atomic.Bool
	renewed   atomic.Int64 // time.Time.UnixNano of the last successful write as holder; 0: never led
}

// NewLeaseLock is the Lease SPEC.md's flags name, held as opts.Identity and
// written with client (the election's own client: see newManager).
func NewLeaseLock(client kubernetes.Interface, opts Options) *LeaseLock {
	return &LeaseLock{Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: opts.LeaderElectionNamespace, Name: opts.LeaderElectionID},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: opts.Identity},
	}}
}

// AllowRelease lets the next release through: SIGTERM, and the workers
// drained, is the one time releasing the Lease is right.
func (l *LeaseLock) AllowRelease() {
	l.releasing.Store(true)
}

func (l *LeaseLock) Create(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	started := time.Now()
	err := l.Interface.Create(ctx, record)
	l.remember(started, record, err)
	return err
}

// Update writes the Lease record of one attempt to acquire or renew it
// (client-go's tryAcquireOrRenew reads the Lease, decides, and calls Update,
// or Create when there is no Lease yet), and remembers a success as a
// renewal. A release (an empty holder) passes only after AllowRelease.
func (l *LeaseLock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	// exercise: leader-election begin
	if record.HolderIdentity == "" && !l.releasing.Load() {
		return errors.New("not releasing a Lease that may have been lost")
	}
	started := time.Now()
	err := l.Interface.Update(ctx, record)
	l.remember(started, record, err)
	return err
	// exercise: leader-election end
}

// remember notes a successful write as holder, at the time its request
// started (the API server may have stored it any time after).
func (l *LeaseLock) remember(started time.Time, record resourcelock.LeaderElectionRecord, err error) {
	if err == nil && record.HolderIdentity == l.Identity() {
		l.renewed.Store(started.UnixNano())
	}
}

// LastRenewal is when this process last wrote the Lease as its holder; the
// zero time when it never did.
func (l *LeaseLock) LastRenewal() time.Time {
	renewed := l.renewed.Load()
	if renewed == 0 {
		return time.Time{}
	}
	return time.Unix(0, renewed)
}
