package advanced

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
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
//     account: internal/cli), with a raised client-side rate limit.
//  2. Serve /healthz, /readyz and /metrics.
//  3. Start the informers. Their handlers only add keys to the queue.
//  4. With --leader-elect, stand by until this process holds the Lease
//     (client-go's leaderelection, which then keeps renewing it).
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
	kube      kubernetes.Interface
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
	config.QPS = clientQPS
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

	m := &Manager{opts: opts, kube: kube, election: election}
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

// runElected runs lead while this process holds the Lease.
//
// client-go's leaderelection.RunOrDie does the election: it stands by,
// retrying every retry period, until it can take the Lease; then it calls
// OnStartedLeading in a goroutine with a context that is cancelled when a
// renewal fails for the whole renew deadline; when its own context is
// cancelled it stops renewing and (ReleaseOnCancel) releases the Lease.
//
// Two things to get right:
//
//   - The order on SIGTERM: the Lease is released only once the workers have
//     drained, because until then this process is still writing. So SIGTERM
//     (ctx) stops the workers, and only when they are done is the election's
//     own context cancelled; client-go renews until then.
//   - A lost Lease. The reconciles run in the leading context, so they are
//     cancelled at once. But RunOrDie would then try to release the Lease
//     (ReleaseOnCancel), which takes a GET and a PUT of up to the renew
//     deadline each, and which decides whether the Lease is still ours from
//     the record it saw last, before the failed renewals: the PUT would clear
//     a new leader's Lease. So the release is refused (releaseOnlyOnStop),
//     and runElected returns as soon as the workers have stopped, without
//     waiting for RunOrDie: the process exits 1 within the renew deadline
//     (plus the retry period client-go waits before its last attempt) of its
//     last renewal.
func (m *Manager) runElected(ctx context.Context) error {
	electing, endElection := context.WithCancel(context.Background())
	defer endElection()
	var (
		mutex   sync.Mutex
		started bool
		drained = make(chan struct{})
		lost    = make(chan struct{})
		ending  atomic.Bool // set once the workers drained after SIGTERM: the release may go ahead
	)
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
		ending.Store(true)
		endElection()
	}()

	lease := m.opts.LeaderElectionNamespace + "/" + m.opts.LeaderElectionID
	config := leaderelection.LeaderElectionConfig{
		Lock: &releaseOnlyOnStop{
			Interface: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: m.opts.LeaderElectionNamespace, Name: m.opts.LeaderElectionID},
				Client:     m.election.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: m.opts.Identity},
			},
			ending: &ending,
		},
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
				// Stop on SIGTERM or on a lost Lease; reconcile until the Lease is lost.
				stop, cancel := context.WithCancel(leading)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				m.lead(stop, leading)
				if leading.Err() != nil && !ending.Load() {
					close(lost)
				}
			},
			OnStoppedLeading: func() {
				mutex.Lock()
				wasLeading := started
				mutex.Unlock()
				if wasLeading && ending.Load() {
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

// releaseOnlyOnStop is the Lease lock, except that it refuses to release the
// Lease (an update that clears the holder) unless the workers drained after
// SIGTERM. client-go releases on a lost Lease too (ReleaseOnCancel), trusting
// a record it read before the renewals failed; a standby may hold the Lease
// by then.
type releaseOnlyOnStop struct {
	resourcelock.Interface
	ending *atomic.Bool
}

func (l *releaseOnlyOnStop) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	if record.HolderIdentity == "" && !l.ending.Load() {
		return errors.New("not releasing a Lease that may have been lost")
	}
	return l.Interface.Update(ctx, record)
}
