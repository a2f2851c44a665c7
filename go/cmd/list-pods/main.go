// Command list-pods lists pods as a table or as JSON lines; see
// conformance/CONTRACT.md. The program itself is internal/basics.
package main

import (
	"os"

	"controller-examples/go/internal/basics"
	"controller-examples/go/internal/cli"
)

func main() {
	os.Exit(cli.Main(basics.ListPodsProgram, os.Args[1:], os.Stdout, os.Stderr))
}
