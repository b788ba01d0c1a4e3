package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
)

// kernel is one workload: a module of examples/kernels and its argv.
type kernel struct {
	name, file string // name: the row label; file: relative to examples/kernels
	args       []string
}

// mainKernels are the kernels of the first rows: matmul, sieve,
// pointer-chasing sort (listsort; sort is qsort through function pointers),
// recursive fib, allocation, bulk memory (memops-bulk), SIMD and a Go guest,
// with the project's other kernels. Full sizes run ≈ 100–400 ms each in
// wazero's compiler on this machine; quick sizes a few ms.
func mainKernels(quick bool, only ...string) []kernel {
	type k struct{ name, full, quick string }
	ks := []k{
		{"matmul", "300", "40"}, {"sieve", "20000000", "100000"}, {"listsort", "400000", "5000"},
		{"sort", "250000", "3000"}, {"fib", "35", "20"}, {"alloc", "2000000", "20000"},
		{"memops", "16", "1"}, {"memops-bulk", "16", "1"}, {"simd", "2000000", "10000"},
		{"stencil", "512", "40"}, {"hash", "16", "1"}, {"nbody", "500000", "5000"},
		{"strings", "600000", "5000"}, {"floats", "2000000", "20000"}, {"gokernel", "30000", "300"},
	}
	var out []kernel
	for _, x := range ks {
		size := x.full
		if quick {
			if x.name == "gokernel" && !slices.Contains(only, x.name) {
				continue // its suspendable compile alone takes ~40 s in wazero
			}
			size = x.quick
		}
		out = append(out, kernel{x.name, x.name + ".wasm", []string{x.name, size}})
	}
	return out
}

var linalgNames = []string{"gemm", "2mm", "atax", "bicg", "mvt", "syrk", "jacobi-2d", "seidel-2d", "lu", "cholesky", "floyd-warshall", "heat-3d"}

func linalgKernels(quick bool) []kernel {
	var out []kernel
	for _, size := range []string{"medium", "large"} {
		for _, n := range linalgNames {
			arg := size
			if quick { // tiny sizes that still exercise every loop
				arg = map[string]string{"medium": "12", "large": "20"}[size]
			}
			out = append(out, kernel{n + "/" + size, "linalg/" + n + ".wasm", []string{n, arg}})
		}
	}
	return out
}

// v8Flags: top-tier code only, compiled before the runs (v8.mjs); -quick,
// which measures nothing, keeps V8's faster default tiering.
func (b *bench) v8Flags() []string {
	if b.opts.quick {
		return nil
	}
	return []string{"--no-liftoff", "--no-wasm-lazy-compilation"}
}

// measure prepares the kernels, runs them in wazero (pinned child) and V8
// (node), checks their outputs and returns both engines' results.
func (b *bench) measure(ctx context.Context, set string, ks []kernel) (wz, v8 []kresult, sizes map[string]*prepared, err error) {
	if len(b.opts.only) > 0 {
		var keep []kernel
		for _, k := range ks {
			if slices.Contains(b.opts.only, strings.Split(k.name, "/")[0]) {
				keep = append(keep, k)
			}
		}
		ks = keep
	}
	sizes = map[string]*prepared{}
	m := manifest{Runs: b.opts.runs, NaNSplit: b.opts.nanSplit}
	for _, k := range ks {
		p, err := b.prepare(k.name, filepath.Join(b.opts.root, "examples", "kernels", k.file))
		if err != nil {
			return nil, nil, nil, err
		}
		sizes[k.name] = p
		m.Kernels = append(m.Kernels, mkernel{Name: k.name, Args: k.args, Files: p.files})
	}
	mpath := filepath.Join(b.opts.tmp, set+".json")
	if err := writeJSON(mpath, m); err != nil {
		return nil, nil, nil, err
	}
	fmt.Fprintf(b.opts.log, "   wazero: %d kernels\n", len(ks))
	out, err := b.selfChild(ctx, "wazero "+mpath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("wazero: %w", err)
	}
	if wz, err = decodeResults(bytes.NewReader(out)); err != nil {
		return nil, nil, nil, fmt.Errorf("wazero: %w", err)
	}
	fmt.Fprintf(b.opts.log, "   V8: %d kernels\n", len(ks))
	cmd := b.pinned(ctx, b.opts.node, append(b.v8Flags(), filepath.Join("cmd", "crowdrun-bench", "v8.mjs"), mpath)...)
	cmd.Dir = b.opts.root
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, b.opts.log)
	out, err = cmd.Output()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("V8 (node): %v: %s", err, firstLine(stderr.String()))
	}
	if v8, err = decodeResults(bytes.NewReader(out)); err != nil {
		return nil, nil, nil, fmt.Errorf("V8: %w", err)
	}
	if len(wz) != len(ks) || len(v8) != len(ks) {
		return nil, nil, nil, fmt.Errorf("%d kernels, %d wazero results, %d V8 results", len(ks), len(wz), len(v8))
	}
	for i := range ks {
		b.check("wazero", &wz[i])
		b.check("V8", &v8[i])
		if wz[i].Err == "" && v8[i].Err == "" {
			if wz[i].Out[vInstrumented] != v8[i].Out[vInstrumented] {
				b.fail(fmt.Sprintf("%s: instrumented output differs between wazero and V8:\n  wazero: %s\n  V8:     %s", ks[i].name, trim(wz[i].Out[vInstrumented]), trim(v8[i].Out[vInstrumented])))
			}
			if wz[i].Fuel[vInstrumented] != v8[i].Fuel[vInstrumented] {
				b.fail(fmt.Sprintf("%s: fuel %d in wazero, %d in V8", ks[i].name, wz[i].Fuel[vInstrumented], v8[i].Fuel[vInstrumented]))
			}
		}
	}
	b.kernels[set+"/wazero"], b.kernels[set+"/V8"] = wz, v8
	if b.opts.verbose {
		b.printKernels(set, "wazero", wz)
		b.printKernels(set, "V8", v8)
	}
	return wz, v8, sizes, nil
}

