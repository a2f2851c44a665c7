// Package framework is the StaticSite controller of shared-manifests/SPEC.md
// built with controller-runtime (sigs.k8s.io/controller-runtime), the
// library under kubebuilder and the Operator SDK: the hand-built
// controller's informers, work queue, workers, rate limiter, leader election,
// metrics and probes (internal/advanced) are the framework's manager,
// controller builder and cache here, around the same reconcile.
//
//	manager.go     the process: flags, the manager's options, the controller's wiring
//	reconciler.go  reconcile.Reconciler: the hand-built reconcile, counted in metrics
//	caches.go      the reconciler's listers, read from controller-runtime's cache
//	registry.go    the registry's watch, and the owner names Owns must ignore
//	leader.go      the Lease lock and the write fence SPEC.md asks beyond the framework
//	endpoints.go   SPEC.md's metrics in the framework's registry, and readiness
//
// docs/frameworks.md maps each part to what it replaces.
package framework

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"controller-examples/go/internal/advanced"
	"controller-examples/go/internal/cli"
)

// Program is the command's name.
const Program = "staticsite-controller-runtime"

// Options are SPEC.md's flags, parsed as the hand-built controller parses them.
type Options = advanced.Options

// Main runs the controller with the given arguments and returns its exit
// status: 0 after SIGTERM/SIGINT, 1 for an error (a lost Lease included), 2
// for a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	opts, err := advanced.ParseOptions(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, strings.Replace(advanced.Usage, "usage: "+advanced.Program, "usage: "+Program, 1))
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\nRun '%s --help' for usage.\n", err, Program)
		return 2
	}
	// controller-runtime logs through logr; klog, client-go's logger, writes
	// its lines to stderr, so both write the same format to the same place.
	log.SetLogger(klog.NewKlogr())
	defer klog.Flush()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, opts); err != nil {
		klog.Flush()
		fmt.Fprintln(stderr, "error: "+err.Error())
		return 1
	}
	return 0
}

// Run runs the controller until ctx is done (nil) or the Lease is lost (an error).
func Run(ctx context.Context, opts Options) error {
	config, err := cli.ClientConfig(opts.Kubeconfig, opts.Context, "").ClientConfig()
	if err != nil {
		return &cli.ConfigError{Err: err}
	}
	// No client-side rate limit, as in the hand-built controller (its
	// manager.go says why); controller-runtime's default is the same.
	config.QPS = -1
	mgr, err := newManager(ctx, config, opts)
	if err != nil {
		return err
	}
	namespace := opts.Namespace
	if namespace == "" {
		namespace = "(all)"
	}
	klog.InfoS("Starting", "namespace", namespace, "workers", opts.Workers, "leaderElection", opts.LeaderElect,
		"identity", opts.Identity, "server", config.Host)
	// Start serves the endpoints, starts the caches, stands by for the Lease,
	// then starts the controller's workers; on ctx done it stops the workers,
	// waits for the reconciles in flight, and releases the Lease.
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("stopped reconciling: %w", err)
	}
	return nil
}

// newManager is the manager with the StaticSite controller and everything
// SPEC.md asks of the process.
func newManager(ctx context.Context, config *rest.Config, opts Options) (manager.Manager, error) {
	options := manager.Options{
		Cache:                  cacheOptions(opts.Namespace),
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.HealthAddr,
		// On SIGTERM, wait for the reconciles in flight as the hand-built
		// controller does: each is bounded by the reconcile timeout. (The
		// framework's default gives up after 30 s and returns an error.)
		GracefulShutdownTimeout: ptr.To(advanced.ReconcileTimeout),
	}
	if opts.LeaderElect {
		lock, err := newLeaseLock(config, opts)
		if err != nil {
			return nil, &cli.ConfigError{Err: err}
		}
		config.Wrap(fence(lock.deadline))
		// SIGTERM is the one time the Lease is released: the manager does so
		// once the reconciles in flight have finished.
		context.AfterFunc(ctx, lock.AllowRelease)
		options.LeaderElection = true
		options.LeaderElectionResourceLockInterface = lock
		options.LeaderElectionID = opts.LeaderElectionID
		options.LeaderElectionNamespace = opts.LeaderElectionNamespace
		options.LeaderElectionReleaseOnCancel = true
		options.LeaseDuration, options.RenewDeadline, options.RetryPeriod =
			&opts.LeaseDuration, &opts.RenewDeadline, &opts.RetryPeriod
	}
	mgr, err := manager.New(config, options)
	if err != nil {
		return nil, err
	}
	metrics, err := NewMetrics(DefaultRegistry)
	if err != nil {
		return nil, err
	}
	if err := addEndpoints(mgr, metrics, opts.LeaderElect); err != nil {
		return nil, err
	}
	if err := warmCaches(ctx, mgr.GetCache()); err != nil {
		return nil, err
	}
	reconciler, err := newReconciler(mgr, metrics)
	if err != nil {
		return nil, err
	}
	return mgr, addController(mgr, reconciler, metrics, opts.Workers)
}

