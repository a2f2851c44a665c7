package intermediate

import (
	"context"

	"controller-examples/go/internal/cli"
)

// WatchPodsProgram is watch-pods.
var WatchPodsProgram = cli.Program{
	Name:             "watch-pods",
	Summary:          "Print the pods as ADDED events, then every change to them, until stopped.",
	RunsUntilStopped: true,
	Run:              watchPods,
}

func watchPods(ctx context.Context, s cli.Session) error {
	watcher := &Watcher{
		Pods:     s.Client.CoreV1().Pods(s.Namespace),
		Watches:  s.WatchClient.CoreV1().Pods(s.Namespace),
		Selector: s.Selector,
		Backoff:  DefaultBackoff,
	}
	// The first list fails like list-pods does: if the server cannot be
	// reached or refuses us at the start, waiting is unlikely to help.
	first, err := watcher.List(ctx)
	if err != nil {
		if ctx.Err() != nil { // stopped during the list
			return nil
		}
		return err
	}
	// Only now, so that a failed start prints nothing on stdout (the table's
	// header included).
	if watcher.Print, err = NewPrinter(s.Stdout, s.Output); err != nil {
		return err
	}
	return watcher.Run(ctx, first)
}