// check records a kernel whose variants disagree.
func (b *bench) check(engine string, r *kresult) {
	if r.Err != "" {
		b.fail(fmt.Sprintf("%s in %s: %s", r.Name, engine, r.Err))
		return
	}
	o, i, s, nn := r.Out[vOriginal], r.Out[vInstrumented], r.Out[vSuspendable], r.Out[vNoNaN]
	switch {
	case o == "":
		b.fail(fmt.Sprintf("%s in %s: no output", r.Name, engine))
	case o != i && nn == "":
		b.fail(fmt.Sprintf("%s in %s: original and instrumented outputs differ:\n  %s\n  %s", r.Name, engine, trim(o), trim(i)))
	case o != i && nn != o:
		b.fail(fmt.Sprintf("%s in %s: the output differs from the original's even without NaN canonicalisation:\n  %s\n  %s", r.Name, engine, trim(o), trim(nn)))
	}
	if i != s || r.Fuel[vInstrumented] != r.Fuel[vSuspendable] {
		b.fail(fmt.Sprintf("%s in %s: instrumented and suspendable differ (fuel %d, %d):\n  %s\n  %s", r.Name, engine, r.Fuel[vInstrumented], r.Fuel[vSuspendable], trim(i), trim(s)))
	}
}

func trim(s string) string { return strings.TrimSpace(s) }

func decodeResults(r io.Reader) ([]kresult, error) {
	var rs []kresult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var x kresult
		if err := json.Unmarshal(line, &x); err != nil {
			return nil, err
		}
		rs = append(rs, x)
	}
	return rs, sc.Err()
}

// ratios of one engine's results: instrumented/original and
// suspendable/original per kernel (ratios of medians), skipping failures.
type ratios struct {
	names      []string
	io, so, si []float64
	no         []float64 // without NaN canonicalisation / original (-nan-split), else empty
}

func ratiosOf(rs []kresult, filter func(string) bool) ratios {
	var x ratios
	for _, r := range rs {
		if r.Err != "" || (filter != nil && !filter(r.Name)) {
			continue
		}
		o, i, s := median(r.Times[vOriginal]), median(r.Times[vInstrumented]), median(r.Times[vSuspendable])
		if o <= 0 || i <= 0 || s <= 0 {
			continue
		}
		x.names = append(x.names, r.Name)
		x.io, x.so, x.si = append(x.io, i/o), append(x.so, s/o), append(x.si, s/i)
		if len(r.Times[vNoNaN]) == len(r.Times[vOriginal]) {
			x.no = append(x.no, median(r.Times[vNoNaN])/o)
		}
	}
	return x
}

func (x ratios) worst(v []float64) (float64, string) {
	w, n := math.Inf(-1), ""
	for i, r := range v {
		if r > w {
			w, n = r, x.names[i]
		}
	}
	return w, n
}

// addRatioRows adds the three rows of a kernel set for one engine.
func (b *bench) addRatioRows(label, engine string, x ratios) {
	if len(x.names) == 0 {
		b.add(label+", "+engine, "no kernel ran", "", "FAILED")
		return
	}
	g := geomean(x.io)
	b.add(fmt.Sprintf("fuel + stack + NaN / original, geomean, %s, %s (%d kernels)", label, engine, len(x.names)), fmt.Sprintf("%.3f×", g), "≤ 1.10×", metLE(g, 1.10))
	w, wn := x.worst(x.io)
	b.add(fmt.Sprintf("the same, worst kernel, %s, %s", label, engine), fmt.Sprintf("%.3f× (%s)", w, wn), "≤ 1.25×", metLE(w, 1.25))
	if b.opts.nanSplit && len(x.no) == len(x.names) {
		b.add(fmt.Sprintf("(fuel + stack without NaN canonicalisation / original, geomean, %s, %s)", label, engine), fmt.Sprintf("%.3f× (with NaN %.3f×)", geomean(x.no), g), "(informational)", "—")
	}
	gs := geomean(x.so)
	ws, wsn := x.worst(x.so)
	b.add(fmt.Sprintf("+ suspendable / original, geomean, %s, %s", label, engine), fmt.Sprintf("%.3f× (worst %.2f× %s; s/i %.3f×)", gs, ws, wsn, geomean(x.si)), "≤ 1.15×", metLE(gs, 1.15))
}

