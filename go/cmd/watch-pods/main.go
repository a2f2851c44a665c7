// Command watch-pods prints the pods, then every change to them, until
// stopped; see conformance/CONTRACT.md. The program itself is
// internal/intermediate.
package main

import (
	"os"

	"controller-examples/go/internal/cli"
	"controller-examples/go/internal/intermediate"
)

func main() {
	os.Exit(cli.Main(intermediate.WatchPodsProgram, os.Args[1:], os.Stdout, os.Stderr))
}