// cacheOptions: the sites of one namespace ("" for all), and only the
// children labelled managed-by (the cache holds the controller's own objects,
// not every ConfigMap of the cluster); managedFields are dropped, as nothing
// reads them; every cached object is handed to the handlers again every
// ResyncPeriod (controller-runtime's default: 10 hours).
func cacheOptions(namespace string) cache.Options {
	resync := advanced.ResyncPeriod
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{advanced.ManagedByLabel: advanced.ManagerName})}
	options := cache.Options{
		SyncPeriod:       &resync,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}:  managed,
			&appsv1.Deployment{}: managed,
			&corev1.Service{}:    managed,
		},
	}
	if namespace != "" {
		options.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	return options
}

// addEndpoints adds the probes' checks and the runnables that keep their
// state and staticsite_leader.
func addEndpoints(mgr manager.Manager, metrics *Metrics, leaderElect bool) error {
	s := &state{metrics: metrics}
	for _, runnable := range []manager.Runnable{cachesSynced{s}, leaderRunnable{s}} {
		if err := mgr.Add(runnable); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("caches", s.ready(leaderElect))
}

// warmCaches asks the cache for the four kinds now, so that it starts them
// with the manager, also on a standby: its caches are complete when it takes
// over. (Otherwise the controller would ask for them only once leading.)
func warmCaches(ctx context.Context, c cache.Cache) error {
	for _, obj := range []client.Object{newSite(), &corev1.ConfigMap{}, &appsv1.Deployment{}, &corev1.Service{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// newReconciler is the hand-built reconcile over the manager's cache and
// clients. The clients share the manager's HTTP client, so the fence of
// leader.go guards their writes too.
func newReconciler(mgr manager.Manager, metrics *Metrics) (*Reconciler, error) {
	kube, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	site := &advanced.Reconciler{
		Kube:   kube,
		Sites:  dyn.Resource(advanced.SiteResource),
		Caches: cachesFrom(mgr.GetCache()),
		// SPEC.md's events are core/v1 Events with source.component set:
		// the older events API, which this (deprecated) recorder writes.
		Recorder: mgr.GetEventRecorderFor(advanced.ManagerName), //nolint:staticcheck
	}
	return &Reconciler{Site: site, Metrics: metrics}, nil
}

// addController: a site's changes enqueue it (For); a change of a child it
// controls enqueues it (Owns, which reads the controller ownerReference);
// a change of a registry enqueues the sites it concerns (Watches).
func addController(mgr manager.Manager, reconciler reconcile.Reconciler, metrics *Metrics, workers int) error {
	owners := (&ownedBySiteName{}).predicate()
	return builder.ControllerManagedBy(mgr).
		Named(advanced.QueueName). // the name in the framework's logs and work queue metrics
		For(newSite()).
		Owns(&corev1.ConfigMap{}, builder.WithPredicates(owners)).
		Owns(&appsv1.Deployment{}, builder.WithPredicates(owners)).
		Owns(&corev1.Service{}, builder.WithPredicates(owners)).
		Watches(&corev1.ConfigMap{}, registryHandler(mgr.GetCache()), builder.WithPredicates(isRegistry)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: workers,
			// The hand-built retry policy (5 ms doubling to 60 s, per key):
			// controller-runtime's default caps at 1000 s and adds an overall
			// 10 per second bucket.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
				advanced.RetryBaseDelay, advanced.RetryMaxDelay),
			// A hung request cannot hold a worker (and a graceful shutdown) forever.
			ReconciliationTimeout: advanced.ReconcileTimeout,
			// The classic queue, the hand-built controller's: controller-runtime's
			// priority queue (its default since v0.23) orders keys differently.
			UsePriorityQueue: ptr.To(false),
			NewQueue:         metrics.newQueue,
		}).
		Complete(reconciler)
}
