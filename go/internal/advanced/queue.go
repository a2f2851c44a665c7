package advanced

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// The work queue between the informers and the workers: client-go's
// util/workqueue, wired as in sample-controller.
//
// It is a queue of keys ("namespace/name"), not of events. A key already
// waiting is not added twice (de-duplication), and a key being processed is
// never handed to a second worker: if it is added again meanwhile, it is
// marked dirty and queued once more when the first worker calls Done. So
// however many events arrive for a site, at most one reconcile of it runs at
// a time and at most one more is pending: the controller is level-based, it
// reconciles the latest state, not each event.
//
// The rate-limiting layer adds a key again after a per-key delay
// (AddRateLimited) and resets that delay (Forget). handleErr below is the
// one place that decides about retries.

// The retry policy: per-key exponential backoff, 5 ms doubling up to 60 s
// (5 ms, 10 ms, 20 ms, ... 40.96 s, then 60 s), reset by a success. It is
// client-go's ItemExponentialFailureRateLimiter alone: the default
// controller rate limiter also caps all retries together at 10 per second,
// which the SPEC does not ask for.
const (
	RetryBaseDelay = 5 * time.Millisecond
	RetryMaxDelay  = 60 * time.Second
)

// ReconcileTimeout bounds one reconcile, so a hung request cannot hold a
// worker (and a graceful shutdown waiting for it) forever.
const ReconcileTimeout = time.Minute

// QueueName names the queue in client-go's workqueue metrics (name="staticsite").
const QueueName = "staticsite"

// Queue is the typed (string keys) rate-limiting work queue.
type Queue = workqueue.TypedRateLimitingInterface[string]

// NewQueue makes the queue; provider (nil for none) receives its metrics.
func NewQueue(provider workqueue.MetricsProvider) Queue {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](RetryBaseDelay, RetryMaxDelay),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: QueueName, MetricsProvider: provider},
	)
}

// Workers take keys from the queue and reconcile them. The loop is
// sample-controller's: the informers' handlers enqueue keys (Queue.Add);
// Run starts runWorker goroutines; each repeats processNextWorkItem, which
// takes a key, calls Reconcile (sample-controller's syncHandler) and gives
// the outcome to handleErr, the error handler and the one place of the
// retry policy.
type Workers struct {
	Queue     Queue
	Reconcile func(ctx context.Context, key string) error
	// Observe, when set, is told how long each reconcile took and how it ended.
	Observe func(took time.Duration, err error)
}

// Run runs n workers until stop is done, then waits for the reconciles in
// flight to finish. Each reconcile runs in a context derived from work (not
// from stop: a stopping controller lets the reconciles in flight finish).
func (w *Workers) Run(stop, work context.Context, n int) {
	var running sync.WaitGroup
	for range n {
		running.Go(func() { w.runWorker(stop, work) })
	}
	<-stop.Done()
	w.Queue.ShutDown() // wakes the workers waiting in Get
	running.Wait()
}

// runWorker processes keys until the queue shuts down or stop is done.
func (w *Workers) runWorker(stop, work context.Context) {
	for w.processNextWorkItem(stop, work) {
	}
}

// processNextWorkItem reconciles one key; false means "stop working".
func (w *Workers) processNextWorkItem(stop, work context.Context) bool {
	key, shutdown := w.Queue.Get()
	if shutdown {
		return false
	}
	// Done tells the queue this worker is finished with the key: only then
	// may it hand the key out again (if it was added meanwhile).
	defer w.Queue.Done(key)
	if stop.Err() != nil {
		// Stopping: take no new key. It is not lost: the next leader (or the
		// next start) lists every site again.
		return false
	}
	ctx, cancel := context.WithTimeout(work, ReconcileTimeout)
	defer cancel()
	started := time.Now()
	err := w.Reconcile(ctx, key)
	if w.Observe != nil {
		w.Observe(time.Since(started), err)
	}
	w.handleErr(key, err)
	return true
}

// handleErr is the retry policy, in one place. A success forgets the key's
// failures; a failure adds the key again after its backoff, forever (capped
// at RetryMaxDelay): a conflict lasts until the other object goes away.
func (w *Workers) handleErr(key string, err error) {
	if err == nil {
		w.Queue.Forget(key)
		return
	}
	w.Queue.AddRateLimited(key)
	klog.ErrorS(err, "Reconcile failed, will retry", "key", key, "failures", w.Queue.NumRequeues(key))
}
