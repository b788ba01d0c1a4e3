// Package cli implements the crowdrun command line. Main is a struct so tests
// can run any command in-process with their own streams.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Main holds the process's streams; tests substitute their own.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// NewMain returns a Main wired to the process's standard streams.
func NewMain() *Main { return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr} }

type command struct {
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

// commands lists every subcommand; each lives in its own file.
var commands = map[string]command{
	"run":    {"run a wasm32-wasi program in the sandbox", (*Main).runCmd},
	"resume": {"continue a checkpoint of `crowdrun run --checkpoint-dir` to the end", (*Main).resumeCmd},
	// The instrumenter (issue 3).
	"instrument": {"add fuel metering and limits to a wasm module", (*Main).instrumentCmd},
	// Coordinator, workers and submitters (issue 4).
	"serve":   {"run a coordinator: HTTP API and worker endpoint", (*Main).serveCmd},
	"worker":  {"run a native worker for a coordinator", (*Main).workerCmd},
	"token":   {"create an API token (on the coordinator's host)", (*Main).tokenCmd},
	"submit":  {"submit a job: a module and its tasks", (*Main).submitCmd},
	"status":  {"list jobs, or show (--watch) a job's progress", (*Main).statusCmd},
	"results": {"stream a job's results as NDJSON or files", (*Main).resultsCmd},
	"cancel":  {"cancel a job", (*Main).cancelCmd},
	"demo":    {"the factoring job on a local coordinator and workers", (*Main).demoCmd},
}

// Exit codes of crowdrun itself (verdict codes are in run.go).
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2
)

// exitError carries a specific process exit code out of a command.
type exitError struct {
	code int
	err  error // may be nil: the command already said what it had to
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad command-line input.
func usageError(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// Run executes the command named by args[0] and returns the process exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage(m.Stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(m.Stderr, "crowdrun: unknown command %q\n\n", args[0])
		m.usage(m.Stderr)
		return exitUsage
	}
	err := cmd.run(m, ctx, args[1:])
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(m.Stderr, "crowdrun %s: %v\n", args[0], ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(m.Stderr, "crowdrun %s: %v\n", args[0], err)
	return exitInternal
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: crowdrun COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'crowdrun COMMAND -h' for a command's flags")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func (m *Main) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "usage: crowdrun %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: exitUsage} // the flag package already printed why
	}
	return nil
}

// sizeFlag parses sizes such as 64MiB, 1GiB, 512KiB or plain bytes.
type sizeFlag struct{ v *uint64 }

func (s sizeFlag) String() string {
	if s.v == nil {
		return ""
	}
	return FormatSize(*s.v)
}

func (s sizeFlag) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}

// ParseSize parses a byte size: an integer optionally followed by B, KiB,
// MiB or GiB (KB/MB/GB and K/M/G are accepted as the same binary units).
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: want a number such as 64MiB", s)
	}
	var n uint64
	for _, c := range t[:i] {
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, fmt.Errorf("invalid size %q: too large", s)
		}
		n = n*10 + d
	}
	var mult uint64
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b":
		mult = 1
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size %q: unit must be B, KiB, MiB or GiB", s)
	}
	if n > (1<<64-1)/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// FormatSize renders n in the largest binary unit that divides it.
func FormatSize(n uint64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
