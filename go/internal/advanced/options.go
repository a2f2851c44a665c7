package advanced

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/leaderelection"
)

// Program is the command's name.
const Program = "staticsite-controller"

// Options is the parsed command line, the same flags in every language
// (shared-manifests/SPEC.md).
type Options struct {
	Kubeconfig              string // "" means kubectl's search, then in-cluster
	Context                 string
	Namespace               string // "" means all namespaces
	Workers                 int
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	Identity                string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration
	HealthAddr              string
	MetricsAddr             string
}

// ParseOptions reads the command line. It returns flag.ErrHelp for
// -h/--help and any other error for a usage error (exit status 2).
func ParseOptions(args []string) (Options, error) {
	hostname, _ := os.Hostname()
	opts := Options{}
	flags := flag.NewFlagSet(Program, flag.ContinueOnError)
	flags.SetOutput(io.Discard) // Main prints the one-line error itself
	flags.StringVar(&opts.Kubeconfig, "kubeconfig", "", "")
	flags.StringVar(&opts.Context, "context", "", "")
	flags.Func("namespace", "", nonEmpty(&opts.Namespace))
	opts.Workers = 4
	flags.Func("workers", "", positiveInt(&opts.Workers))
	flags.BoolVar(&opts.LeaderElect, "leader-elect", false, "")
	opts.LeaderElectionNamespace = "staticsite-system"
	flags.Func("leader-election-namespace", "", nonEmpty(&opts.LeaderElectionNamespace))
	opts.LeaderElectionID = "staticsite-controller"
	flags.Func("leader-election-id", "", nonEmpty(&opts.LeaderElectionID))
	opts.Identity = fmt.Sprintf("%s_%d", hostname, os.Getpid())
	flags.Func("identity", "", nonEmpty(&opts.Identity))
	// client-go's defaults: 15 s, 10 s, 2 s.
	opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	flags.Func("lease-duration", "", seconds(&opts.LeaseDuration))
	flags.Func("renew-deadline", "", seconds(&opts.RenewDeadline))
	flags.Func("retry-period", "", seconds(&opts.RetryPeriod))
	opts.HealthAddr, opts.MetricsAddr = "127.0.0.1:8081", "127.0.0.1:8080"
	flags.Func("health-addr", "", hostPort(&opts.HealthAddr))
	flags.Func("metrics-addr", "", hostPort(&opts.MetricsAddr))
	if err := flags.Parse(args); err != nil {
		return Options{}, err
	}
	if flags.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	// client-go's own checks (NewLeaderElector), as usage errors.
	if opts.LeaseDuration <= opts.RenewDeadline {
		return Options{}, errors.New("--lease-duration must be greater than --renew-deadline")
	}
	if float64(opts.RenewDeadline) <= leaderelection.JitterFactor*float64(opts.RetryPeriod) {
		return Options{}, fmt.Errorf("--renew-deadline must be greater than %.1f x --retry-period", leaderelection.JitterFactor)
	}
	return opts, nil
}

func nonEmpty(field *string) func(string) error {
	return func(value string) error {
		if value == "" {
			return errors.New("must not be empty")
		}
		*field = value
		return nil
	}
}

// positiveInt accepts a whole number of at least 1 in plain digits
// (strconv.Atoi alone would also take "+5").
func positiveInt(field *int) func(string) error {
	return func(value string) error {
		number, err := strconv.Atoi(value)
		if err != nil || strings.TrimLeft(value, "0123456789") != "" || number < 1 {
			return fmt.Errorf("must be a positive integer, got %q", value)
		}
		*field = number
		return nil
	}
}

func seconds(field *time.Duration) func(string) error {
	return func(value string) error {
		var number int
		if err := positiveInt(&number)(value); err != nil {
			return err
		}
		*field = time.Duration(number) * time.Second
		return nil
	}
}

func hostPort(field *string) func(string) error {
	return func(value string) error {
		host, port, err := net.SplitHostPort(value)
		number, portErr := strconv.Atoi(port)
		if err != nil || host == "" || portErr != nil || number < 1 || number > 65535 {
			return fmt.Errorf("must be HOST:PORT, got %q", value)
		}
		*field = value
		return nil
	}
}

// Usage is what -h/--help prints.
const Usage = `usage: staticsite-controller [--kubeconfig PATH] [--context NAME] [--namespace NS] [--workers N]
                             [--leader-elect] [--leader-election-namespace NS] [--leader-election-id NAME]
                             [--identity ID] [--lease-duration SECONDS] [--renew-deadline SECONDS]
                             [--retry-period SECONDS] [--health-addr HOST:PORT] [--metrics-addr HOST:PORT]

Run the StaticSite controller (shared-manifests/SPEC.md).

options:
  --kubeconfig PATH                 the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)
  --context NAME                    the kubeconfig context (default: the current context)
  --namespace NS                    watch only this namespace (default: all namespaces)
  --workers N                       concurrent reconciles (default: 4)
  --leader-elect                    hold a Lease before reconciling
  --leader-election-namespace NS    the Lease's namespace (default: staticsite-system)
  --leader-election-id NAME         the Lease's name (default: staticsite-controller)
  --identity ID                     the Lease holder identity (default: HOSTNAME_PID)
  --lease-duration SECONDS          (default: 15)
  --renew-deadline SECONDS          (default: 10)
  --retry-period SECONDS            (default: 2)
  --health-addr HOST:PORT           /healthz and /readyz (default: 127.0.0.1:8081)
  --metrics-addr HOST:PORT          /metrics (default: 127.0.0.1:8080)
  -h, --help                        show this help and exit
`
