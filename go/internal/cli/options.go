package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The two output formats of the contract.
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// Options is the parsed command line. Both programs take the same options;
// watch-pods adds --timeout.
type Options struct {
	Namespace     string        // -n/--namespace; "" means the context's namespace
	AllNamespaces bool          // -A/--all-namespaces
	Selector      string        // -l/--selector, a label selector such as app=web
	Output        string        // -o/--output: OutputTable or OutputJSON
	Kubeconfig    string        // --kubeconfig; "" means kubectl's search ($KUBECONFIG, ~/.kube/config)
	Context       string        // --context; "" means the kubeconfig's current context
	Timeout       time.Duration // --timeout (watch-pods only); 0 means until stopped
}

// Parse reads the command line. It returns flag.ErrHelp for -h/--help and
// any other error for a usage error (the caller prints it and exits 2).
//
// The standard library's flag package is enough here: it accepts -n x, -n=x
// and --namespace=x alike, so each option is simply defined under its short
// and its long name, both writing to the same field.
func Parse(p Program, args []string) (Options, error) {
	opts := Options{Output: OutputTable}
	flags := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	flags.SetOutput(io.Discard) // Main prints the one-line error itself
	stringFlag(flags, &opts.Namespace, "n", "namespace")
	stringFlag(flags, &opts.Selector, "l", "selector")
	stringFlag(flags, &opts.Output, "o", "output")
	stringFlag(flags, &opts.Kubeconfig, "kubeconfig")
	stringFlag(flags, &opts.Context, "context")
	flags.BoolVar(&opts.AllNamespaces, "A", false, "")
	flags.BoolVar(&opts.AllNamespaces, "all-namespaces", false, "")
	if p.RunsUntilStopped {
		flags.Func("timeout", "", func(value string) (err error) {
			opts.Timeout, err = parseTimeout(value)
			return err
		})
	}
	if err := flags.Parse(args); err != nil {
		return Options{}, err
	}
	return opts, opts.check(flags)
}

func stringFlag(flags *flag.FlagSet, field *string, names ...string) {
	for _, name := range names {
		flags.StringVar(field, name, *field, "")
	}
}

// TimeoutMax is the largest --timeout, in seconds (2^31-1, about 68 years):
// the same bound in every language, one that every timer they use can hold.
const TimeoutMax = math.MaxInt32

// parseTimeout accepts a whole number of seconds from 1 to TimeoutMax in
// plain digits, as the contract says (ParseInt alone would also take "+5").
func parseTimeout(value string) (time.Duration, error) {
	seconds, err := strconv.ParseInt(value, 10, 64)
	if err != nil || strings.TrimLeft(value, "0123456789") != "" || seconds <= 0 || seconds > TimeoutMax {
		return 0, fmt.Errorf("must be a whole number of seconds from 1 to %d", TimeoutMax)
	}
	return time.Duration(seconds) * time.Second, nil
}

// check finds the usage errors that the flag package cannot see.
func (o Options) check(flags *flag.FlagSet) error {
	switch {
	case flags.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	case o.Namespace == "" && (isSet(flags, "n") || isSet(flags, "namespace")):
		return errors.New("-n/--namespace must not be empty")
	case o.Namespace != "" && o.AllNamespaces:
		return errors.New("-n/--namespace and -A/--all-namespaces cannot be used together")
	case o.Output != OutputTable && o.Output != OutputJSON:
		return fmt.Errorf("-o/--output must be %s or %s, not %q", OutputTable, OutputJSON, o.Output)
	}
	return nil
}

func isSet(flags *flag.FlagSet, name string) bool {
	set := false
	flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Usage is the text that -h/--help prints.
func Usage(p Program) string {
	var text strings.Builder
	synopsis := "[-n NAMESPACE | -A] [-l SELECTOR] [-o table|json] [--kubeconfig PATH] [--context NAME]"
	if p.RunsUntilStopped {
		synopsis += " [--timeout SECONDS]"
	}
	fmt.Fprintf(&text, "usage: %s %s\n\n%s\n\noptions:\n", p.Name, synopsis, p.Summary)
	text.WriteString(`  -n, --namespace NAMESPACE  the namespace (default: the context's namespace, else "default")
  -A, --all-namespaces       all namespaces
  -l, --selector SELECTOR    only pods whose labels match, e.g. app=web,tier!=db
  -o, --output table|json    the output format (default: table)
      --kubeconfig PATH      the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)
      --context NAME         the kubeconfig context (default: the current context)
`)
	if p.RunsUntilStopped {
		text.WriteString("      --timeout SECONDS      stop after SECONDS (default: run until SIGINT or SIGTERM)\n")
	}
	text.WriteString("  -h, --help                 show this help and exit\n")
	return text.String()
}
