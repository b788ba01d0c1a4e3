// Command crowdrun-prepare-wasm is package internal/prepare as a command,
// built for GOOS=wasip1 GOARCH=wasm into js/prepare.wasm, so that the
// JavaScript host instruments every module it is given exactly as the Go
// host does (docs/host-interface.md, "The JavaScript host"):
//
//	crowdrun-prepare-wasm [-schedule S] [-stack N] [-memory-cap-pages N] [-nan=BOOL] [-suspendable] < MODULE.wasm
//
// It reads the submitted module on stdin and answers on stdout:
//
//	exit 0  the prepared module (suspendable if asked and the suspend
//	        rewrite could: it then exports crowdrun.suspend_state)
//	exit 3  the refusal, as JSON {"status": ..., "message": ...}: the
//	        verdict and message internal/sandbox gives for that module
//	exit 2  bad flags (on stderr)
//	exit 1  it could not read or write (on stderr)
//
// build.sh beside this file builds it; its test fails if the committed
// js/prepare.wasm is not what the build gives.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/prepare"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitRefused = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("crowdrun-prepare-wasm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := instrument.DefaultOptions()
	schedule := fs.String("schedule", def.Schedule, "fuel schedule")
	stack := fs.Uint("stack", uint(def.StackLimit), "call depth limit")
	capPages := fs.Uint("memory-cap-pages", 0, "memory cap in 64 KiB pages (0: none)")
	nan := fs.Bool("nan", def.CanonicalizeNaN, "canonicalise NaNs")
	suspendable := fs.Bool("suspendable", false, "make the module suspendable too, if the suspend rewrite can")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "crowdrun-prepare-wasm: unexpected argument %q (the module comes on stdin)\n", fs.Arg(0))
		return exitUsage
	}
	if *stack > 1<<32-1 || *capPages > 1<<32-1 {
		fmt.Fprintln(stderr, "crowdrun-prepare-wasm: -stack and -memory-cap-pages must fit in 32 bits")
		return exitUsage
	}
	bin, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "crowdrun-prepare-wasm: reading the module: %v\n", err)
		return exitFailed
	}
	opts := instrument.Options{Schedule: *schedule, StackLimit: uint32(*stack), MemoryCapPages: uint32(*capPages), CanonicalizeNaN: *nan}
	out, _, err := prepare.Submitted(bin, opts, *suspendable)
	code := exitOK
	if err != nil {
		var pe *prepare.Error
		if !errors.As(err, &pe) {
			pe = &prepare.Error{Status: prepare.StatusInvalidModule, Message: "invalid module: " + err.Error()}
		}
		if out, err = json.Marshal(pe); err != nil {
			fmt.Fprintf(stderr, "crowdrun-prepare-wasm: %v\n", err)
			return exitFailed
		}
		code = exitRefused
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "crowdrun-prepare-wasm: writing the result: %v\n", err)
		return exitFailed
	}
	return code
}
