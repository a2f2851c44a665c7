package advanced

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"controller-examples/go/internal/cli"
)

// The manager: the process that runs the StaticSite controller. It wires
// the parts together, the way sample-controller's main and
// controller-runtime's manager do:
//
//	informers --(site keys)--> work queue --> N workers --> reconciler --> API server
//	    ^                                                                      |
//	    +------------------------------ watch events --------------------------+
//
//  1. Connect (kubeconfig as kubectl finds it, else the pod's service
//     account: internal/cli), with no client-side rate limit (clientQPS),
//     over HTTP/1.1 (clientProtocols).
//  2. Serve /healthz, /readyz and /metrics.
//  3. Start the informers. Their handlers only add keys to the queue.
//  4. With --leader-elect, stand by until this process holds the Lease
//     (leader.go: client-go's leaderelection, which then keeps renewing it).
//  5. Wait for the caches to be complete, then start the workers. Each takes
//     a key, reconciles it, and reports the outcome to the queue (handleErr,
//     the one place the retry policy lives).
//  6. On SIGTERM/SIGINT: stop handing out keys, let the reconciles in flight
//     finish, release the Lease, exit 0. If the Lease cannot be renewed: stop
//     reconciling and exit 1.

// No client-side rate limit on our clients. client-go's default is 5
// requests per second with bursts of 10 (rest.DefaultQPS, DefaultBurst),
// chosen before the API server could protect itself. Since API Priority and
// Fairness (on by default since Kubernetes 1.20) the server queues and sheds
// load fairly between clients, and SIG API Machinery's advice is to rely on
// it; controller-runtime followed and disables the client-side limiter by
// default. A client-side limit would also make this controller slower than
// the Python and Bash ones for a reason that has nothing to do with Go: a new
// site costs about ten requests, so 1,000 sites created at once would queue
// in our own client for 200 s at 50 requests per second. (`make bench`
// measured exactly that before this change.) A negative QPS is client-go's
// way of saying "no rate limiter" (see rest.Config.QPS).
const clientQPS = -1

// HTTP/1.1, not HTTP/2, to the API server. Over HTTPS client-go speaks
// HTTP/2, and every client made from one rest.Config shares one connection:
// the four informers' watches, the workers' requests, the events and the
// Lease renewals are streams of one TCP connection, read by one goroutine.
// While a thousand Deployments roll out, their watch events crowd that
// connection, and the responses the workers wait for come in among them.
// `make bench` (N = 1,000, update, 2026-12-02), read from the API server's
// audit log: between an apply's response leaving the API server and the
// status patch after it arriving there, the Go workers took 41 ms (median),
// the Python ones 24 ms, and Go's four workers kept 3.5 requests in flight
// on average where Python's kept 4. Over HTTP/1.1 each watch has a
// connection of its own and requests take one from a pool (client-go keeps
// 25 idle per host): 9 to 17 ms in three runs, and 4.5 in flight (a
// reconcile sends its applies at once); all 1,000 Deployments were applied
// after 40 to 45 s instead of over 60 s. The Python client (urllib3) and
// the Bash controller's curl speak HTTP/1.1 too. client-go's NextProtos
// exists for this choice; the API server itself makes it for its calls to
// admission webhooks.
var clientProtocols = []string{"http/1.1"}

// tuneClient sets the controller's choices above on the rest.Config every
// client of this process is made from.
func tuneClient(config *rest.Config) {
	config.QPS = clientQPS
	config.NextProtos = clientProtocols
}

// Exit statuses: 0 after SIGTERM/SIGINT, 1 for an error (including a lost
// Lease), 2 for a usage error.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main runs the controller with the given arguments and returns its exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	opts, err := ParseOptions(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, Usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\nRun '%s --help' for usage.\n", err, Program)
		return exitUsage
	}
	// klog, client-go's logger, writes one line per message to stderr.
	defer klog.Flush()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer context.AfterFunc(ctx, func() {
		klog.InfoS("Shutting down: no new keys, finishing the reconciles in flight", "cause", context.Cause(ctx).Error())
	})()
	if err := Run(ctx, opts); err != nil {
		klog.Flush()
		fmt.Fprintln(stderr, "error: "+err.Error())
		return exitError
	}
	return exitOK
}

