package advanced

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func TestOptionDefaults(t *testing.T) {
	opts, err := ParseOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Namespace != "" || opts.Workers != 4 || opts.LeaderElect ||
		opts.LeaderElectionNamespace != "staticsite-system" || opts.LeaderElectionID != "staticsite-controller" ||
		opts.LeaseDuration != 15*time.Second || opts.RenewDeadline != 10*time.Second || opts.RetryPeriod != 2*time.Second ||
		opts.HealthAddr != "127.0.0.1:8081" || opts.MetricsAddr != "127.0.0.1:8080" || !strings.Contains(opts.Identity, "_") {
		t.Errorf("defaults %+v", opts)
	}
}

func TestOptionsAsTheSuitePassesThem(t *testing.T) {
	opts, err := ParseOptions([]string{
		"--health-addr=127.0.0.1:4001", "--metrics-addr=127.0.0.1:4002", "--identity=go-4001", "--namespace=ns",
		"--leader-elect", "--lease-duration=6", "--renew-deadline=4", "--retry-period=1", "--workers", "8",
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.HealthAddr != "127.0.0.1:4001" || opts.MetricsAddr != "127.0.0.1:4002" || opts.Identity != "go-4001" ||
		opts.Namespace != "ns" || !opts.LeaderElect || opts.LeaseDuration != 6*time.Second ||
		opts.RenewDeadline != 4*time.Second || opts.RetryPeriod != time.Second || opts.Workers != 8 {
		t.Errorf("parsed %+v", opts)
	}
}

func TestUsageErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--workers=0":                                    "positive integer",
		"--workers=+5":                                   "positive integer",
		"--namespace=":                                   "must not be empty",
		"--health-addr=8081":                             "HOST:PORT",
		"--metrics-addr=127.0.0.1:99999":                 "HOST:PORT",
		"--lease-duration=10":                            "--lease-duration must be greater than --renew-deadline",
		"--renew-deadline=2 --lease-duration=5":          "--renew-deadline must be greater than 1.2 x --retry-period",
		"--no-such-flag":                                 "not defined",
		"extra":                                          "unexpected argument",
		"--retry-period=1 --renew-deadline=1.5":          "positive integer",
		"--identity=":                                    "must not be empty",
		"--leader-election-namespace= --workers=1":       "must not be empty",
		"--leader-election-id=":                          "must not be empty",
		"--kubeconfig=/k --context=c --lease-duration=x": "positive integer",
	} {
		_, err := ParseOptions(strings.Fields(args))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", args, err, want)
		}
	}
}

func TestMainExitStatuses(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := Main([]string{"--help"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "--leader-elect") {
		t.Errorf("--help: status %d, stdout %q", code, stdout.String())
	}
	stdout.Reset()
	if code := Main([]string{"--workers=x"}, &stdout, &stderr); code != exitUsage || !strings.HasPrefix(stderr.String(), "error: ") {
		t.Errorf("usage error: status %d, stderr %q", code, stderr.String())
	}
	if _, err := ParseOptions([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func get(t *testing.T, handler http.Handler, path string) (int, string) {
	t.Helper()
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(recorder.Result().Body)
	return recorder.Code, string(body)
}

func TestHealthEndpoints(t *testing.T) {
	ready := false
	handler := healthHandler(func() bool { return ready })
	if code, _ := get(t, handler, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get(t, handler, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before sync %d", code)
	}
	ready = true
	if code, _ := get(t, handler, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after sync %d", code)
	}
}

func TestMetricsEndpointHasTheSpecNames(t *testing.T) {
	metrics := NewMetrics(func() int { return 3 })
	metrics.Leader.Set(1)
	metrics.ObserveReconcile(20*time.Millisecond, nil)
	metrics.ObserveReconcile(time.Millisecond, errors.New("conflict"))
	code, body := get(t, metricsHandler(metrics), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics %d", code)
	}
	for _, sample := range []string{
		`staticsite_reconcile_total{result="success"} 1`,
		`staticsite_reconcile_total{result="error"} 1`,
		`staticsite_reconcile_duration_seconds_count 2`,
		`staticsite_queue_depth 3`,
		`staticsite_leader 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, sample) {
			t.Errorf("/metrics lacks %q", sample)
		}
	}
}

// recordingLock is a resourcelock.Interface that records the updates it is
// asked for, and fails them while failing is set.
type recordingLock struct {
	resourcelock.Interface
	updates []resourcelock.LeaderElectionRecord
	failing bool
}

func (l *recordingLock) Update(_ context.Context, record resourcelock.LeaderElectionRecord) error {
	if l.failing {
		return errors.New("unreachable")
	}
	l.updates = append(l.updates, record)
	return nil
}

func (l *recordingLock) Identity() string { return "me" }

func TestALostLeaseIsNeverReleased(t *testing.T) {
	inner := &recordingLock{}
	lock := &LeaseLock{Interface: inner}
	ctx := context.Background()

	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatalf("a renewal was refused: %v", err)
	}
	// client-go's release after a failed renewal: holder cleared, the workers not drained after SIGTERM.
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: ""}); err == nil {
		t.Fatal("a Lease that may be lost was released")
	}
	lock.AllowRelease() // SIGTERM, and the workers drained
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: ""}); err != nil {
		t.Fatalf("the release after the drain was refused: %v", err)
	}
	if len(inner.updates) != 2 || inner.updates[0].HolderIdentity != "me" || inner.updates[1].HolderIdentity != "" {
		t.Errorf("updates that reached the Lease: %+v", inner.updates)
	}
}

func TestTheReconcilesStopAtTheRenewDeadline(t *testing.T) {
	inner := &recordingLock{}
	lock := &LeaseLock{Interface: inner}
	ctx := context.Background()
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	renewed := lock.LastRenewal()
	work, stop := untilRenewalsFail(ctx, lock, 200*time.Millisecond)
	defer stop()

	inner.failing = true // renewals fail from now on: the context ends at the deadline of the last one
	_ = lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"})
	<-work.Done()
	if !errors.Is(context.Cause(work), errRenewDeadline) {
		t.Errorf("cause %v", context.Cause(work))
	}
	if !lock.LastRenewal().Equal(renewed) {
		t.Error("a failed renewal counted as one")
	}
	if time.Since(renewed) < 200*time.Millisecond {
		t.Error("the reconciles were stopped before the renew deadline")
	}
}

// The controller's clients speak HTTP/1.1 (tuneClient), even to a server
// that offers HTTP/2, as the API server does: a test server offering both
// sees a clientset made from the tuned config arrive over HTTP/1.1.
func TestClientsSpeakHTTP1(t *testing.T) {
	protocols := make(chan string, 1)
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case protocols <- r.Proto:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"major": "1", "minor": "36", "gitVersion": "v1.36.0"}`)
	}))
	server.EnableHTTP2 = true
	server.StartTLS()
	defer server.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
	config := &rest.Config{Host: server.URL, Timeout: 10 * time.Second, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	tuneClient(config)
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.Discovery().ServerVersion(); err != nil {
		t.Fatal(err)
	}
	if got := <-protocols; got != "HTTP/1.1" {
		t.Errorf("the controller's client spoke %s, want HTTP/1.1", got)
	}
}
