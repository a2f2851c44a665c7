// Command staticsite-controller-runtime runs the StaticSite controller of
// shared-manifests/SPEC.md built with controller-runtime. The program itself
// is internal/framework.
package main

import (
	"os"

	"controller-examples/go/internal/framework"
)

func main() {
	os.Exit(framework.Main(os.Args[1:], os.Stdout, os.Stderr))
}
