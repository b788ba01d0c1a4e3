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
	"token":   {"create, list or revoke API tokens (on the coordinator's host)", (*Main).tokenCmd},
	"submit":  {"submit a job: a module and its tasks", (*Main).submitCmd},
	"status":  {"list jobs, or show (--watch) a job's progress", (*Main).statusCmd},
	"results": {"stream a job's results as NDJSON or files", (*Main).resultsCmd},
	"cancel":  {"cancel a job", (*Main).cancelCmd},
	"demo":    {"the factoring job on a local coordinator and workers", (*Main).demoCmd},
	"version": {"print crowdrun's version", (*Main).versionCmd},
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
// Help that was asked for (`crowdrun help`, `crowdrun COMMAND --help`) goes
// to stdout with exit 0; usage errors go to stderr with exit 2.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		m.usage(m.Stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	case "help":
		if len(args) == 1 {
			m.usage(m.Stdout)
			return exitOK
		}
		if len(args) > 2 {
			fmt.Fprintf(m.Stderr, "crowdrun help: want one command, got %q\n", args[1:])
			return exitUsage
		}
		// `crowdrun help run` is `crowdrun run --help`.
		name, args = args[1], []string{args[1], "--help"}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(m.Stderr, "crowdrun: unknown command %q\n\n", name)
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
			fmt.Fprintf(m.Stderr, "crowdrun %s: %v\n", name, ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(m.Stderr, "crowdrun %s: %v\n", name, err)
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
	fmt.Fprintln(w, "\nrun 'crowdrun help COMMAND' (or 'crowdrun COMMAND --help') for a command's flags")
}

// flagOutput is a flag set's output: the flag set writes to stderr (usage
// errors), except the help that parseFlags prints on --help, which goes to
// stdout so that `crowdrun run --help | less` shows it.
type flagOutput struct{ stdout, stderr io.Writer }

func (o *flagOutput) Write(p []byte) (int, error) { return o.stderr.Write(p) }

// flagsAnywhere is said in every command's help but run's. (Backquotes in a
// flag's usage name its placeholder: the first pair only, so none in a
// bool flag's.)
const flagsAnywhere = "Flags may come before or after the arguments; '--' ends the flags."

// newFlagSet returns a flag set that reports errors instead of exiting. Its
// usage shows the synopsis, then notes (one paragraph each), then the flags.
func (m *Main) newFlagSet(name, synopsis string, notes ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{stdout: m.Stdout, stderr: m.Stderr})
	if len(notes) == 0 {
		notes = []string{flagsAnywhere}
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: crowdrun %s %s\n", name, synopsis)
		for _, n := range notes {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		fmt.Fprintln(w, "\nflags:")
		printDefaults(w, fs)
	}
	return fs
}

// printDefaults is flag.PrintDefaults with the spelling the README uses —
// --name, and -x for a one-letter flag (`instrument -o OUT.wasm`) — and a
// default shown only when it is not the zero value.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name
		}
		if placeholder != "" {
			line += " " + placeholder
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		switch f.DefValue {
		case "", "0", "0B", "0s", "false":
		default:
			if g, ok := f.Value.(flag.Getter); ok && isString(g.Get()) {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		fmt.Fprintln(w, line)
	})
}

func isString(v any) bool { _, ok := v.(string); return ok }

// parseFlags parses args, in which flags and arguments may be interleaved:
// `crowdrun status 1 --watch` is `crowdrun status --watch 1`. A "--" ends the
// flags: everything after it is an argument. --help prints the usage to
// stdout and returns flag.ErrHelp; a bad flag is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	return parseArgs(fs, args, false)
}

// parseLeadingFlags is parseFlags for `run MODULE [--] ARGS...`: the flags
// end at the first argument, and it and everything after it are arguments,
// so that a guest's own flags never reach crowdrun.
func parseLeadingFlags(fs *flag.FlagSet, args []string) error {
	return parseArgs(fs, args, true)
}

func parseArgs(fs *flag.FlagSet, args []string, leadingOnly bool) error {
	flags, pos, complete := splitArgs(fs, args, leadingOnly)
	ordered := flags
	if complete {
		// Behind a "--" an argument that starts with '-' stays an argument.
		ordered = append(flags, "--")
		for _, i := range pos {
			ordered = append(ordered, args[i])
		}
	}
	// The flag package would print its error, and the usage, to stderr
	// before returning; both are printed here instead, where help can go to
	// stdout.
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(ordered)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if o, ok := out.(*flagOutput); ok {
			fs.SetOutput(o.stdout)
			defer fs.SetOutput(out)
		}
		fs.Usage()
		return flag.ErrHelp
	default:
		return usageError("%v (see 'crowdrun %s --help')", err, fs.Name())
	}
}

// splitArgs separates args into flags (with their values) and arguments
// (their indexes in args), in order; with leadingOnly the first argument
// and all that follow it are arguments. complete is false when the last
// flag lacks its value: then the flags alone are to be parsed, so that the
// flag package reports it.
func splitArgs(fs *flag.FlagSet, args []string, leadingOnly bool) (flags []string, pos []int, complete bool) {
	rest := func(from int) []int {
		for i := from; i < len(args); i++ {
			pos = append(pos, i)
		}
		return pos
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, rest(i + 1), true
		}
		if len(a) < 2 || a[0] != '-' {
			if leadingOnly {
				return flags, rest(i), true
			}
			pos = append(pos, i)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(a[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // the flag package reports it (or prints the help)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 == len(args) {
			return flags, pos, false
		}
		i++
		flags = append(flags, args[i])
	}
	return flags, pos, true
}

// sizeFlag parses sizes such as 64MiB, 1GiB, 512KiB or plain bytes.
type sizeFlag struct{ v *uint64 }

func (s sizeFlag) String() string {
	if s.v == nil {
		return "0B" // the zero value, as the flag package asks it
	}
	return FormatSize(*s.v)
}

func (s sizeFlag) Get() any {
	if s.v == nil {
		return uint64(0)
	}
	return *s.v
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
func (l *listFlag) Get() any           { return []string(*l) }
