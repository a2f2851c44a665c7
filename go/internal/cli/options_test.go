package cli

import (
	"errors"
	"flag"
	"math"
	"strings"
	"testing"
	"time"
)

var (
	listPods  = Program{Name: "list-pods"}
	watchPods = Program{Name: "watch-pods", RunsUntilStopped: true}
)

func TestParseAcceptsTheContractsOptions(t *testing.T) {
	tests := []struct {
		program Program
		args    string
		want    Options
	}{
		{listPods, "", Options{Output: "table"}},
		{listPods, "-n demo", Options{Namespace: "demo", Output: "table"}},
		{listPods, "-n=demo", Options{Namespace: "demo", Output: "table"}},
		{listPods, "--namespace demo", Options{Namespace: "demo", Output: "table"}},
		{listPods, "--namespace=demo", Options{Namespace: "demo", Output: "table"}},
		{listPods, "-A", Options{AllNamespaces: true, Output: "table"}},
		{listPods, "--all-namespaces -o json", Options{AllNamespaces: true, Output: "json"}},
		{listPods, "-l app=web,tier!=db --output=json", Options{Selector: "app=web,tier!=db", Output: "json"}},
		{listPods, "--selector=app=web", Options{Selector: "app=web", Output: "table"}},
		{listPods, "--kubeconfig /k --context ctx", Options{Kubeconfig: "/k", Context: "ctx", Output: "table"}},
		{watchPods, "--timeout 30", Options{Output: "table", Timeout: 30 * time.Second}},
		{watchPods, "--timeout=1 -A", Options{AllNamespaces: true, Output: "table", Timeout: time.Second}},
		{watchPods, "--timeout 2147483647", Options{Output: "table", Timeout: math.MaxInt32 * time.Second}},
		{watchPods, "--timeout 08", Options{Output: "table", Timeout: 8 * time.Second}},
	}
	for _, test := range tests {
		got, err := Parse(test.program, strings.Fields(test.args))
		if err != nil || got != test.want {
			t.Errorf("%s %s: got %+v, %v; want %+v", test.program.Name, test.args, got, err, test.want)
		}
	}
}

func TestParseRejectsUsageErrors(t *testing.T) {
	tests := []struct {
		program Program
		args    string
		want    string // in the error message
	}{
		{listPods, "--bogus", "not defined: -bogus"},
		{listPods, "-n a -A", "cannot be used together"},
		{listPods, "-A --namespace=a", "cannot be used together"},
		{listPods, "-o yaml", `not "yaml"`},
		{listPods, "extra", `unexpected argument "extra"`},
		{listPods, "-n", "needs an argument"},
		{listPods, "--timeout 5", "not defined: -timeout"},
		{watchPods, "--timeout 0", "from 1 to 2147483647"},
		{watchPods, "--timeout -3", "from 1 to 2147483647"},
		{watchPods, "--timeout 1.5", "from 1 to 2147483647"},
		{watchPods, "--timeout +5", "from 1 to 2147483647"},
		{listPods, "-n=", "must not be empty"},
		{listPods, "--namespace=", "must not be empty"},
		{watchPods, "--timeout abc", "from 1 to 2147483647"},
		{watchPods, "--timeout 99999999999999", "from 1 to 2147483647"},
		// The same bound in every language: 2^31-1 seconds.
		{watchPods, "--timeout 2147483648", "from 1 to 2147483647"},
		{watchPods, "--timeout 9223372036854775808", "from 1 to 2147483647"},
		{watchPods, "--timeout=18446744073709551617", "from 1 to 2147483647"},
	}
	for _, test := range tests {
		_, err := Parse(test.program, strings.Fields(test.args))
		if err == nil || !strings.Contains(err.Error(), test.want) || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s %s: got error %v, want one containing %q", test.program.Name, test.args, err, test.want)
		}
	}
}

func TestParseRejectsAnEmptyNamespace(t *testing.T) {
	for _, args := range [][]string{{"-n", ""}, {"--namespace", ""}, {"-n="}, {"--namespace="}} {
		if _, err := Parse(watchPods, args); err == nil || !strings.Contains(err.Error(), "must not be empty") {
			t.Errorf("%q: got error %v", args, err)
		}
	}
}

func TestParseHelp(t *testing.T) {
	for _, args := range []string{"-h", "--help", "-n x -h"} {
		if _, err := Parse(listPods, strings.Fields(args)); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: got %v, want flag.ErrHelp", args, err)
		}
	}
}

func TestUsageMentionsTimeoutOnlyForWatchPods(t *testing.T) {
	if strings.Contains(Usage(listPods), "--timeout") {
		t.Error("list-pods usage mentions --timeout")
	}
	if !strings.Contains(Usage(watchPods), "--timeout SECONDS") {
		t.Error("watch-pods usage does not mention --timeout")
	}
}
