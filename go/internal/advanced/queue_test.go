package advanced

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func TestRetryBackoffIsFiveMillisecondsDoublingToOneMinute(t *testing.T) {
	// The limiter NewQueue uses, asked directly.
	limiter := workqueue.NewTypedItemExponentialFailureRateLimiter[string](RetryBaseDelay, RetryMaxDelay)
	want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	for i, delay := range want {
		if got := limiter.When("ns/a"); got != delay {
			t.Errorf("failure %d: delay %v, want %v", i+1, got, delay)
		}
	}
	for range 20 {
		limiter.When("ns/a")
	}
	if got := limiter.When("ns/a"); got != time.Minute {
		t.Errorf("after many failures: delay %v, want the 60 s cap", got)
	}
	if got := limiter.When("ns/b"); got != RetryBaseDelay {
		t.Errorf("another key: delay %v, want its own backoff", got)
	}
	limiter.Forget("ns/a")
	if got := limiter.When("ns/a"); got != RetryBaseDelay {
		t.Errorf("after Forget: delay %v, want the base delay", got)
	}
}

// runWorkers runs workers over the queue until stop is called; it returns
// a function that stops them and waits.
func runWorkers(w *Workers, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx, context.Background(), n)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

// eventually polls cond until it holds, and fails the test after 5 s: a wait
// with a deadline, never a sleep that hopes the other goroutine is done.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestFailedKeyIsRetriedWithBackoffThenForgotten(t *testing.T) {
	queue := NewQueue(nil)
	var (
		mutex    sync.Mutex
		attempts []time.Time
		results  []error
	)
	succeeded := make(chan struct{})
	w := &Workers{
		Queue: queue,
		Reconcile: func(_ context.Context, key string) error {
			mutex.Lock()
			defer mutex.Unlock()
			attempts = append(attempts, time.Now())
			if len(attempts) <= 3 {
				return errors.New("not yet")
			}
			close(succeeded)
			return nil
		},
		Observe: func(_ time.Duration, err error) {
			mutex.Lock()
			defer mutex.Unlock()
			results = append(results, err)
		},
	}
	stop := runWorkers(w, 2)
	queue.Add("ns/site")
	select {
	case <-succeeded:
	case <-time.After(5 * time.Second):
		t.Fatal("the key was not retried until it succeeded")
	}
	eventually(t, "the success to be observed and the key forgotten", func() bool {
		mutex.Lock()
		defer mutex.Unlock()
		return len(results) == 4 && queue.NumRequeues("ns/site") == 0
	})
	stop()

	if len(attempts) != 4 {
		t.Fatalf("%d attempts, want 4", len(attempts))
	}
	// Retries wait 5, 10, 20 ms: at least 35 ms from the first attempt to the last.
	if waited := attempts[3].Sub(attempts[0]); waited < 35*time.Millisecond {
		t.Errorf("retries came after %v, want the backoff (>= 35ms)", waited)
	}
	if queue.NumRequeues("ns/site") != 0 {
		t.Errorf("NumRequeues = %d after a success, want 0 (forgotten)", queue.NumRequeues("ns/site"))
	}
	if len(results) != 4 || results[0] == nil || results[3] != nil {
		t.Errorf("observed results %v", results)
	}
}

func TestOneKeyIsNeverReconciledTwiceAtOnce(t *testing.T) {
	queue := NewQueue(nil)
	var running, maxRunning, calls atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	w := &Workers{
		Queue: queue,
		Reconcile: func(_ context.Context, key string) error {
			now := running.Add(1)
			for {
				previous := maxRunning.Load()
				if now <= previous || maxRunning.CompareAndSwap(previous, now) {
					break
				}
			}
			if calls.Add(1) == 1 { // the first reconcile holds the key while the events come
				close(started)
				<-release
			}
			running.Add(-1)
			return nil
		},
	}
	stop := runWorkers(w, 4)
	queue.Add("ns/busy")
	<-started
	for range 50 {
		queue.Add("ns/busy") // a burst of events for the site being reconciled
	}
	close(release)
	eventually(t, "the burst to be reconciled", func() bool {
		return calls.Load() >= 2 && running.Load() == 0 && queue.Len() == 0
	})
	stop()
	if maxRunning.Load() != 1 {
		t.Errorf("%d reconciles of one key ran at once", maxRunning.Load())
	}
	// De-duplication: the 50 events while the key was being processed make one more reconcile.
	if got := calls.Load(); got != 2 {
		t.Errorf("%d reconciles for 51 adds, want 2", got)
	}
}

func TestStopLetsInFlightReconcilesFinishAndTakesNoNewKey(t *testing.T) {
	queue := NewQueue(nil)
	started := make(chan struct{})
	release := make(chan struct{})
	var finished, calls atomic.Int32
	w := &Workers{
		Queue: queue,
		Reconcile: func(ctx context.Context, key string) error {
			calls.Add(1)
			if key == "ns/slow" {
				close(started)
				<-release
				if ctx.Err() != nil {
					t.Error("the in-flight reconcile's context was cancelled by the stop")
				}
				finished.Add(1)
			}
			return nil
		},
	}
	stop := runWorkers(w, 1)
	queue.Add("ns/slow")
	<-started
	queue.Add("ns/next") // waits behind the slow one
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Run returned before the in-flight reconcile finished")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the in-flight reconcile finished")
	}
	if finished.Load() != 1 || calls.Load() != 1 {
		t.Errorf("finished %d, calls %d: want the slow one finished and no new key taken", finished.Load(), calls.Load())
	}
}

func TestQueueMetricsReachTheProvider(t *testing.T) {
	metrics := NewMetrics(func() int { return 0 })
	queue := NewQueue(metrics.Workqueue)
	queue.Add("ns/a")
	queue.Add("ns/b")
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range families {
		if family.GetName() == "workqueue_adds_total" {
			if got := family.GetMetric()[0].GetCounter().GetValue(); got != 2 {
				t.Errorf("workqueue_adds_total = %v, want 2", got)
			}
			return
		}
	}
	t.Error("no workqueue_adds_total")
}