// Manager holds the controller's parts.
type Manager struct {
	opts      Options
	election  kubernetes.Interface // the Lease's own client: see newManager
	metrics   *Metrics
	queue     Queue
	informers *Informers
	workers   *Workers
	leading   atomic.Bool
}

// Run runs the controller until ctx is done (nil) or the Lease is lost (an error).
func Run(ctx context.Context, opts Options) error {
	config, err := cli.ClientConfig(opts.Kubeconfig, opts.Context, "").ClientConfig()
	if err != nil {
		return &cli.ConfigError{Err: err}
	}
	tuneClient(config)
	m, shutdownEvents, err := newManager(opts, config)
	if err != nil {
		return err
	}
	defer shutdownEvents()

	health, err := listen("health", opts.HealthAddr, healthHandler(m.ready))
	if err != nil {
		return err
	}
	defer health.stop()
	metrics, err := listen("metrics", opts.MetricsAddr, metricsHandler(m.metrics))
	if err != nil {
		return err
	}
	defer metrics.stop()

	namespace := opts.Namespace
	if namespace == "" {
		namespace = "(all)"
	}
	klog.InfoS("Starting", "namespace", namespace, "workers", opts.Workers, "leaderElection", opts.LeaderElect,
		"identity", opts.Identity, "server", config.Host)
	// The informers run from the start, also on a standby: its caches are
	// warm when it takes over.
	informing, stopInforming := context.WithCancel(context.Background())
	m.informers.Start(informing)
	defer func() {
		stopInforming()
		m.informers.Shutdown()
		klog.InfoS("Stopped")
	}()

	if !opts.LeaderElect {
		m.lead(ctx, context.Background())
		return nil
	}
	return m.runElected(ctx)
}

func newManager(opts Options, config *rest.Config) (*Manager, func(), error) {
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, nil, &cli.ConfigError{Err: err}
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, nil, &cli.ConfigError{Err: err}
	}
	// Leader election gets a client of its own: its requests time out at the
	// renew deadline (a hung renewal must not outlive the lease), and its user
	// agent tells them apart from the reconciles' in the API server's logs.
	electionConfig := rest.AddUserAgent(rest.CopyConfig(config), "leader-election")
	electionConfig.Timeout = opts.RenewDeadline
	election, err := kubernetes.NewForConfig(electionConfig)
	if err != nil {
		return nil, nil, &cli.ConfigError{Err: err}
	}

	m := &Manager{opts: opts, election: election}
	m.metrics = NewMetrics(func() int { return m.queue.Len() })
	m.metrics.RegisterClientGoMetrics()
	m.queue = NewQueue(m.metrics.Workqueue)
	m.informers, err = NewInformers(kube, dyn, opts.Namespace, m.queue.Add)
	if err != nil {
		return nil, nil, err
	}
	recorder, shutdownEvents := newEventRecorder(kube)
	reconciler := &Reconciler{
		Kube:     kube,
		Sites:    dyn.Resource(SiteResource),
		Caches:   m.informers.Caches,
		Recorder: recorder,
	}
	m.workers = &Workers{Queue: m.queue, Reconcile: reconciler.Reconcile, Observe: m.metrics.ObserveReconcile}
	return m, shutdownEvents, nil
}

// ready is /readyz: the caches are complete, or this process is a standby
// waiting for the Lease.
func (m *Manager) ready() bool {
	return (m.opts.LeaderElect && !m.leading.Load()) || m.informers.HasSynced()
}

// lead reconciles until stop is done, then waits for the reconciles in
// flight, which run in contexts derived from work.
func (m *Manager) lead(stop, work context.Context) {
	m.leading.Store(true)
	m.metrics.Leader.Set(1)
	defer m.metrics.Leader.Set(0)
	if !m.informers.WaitForCacheSync(stop) {
		return
	}
	klog.InfoS("Starting workers", "workers", m.opts.Workers)
	m.workers.Run(stop, work, m.opts.Workers)
	klog.InfoS("Workers stopped")
}
