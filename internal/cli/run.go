package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasi"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// Exit codes of `crowdrun run` for each verdict. A guest's own non-zero exit
// code passes through when it is below 120 and becomes 119 otherwise, so the
// codes below always mean the verdict (README.md).
var verdictExitCodes = map[sandbox.Status]int{
	sandbox.StatusOK:              0,
	sandbox.StatusFuelExhausted:   120,
	sandbox.StatusStackOverflow:   121,
	sandbox.StatusTrap:            122,
	sandbox.StatusMemoryLimit:     123,
	sandbox.StatusTimeout:         124,
	sandbox.StatusOutputLimit:     125,
	sandbox.StatusInvalidModule:   126,
	sandbox.StatusForbiddenImport: 127,
	sandbox.StatusInvalidSnapshot: 126,
}

const maxGuestExitCode = 119

// ExitCodeFor maps a report to the exit status of `crowdrun run`.
func ExitCodeFor(r sandbox.Report) int {
	if r.Status == sandbox.StatusExit {
		return int(min(r.ExitCode, maxGuestExitCode))
	}
	return verdictExitCodes[r.Status]
}

func (m *Main) runCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("run", "[flags] MODULE.wasm [--] [ARGS...]",
		"Runs MODULE.wasm in the sandbox. The flags come before MODULE.wasm: everything after it is the guest's\n"+
			"argv[1:] (argv[0] is the module's file name), flags included; a '--' right after MODULE.wasm is dropped.\n"+
			"`crowdrun run m.wasm --fuel 5` passes \"--fuel 5\" to the guest.")
	memory := uint64(sandbox.DefaultMemory)
	maxOutput := uint64(sandbox.DefaultMaxOutput)
	var env, files listFlag
	fs.Var(sizeFlag{&memory}, "memory", "guest linear memory limit `SIZE` (KiB/MiB/GiB)")
	fs.Var(sizeFlag{&maxOutput}, "max-output", "limit `SIZE` on stdout+stderr together")
	timeout := fs.Duration("timeout", 0, "wall-clock limit `DURATION`, e.g. 10s (0: none)")
	fs.Var(&env, "env", "set a guest environment variable `K=V` (repeatable)")
	fs.Var(&files, "file", "expose host file PATH to the guest read-only as /NAME: `NAME=PATH` (repeatable)")
	seed := fs.Uint64("seed", 0, "seed `N` of the guest's deterministic random source")
	fuel := fs.Uint64("fuel", 0, "instruction budget `N`: stop with fuel_exhausted beyond it (0: unlimited)")
	stack := fs.Uint("stack", instrument.DefaultStackLimit, "call depth limit `N`: stop with stack_overflow beyond it")
	report := fs.String("report", "", "write a JSON report to `FILE` ('-' for stderr)")
	every := fs.Uint64("checkpoint-every", 0, "take a checkpoint each time this much `FUEL` has been used (needs --checkpoint-dir)")
	ckptDir := fs.String("checkpoint-dir", "", "write checkpoints into this new `DIR` (see `crowdrun resume`)")
	if err := parseLeadingFlags(fs, args); err != nil {
		return err
	}
	if (*every == 0) != (*ckptDir == "") {
		return usageError("--checkpoint-every and --checkpoint-dir go together")
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usageError("a module is required")
	}
	modPath, guestArgs := rest[0], rest[1:]
	if len(guestArgs) > 0 && guestArgs[0] == "--" {
		guestArgs = guestArgs[1:]
	}
	// Memory is capped in whole wasm pages, the unit memory.grow works in,
	// so that every engine fails the same grow.
	memory &^= 64<<10 - 1
	if memory == 0 || memory > sandbox.MaxMemory {
		return usageError("--memory must be between 64KiB (one wasm page) and 4GiB")
	}
	if maxOutput == 0 || maxOutput > 1<<62 {
		return usageError("--max-output must be at least 1B")
	}
	if *timeout < 0 {
		return usageError("--timeout must not be negative")
	}
	if *stack == 0 || *stack > 1<<20 {
		return usageError("--stack must be between 1 and %d", 1<<20)
	}
	in := sandbox.Input{
		// argv[0] is what every task sees on a worker, so that a local run
		// spends exactly the fuel a worker reports (a guest that reads its
		// arguments pays for each byte).
		Args:  append([]string{worker.Argv0}, guestArgs...),
		Env:   env,
		Stdin: m.Stdin,
		Seed:  *seed,
	}
	for _, spec := range files {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || name == "" || path == "" {
			return usageError("--file %q: want NAME=PATH", spec)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return usageError("--file %s: %v", name, err)
		}
		in.Files = append(in.Files, wasi.File{Name: strings.TrimPrefix(name, "/"), Data: data})
	}
	bin, err := os.ReadFile(modPath)
	if err != nil {
		return usageError("%v", err)
	}
	rf, err := openReport(m, *report)
	if err != nil {
		return err
	}
	defer rf.abandon()

	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return err
	}
	defer eng.Close(context.WithoutCancel(ctx))

	var rep sandbox.Report
	opts := instrument.DefaultOptions()
	opts.StackLimit = uint32(*stack)
	opts.MemoryCapPages = uint32(memory / (64 << 10))
	var mod *sandbox.Module
	if *every > 0 {
		mod, err = eng.CompileSuspendable(ctx, bin, opts)
		if err == nil && !mod.Suspendable() {
			return usageError("%s cannot be checkpointed: the suspend rewrite does not support it (a start function, reference-typed locals, or v128 or imported globals)", modPath)
		}
	} else {
		mod, err = eng.CompileWith(ctx, bin, opts)
	}
	if err != nil {
		var se *sandbox.Error
		if !errors.As(err, &se) {
			return err
		}
		rep = sandbox.Report{Status: se.Status, Message: se.Message}
	} else {
		out := bufio.NewWriterSize(m.Stdout, 64<<10)
		in.Stdout = out
		in.Stderr = m.Stderr
		lim := sandbox.Limits{MemoryBytes: memory, MaxOutput: int64(maxOutput), Timeout: *timeout, Fuel: *fuel, CheckpointEvery: *every}
		var cd *checkpointDir
		if *every > 0 {
			// The whole stdin is kept, for `crowdrun resume`.
			stdin, err := io.ReadAll(m.Stdin)
			if err != nil {
				return fmt.Errorf("reading stdin: %w", err)
			}
			in.Stdin = bytes.NewReader(stdin)
			cfg := &runConfig{Version: runConfigVersion, Args: in.Args, Env: in.Env, Seed: in.Seed, MemoryBytes: memory,
				MaxOutput: int64(maxOutput), Fuel: *fuel, CheckpointEvery: *every, Module: hex.EncodeToString(mod.Hash[:]), Instrumentation: mod.Metadata}
			for _, f := range in.Files {
				cfg.Files = append(cfg.Files, f.Name)
			}
			if cfg.Env == nil {
				cfg.Env = []string{}
			}
			if cd, err = newCheckpointDir(*ckptDir, cfg, bin, stdin, in.Files, nil, nil); err != nil {
				return err
			}
			in.Stdout, in.Stderr = cd.wrap(in.Stdout, in.Stderr, 0, 0)
			cd.flush = out.Flush
			in.OnCheckpoint = cd.save
		}
		rep = eng.Run(ctx, mod, in, lim)
		if cd != nil {
			if err := cd.close(); err != nil {
				return err
			}
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing the guest's output: %w", err)
		}
	}
	return rf.verdict(m, "run", rep)
}

