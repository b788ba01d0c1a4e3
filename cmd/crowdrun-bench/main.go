// Command crowdrun-bench measures every figure of the speed issue ("10 ·
// Speed") side by side in one run and prints one table: figure, measured,
// goal, met or not (docs/speed.md).
//
//	go run ./cmd/crowdrun-bench                 every row, full sizes, medians of 3
//	go run ./cmd/crowdrun-bench -quick          tiny sizes, one run each (a smoke test)
//	go run ./cmd/crowdrun-bench -rows kernels,linalg,size
//
// Rows (-rows, comma-separated; default all):
//
//	kernels     fuel + stack + NaN and + suspendable against the original, on
//	            the kernels of examples/kernels (C and the Go guest), wazero and V8
//	linalg      the same on the 12 kernels of examples/kernels/linalg, medium and large
//	size        suspendable module size / original (no run needed)
//	checkpoint  a native worker's job with checkpoints at the policy's grid
//	            against the same job with --no-checkpoints
//	restore     a worker restoring a 64 MiB checkpoint (decode + resume)
//	compile     compiling the suspendable Go guest in wazero: cold, from the
//	            compile cache (a new worker process), again in the same engine;
//	            cold again on every core (informational)
//	tasks       crowdrun-load tasks, real and fake workers
//	idle        crowdrun-load idle
//
// wazero runs in a child process pinned to one core with taskset (unpinned
// timings on the shared 2-core machine are bimodal); V8 runs in node
// (cmd/crowdrun-bench/v8.mjs through js/runtime.js; TurboFan code compiled
// before the runs, one untimed run of each variant first), pinned to the
// same core. Both are timed by the process's CPU time, which the machine's
// other load moves far less than wall time. The variants of a kernel run alternately, their
// order rotating each round; figures are medians of -runs runs, ratios are
// ratios of medians. Every kernel's outputs are compared: original against
// instrumented (or, where NaN canonicalisation changes printed NaN bits,
// against the instrumented module without it), instrumented against
// suspendable (and their fuel), and wazero against V8. The command exits 1
// if any output disagrees or a row fails; a goal not met is reported, not
// an error. Run it from the repository root.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crowdrun/crowdrun/internal/cpuprofile"
	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// childEnv selects a child mode: "wazero MANIFEST" or "compile MODULE".
const childEnv = "CROWDRUN_BENCH_CHILD"

// profEnv names the file a child profiles itself into (-cpuprofile).
const profEnv = "CROWDRUN_BENCH_CPUPROFILE"

