package advanced

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientmetrics "k8s.io/client-go/tools/metrics"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// What the process serves besides reconciling: Prometheus metrics on
// --metrics-addr, and the probes /healthz and /readyz on --health-addr.

// Metrics are the controller's own metrics, the same names in every
// language, in a registry that also holds client-go's (work queue, REST
// client) and the Go runtime's.
type Metrics struct {
	Registry   *prometheus.Registry
	Reconciles *prometheus.CounterVec // staticsite_reconcile_total{result="success"|"error"}
	Duration   prometheus.Histogram   // staticsite_reconcile_duration_seconds
	Leader     prometheus.Gauge       // staticsite_leader: 1 while this process reconciles
	Workqueue  workqueue.MetricsProvider
}

// NewMetrics registers the metrics; queueDepth is read at every scrape.
func NewMetrics(queueDepth func() int) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "staticsite_reconcile_total", Help: "Reconciles, by result.",
		}, []string{"result"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "staticsite_reconcile_duration_seconds", Help: "How long a reconcile took.",
		}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "staticsite_leader", Help: "1 while this process is the one reconciling, else 0.",
		}),
	}
	for _, result := range []string{"success", "error"} {
		m.Reconciles.WithLabelValues(result) // both series exist from the start, at 0
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "staticsite_queue_depth", Help: "Keys waiting in the work queue.",
	}, func() float64 { return float64(queueDepth()) })
	workqueueMetrics := newWorkqueueMetrics()
	m.Workqueue = workqueueMetrics
	m.Registry.MustRegister(
		m.Reconciles, m.Duration, m.Leader, depth,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.Registry.MustRegister(workqueueMetrics.collectors()...)
	return m
}

// ObserveReconcile counts one reconcile.
func (m *Metrics) ObserveReconcile(took time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	m.Reconciles.WithLabelValues(result).Inc()
	m.Duration.Observe(took.Seconds())
}

// RegisterClientGoMetrics routes client-go's REST client metrics (requests
// by status code, latency) into the registry. client-go accepts this once
// per process.
func (m *Metrics) RegisterClientGoMetrics() {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_requests_total", Help: "HTTP requests to the API server, by status code, method and host.",
	}, []string{"code", "method", "host"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rest_client_request_duration_seconds", Help: "Request latency, by verb and host.",
	}, []string{"verb", "host"})
	m.Registry.MustRegister(requests, latency)
	clientmetrics.Register(clientmetrics.RegisterOpts{
		RequestResult:  requestResult{requests},
		RequestLatency: requestLatency{latency},
	})
}

type requestResult struct{ *prometheus.CounterVec }

func (r requestResult) Increment(_ context.Context, code, method, host string) {
	r.WithLabelValues(code, method, host).Inc()
}

type requestLatency struct{ *prometheus.HistogramVec }

func (r requestLatency) Observe(_ context.Context, verb string, u url.URL, latency time.Duration) {
	r.WithLabelValues(verb, u.Host).Observe(latency.Seconds())
}

// workqueueMetrics is a workqueue.MetricsProvider: client-go's queue calls
// it once per queue for each of its metrics, by queue name.
type workqueueMetrics struct {
	depth, unfinished, longest *prometheus.GaugeVec
	adds, retries              *prometheus.CounterVec
	latency, work              *prometheus.HistogramVec
}

func newWorkqueueMetrics() *workqueueMetrics {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"name"})
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"name"})
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name, Help: help, Buckets: prometheus.ExponentialBuckets(10e-9, 10, 12),
		}, []string{"name"})
	}
	return &workqueueMetrics{
		depth:      gauge("workqueue_depth", "Current depth of the work queue."),
		unfinished: gauge("workqueue_unfinished_work_seconds", "Seconds of work in progress not yet observed by work_duration."),
		longest:    gauge("workqueue_longest_running_processor_seconds", "Seconds the longest running processor has been running."),
		adds:       counter("workqueue_adds_total", "Adds handled by the work queue."),
		retries:    counter("workqueue_retries_total", "Retries handled by the work queue."),
		latency:    histogram("workqueue_queue_duration_seconds", "Seconds an item stays in the queue before being requested."),
		work:       histogram("workqueue_work_duration_seconds", "Seconds processing an item from the queue takes."),
	}
}

func (w *workqueueMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{w.depth, w.unfinished, w.longest, w.adds, w.retries, w.latency, w.work}
}

func (w *workqueueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return w.depth.WithLabelValues(name)
}

func (w *workqueueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return w.adds.WithLabelValues(name)
}

func (w *workqueueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return w.latency.WithLabelValues(name)
}

func (w *workqueueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return w.work.WithLabelValues(name)
}

func (w *workqueueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.unfinished.WithLabelValues(name)
}

func (w *workqueueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.longest.WithLabelValues(name)
}

func (w *workqueueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return w.retries.WithLabelValues(name)
}

// metricsHandler serves /metrics.
func metricsHandler(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

// healthHandler serves /healthz (200 while the process runs) and /readyz
// (200 when ready says so, else 503).
func healthHandler(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "informers not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// server is one HTTP endpoint, listening from the start so that a port in
// use is an error at once, not a log line later.
type server struct {
	what string
	http *http.Server
}

func listen(what, addr string, handler http.Handler) (*server, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve %s on %s: %w", what, addr, err)
	}
	s := &server{what: what, http: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.http.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Endpoint stopped", "endpoint", what, "address", addr)
		}
	}()
	return s, nil
}

func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
}