// reportFile is the destination of --report: "" (none), "-" (stderr) or a
// file, opened before the guest runs so that a report that cannot be
// written is a usage error then, not an error after the whole run.
type reportFile struct {
	dest    string
	w       io.Writer
	f       *os.File
	created bool // f did not exist before
}

func openReport(m *Main, dest string) (*reportFile, error) {
	r := &reportFile{dest: dest}
	switch dest {
	case "":
		return r, nil
	case "-":
		r.w = m.Stderr
		return r, nil
	}
	// Not truncated yet: if crowdrun stops before a verdict, a report
	// that was there stays as it was (and one made here is removed).
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		r.created = true
	} else if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(dest, os.O_WRONLY, 0)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageError("--report %s: %v", dest, err)
	}
	r.f, r.w = f, f
	return r, nil
}

// write writes the report, replacing what the file held.
func (r *reportFile) write(rep sandbox.Report) error {
	if r.w == nil {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	f := r.f
	r.f = nil // written: abandon leaves it
	if f != nil {
		if st, serr := f.Stat(); serr == nil && st.Mode().IsRegular() {
			err = f.Truncate(0)
		}
	}
	if err == nil {
		_, err = r.w.Write(append(b, '\n'))
	}
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return fmt.Errorf("--report %s: %w", r.dest, err)
	}
	return nil
}

// abandon closes a report file that was not written, removing it if it was
// made for this run.
func (r *reportFile) abandon() {
	if r.f == nil {
		return
	}
	r.f.Close()
	if r.created {
		os.Remove(r.dest)
	}
	r.f = nil
}

// verdict writes the report and returns the verdict's exit code; without a
// report, a verdict other than ok or exit is said on stderr.
func (r *reportFile) verdict(m *Main, cmd string, rep sandbox.Report) error {
	if err := r.write(rep); err != nil {
		return err
	}
	if rep.Status != sandbox.StatusOK && rep.Status != sandbox.StatusExit && r.dest == "" {
		fmt.Fprintf(m.Stderr, "crowdrun %s: %s: %s\n", cmd, rep.Status, rep.Message)
	}
	return &exitError{code: ExitCodeFor(rep)}
}