func main() {
	if c := os.Getenv(childEnv); c != "" {
		if err := child(c); err != nil {
			fmt.Fprintln(os.Stderr, "crowdrun-bench child:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crowdrun-bench:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func child(c string) error {
	if f := os.Getenv(profEnv); f != "" {
		stop, err := cpuprofile.Start(f)
		if err != nil {
			return err
		}
		defer stop()
	}
	mode, arg, _ := strings.Cut(c, " ")
	switch mode {
	case "wazero":
		return wazeroChild(arg)
	case "compile":
		return compileChild(arg, false)
	case "compile-cold":
		return compileChild(arg, true)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

var allRows = []string{"kernels", "linalg", "size", "checkpoint", "restore", "compile", "tasks", "idle"}

type options struct {
	prof    string // directory for CPU profiles, or ""
	only    []string
	quick   bool
	runs    int
	rows    []string
	cpu     int
	conns   int
	node    string
	verbose bool
	// nanSplit times the instrumented module without NaN
	// canonicalisation as a fourth variant.
	nanSplit bool
	root     string
	tmp      string
	log      io.Writer
}

func (o *options) want(row string) bool { return slices.Contains(o.rows, row) }

// row is one line of the final table.
type row struct {
	figure, measured, goal string
	met                    string // "yes", "no", "—" (no goal to check), "FAILED"
}

type bench struct {
	opts    options
	rows    []row
	fails   []string // disagreeing outputs, failed rows
	kernels map[string][]kresult
	// mainSizes: the modules of the kernel rows, for the size rows.
	mainSizes map[string]*prepared
	tools     [2]string            // built crowdrun and crowdrun-load
	prepared  map[string]*prepared // by source path
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("crowdrun-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "tiny sizes, one run of each: checks that every row works, measures nothing meaningful")
	runs := fs.Int("runs", 3, "runs of each variant (the figure is their median); -quick: 1")
	rows := fs.String("rows", strings.Join(allRows, ","), "rows to run, comma-separated: "+strings.Join(allRows, ","))
	cpu := fs.Int("cpu", runtime.NumCPU()-1, "the core to pin wazero (and node) to with taskset; -1: do not pin")
	conns := fs.Int("conns", 100000, "idle connections to ask for (capped by the open-file limit and the ephemeral port range)")
	node := fs.String("node", "node", "the node binary (Node 20) for the V8 figures")
	verbose := fs.Bool("v", false, "print every kernel's times and ratios")
	prof := fs.String("cpuprofile", "", "write CPU profiles (go tool pprof) into `DIR`: the compile child, the checkpoint and restore rows, the coordinators of the tasks rows (profiling slows them: not for the figures)")
	nanSplit := fs.Bool("nan-split", false, "also time every kernel instrumented without NaN canonicalisation, in the same rotation, and print its ratios: how much of the instrumentation's cost is NaN canonicalisation (informational rows, no goal)")
	only := fs.String("kernels", "", "run only these kernels (comma-separated names, e.g. fib,gemm): for looking into one; the rows then cover only them")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	o := options{prof: *prof, only: splitList(*only), quick: *quick, runs: *runs, cpu: *cpu, conns: *conns, node: *node, verbose: *verbose, nanSplit: *nanSplit, log: stderr}
	if o.quick && !isSet(fs, "runs") {
		o.runs = 1
	}
	if o.runs < 1 {
		return 2, fmt.Errorf("-runs must be at least 1")
	}
	for _, r := range strings.Split(*rows, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(allRows, r) {
			return 2, fmt.Errorf("unknown row %q (rows: %s)", r, strings.Join(allRows, ","))
		}
		o.rows = append(o.rows, r)
	}
	root, err := repoRoot()
	if err != nil {
		return 2, err
	}
	o.root = root
	if o.tmp, err = os.MkdirTemp("", "crowdrun-bench-"); err != nil {
		return 2, err
	}
	defer os.RemoveAll(o.tmp)

	b := &bench{opts: o, kernels: map[string][]kresult{}}
	start := time.Now()
	load0 := loadavg()
	host, _ := os.Hostname()
	fmt.Fprintf(stdout, "crowdrun-bench %s: %s, %d CPUs (%s), %s; load average %s\n",
		map[bool]string{true: "-quick", false: "full"}[o.quick], time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		runtime.NumCPU(), cpuModel(), runtime.Version(), load0)
	_ = host
	if o.cpu >= 0 {
		if _, err := exec.LookPath("taskset"); err != nil {
			fmt.Fprintln(stdout, "taskset not found: wazero and node run unpinned")
			b.opts.cpu = -1
		} else {
			fmt.Fprintf(stdout, "wazero and node pinned to core %d (taskset); medians of %d runs, variants alternating\n", o.cpu, o.runs)
		}
	}

	steps := []struct {
		name string
		f    func(context.Context) error
	}{
		{"kernels", b.kernelRows},
		{"linalg", b.linalgRows},
		{"size", b.sizeRows},
		{"checkpoint", b.checkpointRow},
		{"restore", b.restoreRows},
		{"compile", b.compileRows},
		{"tasks", b.tasksRows},
		{"idle", b.idleRow},
	}
	for _, s := range steps {
		if !o.want(s.name) {
			continue
		}
		t0 := time.Now()
		fmt.Fprintf(stderr, "== %s (load %s)\n", s.name, loadavg())
		stopProf := func() {}
		if o.prof != "" && (s.name == "checkpoint" || s.name == "restore") {
			if stopProf, err = cpuprofile.Start(filepath.Join(o.prof, s.name+".pprof")); err != nil {
				return 2, err
			}
		}
		err := s.f(ctx)
		stopProf()
		if err != nil {
			b.fail(fmt.Sprintf("%s: %v", s.name, err))
			b.rows = append(b.rows, row{figure: s.name, measured: "failed: " + firstLine(err.Error()), met: "FAILED"})
		}
		fmt.Fprintf(stderr, "== %s done in %v\n", s.name, time.Since(t0).Round(time.Second))
		if ctx.Err() != nil {
			return 2, ctx.Err()
		}
	}

	fmt.Fprintln(stdout)
	printTable(stdout, b.rows)
	fmt.Fprintln(stdout)
	if len(b.fails) == 0 && b.checked() > 0 {
		fmt.Fprintf(stdout, "outputs: every kernel's original, instrumented and suspendable outputs agree, in wazero and V8 (%d kernel runs checked)\n", b.checked())
	} else {
		for _, f := range b.fails {
			fmt.Fprintln(stdout, "FAILED:", f)
		}
	}
	fmt.Fprintf(stdout, "took %v; load average at the start %s, at the end %s\n", time.Since(start).Round(time.Second), load0, loadavg())
	if len(b.fails) > 0 {
		return 1, nil
	}
	return 0, nil
}

func (b *bench) fail(s string) { b.fails = append(b.fails, s) }

func (b *bench) add(figure, measured, goal, met string) {
	b.rows = append(b.rows, row{figure, measured, goal, met})
}

func (b *bench) checked() int {
	n := 0
	for _, rs := range b.kernels {
		n += len(rs)
	}
	return n
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | measured | goal | met |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.figure, r.measured, r.goal, r.met)
	}
}

func metLE(v, goal float64) string {
	if v <= goal {
		return "yes"
	}
	return "no"
}

func metGE(v, goal float64) string {
	if v >= goal {
		return "yes"
	}
	return "no"
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/crowdrun/crowdrun\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the crowdrun repository (no go.mod of github.com/crowdrun/crowdrun above the working directory)")
		}
		dir = parent
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// pinned returns a command that runs name pinned to the chosen core.
func (b *bench) pinned(ctx context.Context, name string, args ...string) *exec.Cmd {
	if b.opts.cpu < 0 {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", strconv.Itoa(b.opts.cpu), name}, args...)...)
}

// selfChild runs this executable in a child mode, pinned, and returns its
// stdout.
func (b *bench) selfChild(ctx context.Context, mode string) ([]byte, error) {
	return b.child(ctx, mode, true)
}

// child runs this executable in a child mode, pinned or on every core, and
// returns its stdout.
func (b *bench) child(ctx context.Context, mode string, pin bool) ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	if pin {
		cmd = b.pinned(ctx, exe)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	if b.opts.prof != "" {
		cmd.Env = append(cmd.Env, profEnv+"="+filepath.Join(b.opts.prof, strings.Fields(mode)[0]+".pprof"))
	}
	cmd.Dir = b.opts.root
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, b.opts.log)
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, firstLine(stderr.String()))
	}
	return out, nil
}

// prepared are the modules of one kernel, written to the temporary
// directory: original, instrumented (crowdrun instrument: default options),
// suspendable (crowdrun instrument --suspendable), and instrumented without
// NaN canonicalisation.
type prepared struct {
	files [nVariants]string
	sizes [nVariants]int
}

func (b *bench) prepare(name, path string) (*prepared, error) {
	if p, ok := b.prepared[path]; ok {
		return p, nil
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &prepared{}
	base := filepath.Join(b.opts.tmp, strings.ReplaceAll(name, "/", "_"))
	write := func(v int, bin []byte) error {
		p.files[v] = base + "." + variantNames[v] + ".wasm"
		p.sizes[v] = len(bin)
		return os.WriteFile(p.files[v], bin, 0o644)
	}
	if err := write(vOriginal, orig); err != nil {
		return nil, err
	}
	inst, err := instrument.Instrument(orig, instrument.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: instrument: %w", name, err)
	}
	if err := write(vInstrumented, inst); err != nil {
		return nil, err
	}
	m, err := binary.Decode(inst)
	if err != nil {
		return nil, err
	}
	if err := suspend.Transform(m, suspend.Options{}); err != nil {
		return nil, fmt.Errorf("%s: suspend: %w", name, err)
	}
	if err := write(vSuspendable, binary.Encode(m)); err != nil {
		return nil, err
	}
	nn := instrument.DefaultOptions()
	nn.CanonicalizeNaN = false
	nonan, err := instrument.Instrument(orig, nn)
	if err != nil {
		return nil, err
	}
	if err := write(vNoNaN, nonan); err != nil {
		return nil, err
	}
	if b.prepared == nil {
		b.prepared = map[string]*prepared{}
	}
	b.prepared[path] = p
	return p, nil
}

func geomean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
