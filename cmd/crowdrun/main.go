// Command crowdrun runs untrusted WebAssembly jobs with exact, instruction-
// counted limits; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/crowdrun/crowdrun/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.NewMain().Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
