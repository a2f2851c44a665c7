package framework

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"controller-examples/go/internal/advanced"
)

// What the process serves besides reconciling. controller-runtime's manager
// serves both: /metrics on Options.Metrics.BindAddress from its own registry
// (metrics.Registry, which already holds the Go runtime's, the process's,
// the work queue's, the REST client's and controller_runtime_* metrics), and
// /healthz and /readyz on Options.HealthProbeBindAddress, answering from the
// checks added with AddHealthzCheck and AddReadyzCheck. SPEC.md's
// staticsite_* metrics are added to that registry, and readiness is
// SPEC.md's: the caches synced, or standing by for the Lease.

// Metrics are SPEC.md's metrics: the hand-built controller's
// (advanced.Metrics: staticsite_reconcile_total,
// staticsite_reconcile_duration_seconds, staticsite_leader and
// ObserveReconcile) registered in the framework's registry, and
// staticsite_queue_depth read from the framework's queue.
type Metrics struct {
	*advanced.Metrics
	queue atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]
}

// NewMetrics makes the metrics and registers them in registry.
func NewMetrics(registry prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{}
	// advanced.NewMetrics also fills a registry of its own, which nothing
	// serves here: the collectors are registered again below.
	m.Metrics = advanced.NewMetrics(m.queueLen)
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "staticsite_queue_depth", Help: "Keys waiting in the work queue.",
	}, func() float64 { return float64(m.queueLen()) })
	for _, collector := range []prometheus.Collector{m.Reconciles, m.Duration, m.Leader, depth} {
		if err := registry.Register(collector); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// DefaultRegistry is controller-runtime's registry, the one its /metrics serves.
var DefaultRegistry prometheus.Registerer = metrics.Registry

// newQueue is the controller's work queue (controller.Options.NewQueue):
// client-go's rate-limited queue, as controller-runtime makes it, kept so
// that staticsite_queue_depth can read its length.
func (m *Metrics) newQueue(name string, limiter workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(limiter,
		workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Name: name})
	m.queue.Store(&queue)
	return queue
}

func (m *Metrics) queueLen() int {
	queue := m.queue.Load()
	if queue == nil {
		return 0
	}
	return (*queue).Len()
}

// state is what the probes and staticsite_leader report, kept by two
// runnables of the manager (manager.Runnable: started by the manager, their
// context cancelled on shutdown).
type state struct {
	metrics *Metrics
	synced  atomic.Bool // the caches have synced
	leading atomic.Bool // this process reconciles
}

// cachesSynced is started among the runnables that need no Lease, which the
// manager starts once every cache it was asked for has synced.
type cachesSynced struct{ *state }

func (s cachesSynced) Start(context.Context) error {
	s.synced.Store(true)
	return nil
}

// NeedLeaderElection says that cachesSynced runs on a standby too.
func (s cachesSynced) NeedLeaderElection() bool { return false }

// leaderRunnable is started, like the controller, once this process leads.
type leaderRunnable struct{ *state }

func (s leaderRunnable) Start(ctx context.Context) error {
	s.leading.Store(true)
	s.metrics.Leader.Set(1)
	<-ctx.Done()
	s.metrics.Leader.Set(0)
	return nil
}

// ready is /readyz: 200 once the caches have synced, or while this process
// stands by for the Lease (a standby is ready: it is doing its job).
func (s *state) ready(leaderElect bool) func(*http.Request) error {
	return func(*http.Request) error {
		if s.synced.Load() || (leaderElect && !s.leading.Load()) {
			return nil
		}
		return errors.New("caches not synced")
	}
}