func (b *bench) kernelRows(ctx context.Context) error {
	wz, v8, sizes, err := b.measure(ctx, "kernels", mainKernels(b.opts.quick, b.opts.only...))
	if err != nil {
		return err
	}
	b.mainSizes = sizes
	b.addRatioRows("kernels", "wazero", ratiosOf(wz, nil))
	b.addRatioRows("kernels", "V8", ratiosOf(v8, nil))
	return nil
}

func (b *bench) linalgRows(ctx context.Context) error {
	wz, v8, _, err := b.measure(ctx, "linalg", linalgKernels(b.opts.quick))
	if err != nil {
		return err
	}
	for _, size := range []string{"medium", "large"} {
		f := func(n string) bool { return strings.HasSuffix(n, "/"+size) }
		b.addRatioRows("12 linalg "+size, "wazero", ratiosOf(wz, f))
		b.addRatioRows("12 linalg "+size, "V8", ratiosOf(v8, f))
	}
	return nil
}

// sizeRows: the suspendable module's size against the original's, for the
// kernels of the first rows (prepared here if those did not run).
func (b *bench) sizeRows(ctx context.Context) error {
	sizes := b.mainSizes
	if sizes == nil {
		sizes = map[string]*prepared{}
		for _, k := range mainKernels(false) {
			p, err := b.prepare(k.name, filepath.Join(b.opts.root, "examples", "kernels", k.file))
			if err != nil {
				return err
			}
			sizes[k.name] = p
		}
	}
	var x ratios
	var si []float64
	goS, goO := 0.0, 0.0
	for _, k := range mainKernels(false) {
		p, ok := sizes[k.name]
		if !ok {
			continue
		}
		x.names = append(x.names, k.name)
		x.so = append(x.so, float64(p.sizes[vSuspendable])/float64(p.sizes[vOriginal]))
		si = append(si, float64(p.sizes[vSuspendable])/float64(p.sizes[vInstrumented]))
		if k.name == "gokernel" {
			goS, goO = float64(p.sizes[vSuspendable]), float64(p.sizes[vOriginal])
		}
	}
	if len(x.names) == 0 {
		return fmt.Errorf("no kernels")
	}
	g := geomean(x.so)
	b.add(fmt.Sprintf("suspendable module size / original, geomean (%d kernels)", len(x.names)), fmt.Sprintf("%.2f× (/instrumented %.2f×)", g, geomean(si)), "≤ 2×", metLE(g, 2))
	w, wn := x.worst(x.so)
	goNote := ""
	if goO > 0 {
		goNote = fmt.Sprintf("; Go guest %.2f× (%.1f → %.1f MB)", goS/goO, goO/1e6, goS/1e6)
	}
	b.add("the same, worst kernel", fmt.Sprintf("%.2f× (%s)%s", w, wn, goNote), "≤ 2×", metLE(w, 2))
	return nil
}

func (b *bench) printKernels(set, engine string, rs []kresult) {
	w := b.opts.log
	fmt.Fprintf(w, "%s, %s: medians of %d, ms of CPU time (wazero: pinned child process; V8: node, pinned)\n", set, engine, b.opts.runs)
	fmt.Fprintf(w, "%-22s %10s %10s %10s %7s %7s %7s %9s %9s %9s\n", "kernel", "original", "instr.", "susp.", "i/o", "s/o", "s/i", "compile o", "i", "s")
	for _, r := range rs {
		if r.Err != "" {
			fmt.Fprintf(w, "%-22s %s\n", r.Name, r.Err)
			continue
		}
		o, i, s := median(r.Times[vOriginal]), median(r.Times[vInstrumented]), median(r.Times[vSuspendable])
		fmt.Fprintf(w, "%-22s %10.1f %10.1f %10.1f %7.3f %7.3f %7.3f %9.0f %9.0f %9.0f", r.Name, o, i, s, i/o, s/o, s/i,
			r.Compile[vOriginal], r.Compile[vInstrumented], r.Compile[vSuspendable])
		if b.opts.nanSplit && len(r.Times[vNoNaN]) > 0 {
			fmt.Fprintf(w, "  no-NaN/o %.3f", median(r.Times[vNoNaN])/o)
		}
		fmt.Fprintln(w)
	}
}
