// Package cli is what list-pods and watch-pods share around their Kubernetes
// logic: the command line, the connection to the API server, and the exit
// codes and one-line error messages of conformance/CONTRACT.md.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Program is one command-line program.
type Program struct {
	Name    string // as typed on the command line, e.g. "list-pods"
	Summary string // what -h says the program does
	// RunsUntilStopped programs take --timeout, and SIGINT, SIGTERM and the
	// timeout are their normal end: Run sees its context cancelled and
	// returns nil, and the program exits 0.
	RunsUntilStopped bool
	Run              func(ctx context.Context, s Session) error
}

// Session is what Run gets: a connected client and the options that matter
// once connected.
type Session struct {
	Client      kubernetes.Interface // every request bounded by RequestTimeout
	WatchClient kubernetes.Interface // for watches, bounded by WatchRequestTimeout
	Namespace   string               // metav1.NamespaceAll ("") under -A
	Selector    string
	Output      string // OutputTable or OutputJSON
	Stdout      io.Writer
	Stderr      io.Writer
}

// AllNamespaces tells whether the program works across all namespaces (-A).
func (s Session) AllNamespaces() bool { return s.Namespace == "" }

// The exit codes of the contract.
const (
	exitOK    = 0
	exitError = 1 // API or connection error
	exitUsage = 2
)

// Main runs a program with the given arguments and returns its exit code.
func Main(p Program, args []string, stdout, stderr io.Writer) int {
	silenceKlog()
	opts, err := Parse(p, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, Usage(p))
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\nRun '%s --help' for usage.\n", err, p.Name)
		return exitUsage
	}
	conn, err := Connect(opts)
	if err != nil {
		fmt.Fprintln(stderr, Describe(err, "", ""))
		return exitError
	}
	ctx, stop := runContext(p, opts)
	defer stop()
	session := Session{
		Client:      conn.Client,
		WatchClient: conn.WatchClient,
		Namespace:   conn.Namespace,
		Selector:    opts.Selector,
		Output:      opts.Output,
		Stdout:      stdout,
		Stderr:      stderr,
	}
	if err := p.Run(ctx, session); err != nil {
		fmt.Fprintln(stderr, Describe(err, conn.Host, conn.Namespace))
		return exitError
	}
	return exitOK
}

// runContext is the context a program runs in. For one that runs until
// stopped, SIGINT, SIGTERM and --timeout cancel it.
func runContext(p Program, opts Options) (context.Context, context.CancelFunc) {
	if !p.RunsUntilStopped {
		return context.WithCancel(context.Background())
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if opts.Timeout == 0 {
		return ctx, stopSignals
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	return ctx, func() { cancel(); stopSignals() }
}

// silenceKlog discards client-go's own logging. client-go logs through klog,
// which writes to stderr by default (warnings from the server, dropped watch
// connections it noticed, ...). The contract allows exactly one line on
// stderr, ours. klog.LogToStderr(false) with SetOutput(io.Discard) is not
// enough: klog still copies messages of severity ERROR and above to stderr.
// A logr logger that discards everything replaces all of klog's outputs.
func silenceKlog() {
	klog.SetLogger(logr.Discard())
}
