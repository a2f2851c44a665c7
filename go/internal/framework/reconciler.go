package framework

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"controller-examples/go/internal/advanced"
)

// Reconciler is controller-runtime's reconcile.Reconciler for StaticSites.
//
// The reconcile itself, SPEC.md's steps 1 to 8, is the hand-built
// controller's (advanced.Reconciler), reading controller-runtime's cache
// through the adapters of caches.go: the two programs run the same reconcile
// and differ in what a framework replaces (informers, queue, rate limiter,
// workers, leader election, metrics and probes), which is what
// docs/frameworks.md compares.
//
// controller-runtime hands Reconcile a request (namespace and name), never
// an event, as the hand-built queue hands a key; an error means "retry with
// backoff" (the controller's rate limiter), nil means "forget the failures".
type Reconciler struct {
	Site    *advanced.Reconciler
	Metrics *Metrics
}

// Reconcile reconciles one site and counts it in the staticsite_* metrics.
func (r *Reconciler) Reconcile(ctx context.Context, request reconcile.Request) (reconcile.Result, error) {
	started := time.Now()
	err := r.Site.Reconcile(ctx, request.String())
	r.Metrics.ObserveReconcile(time.Since(started), err)
	return reconcile.Result{}, err
}
