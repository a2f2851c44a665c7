package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// run runs Main and returns the exit code, stdout and stderr.
func run(p Program, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(p, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestMainHelp(t *testing.T) {
	code, stdout, stderr := run(listPods, "--help")
	if code != 0 || !strings.HasPrefix(stdout, "usage: list-pods ") || stderr != "" {
		t.Errorf("got %d, %q, %q", code, stdout, stderr)
	}
}

func TestMainUsageErrorExits2(t *testing.T) {
	code, stdout, stderr := run(listPods, "-o", "yaml")
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "error: -o/--output") {
		t.Errorf("got %d, %q, %q", code, stdout, stderr)
	}
}

func TestMainConfigErrorExits1(t *testing.T) {
	noClusterAround(t)
	code, _, stderr := run(listPods)
	if code != 1 || !strings.HasPrefix(stderr, "error: no kubeconfig found") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("got %d, %q", code, stderr)
	}
}

func TestMainAPIErrorExits1WithOneLine(t *testing.T) {
	noClusterAround(t)
	forbidden := Program{Name: "forbidden", Run: func(context.Context, Session) error {
		return &CallError{Verb: "list", Err: apierrors.NewForbidden(pods, "", errors.New("no"))}
	}}
	code, _, stderr := run(forbidden, "--kubeconfig", writeKubeconfig(t))
	want := "error: 403 Forbidden: cannot list pods in namespace \"from-context\": pods is forbidden: no\n"
	if code != 1 || stderr != want {
		t.Errorf("got %d, %q", code, stderr)
	}
}

func TestMainTimeoutEndsTheContext(t *testing.T) {
	noClusterAround(t)
	waitForStop := Program{Name: "wait", RunsUntilStopped: true, Run: func(ctx context.Context, _ Session) error {
		<-ctx.Done()
		return nil
	}}
	start := time.Now()
	code, _, stderr := run(waitForStop, "--kubeconfig", writeKubeconfig(t), "--timeout", "1")
	if code != 0 || stderr != "" || time.Since(start) > 5*time.Second {
		t.Errorf("got %d, %q after %s", code, stderr, time.Since(start))
	}
}
