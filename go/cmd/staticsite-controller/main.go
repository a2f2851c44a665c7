// Command staticsite-controller runs the StaticSite controller of
// shared-manifests/SPEC.md. The program itself is internal/advanced.
package main

import (
	"os"

	"controller-examples/go/internal/advanced"
)

func main() {
	os.Exit(advanced.Main(os.Args[1:], os.Stdout, os.Stderr))
}
