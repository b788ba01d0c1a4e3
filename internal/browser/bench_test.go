package browser

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/js"
)

// kernelSizes are the problem sizes of internal/instrument's benchmark
// (benchSizes): 100–300 ms each in wazero.
var kernelSizes = map[string]int{
	"fib": 32, "floats": 2000000, "hash": 16, "matmul": 300, "memops": 16, "memops-bulk": 16,
	"nbody": 500000, "simd": 2000000, "sort": 250000, "stencil": 512, "strings": 600000, "gokernel": 30000,
}

// benchPage runs kernels in a Web Worker through protocol.js and
// runtime.js, as the browser worker runs leases.
const benchPage = `<!doctype html><title>kernels</title><script type="module">
import { GuestClient, workerEndpoint } from '/js/protocol.js';
const guest = new GuestClient(workerEndpoint(new Worker('/js/guest-worker.js', { type: 'module' })));
const modules = {};
globalThis.runKernel = async (name, size) => {
  if (!modules[name]) modules[name] = new Uint8Array(await (await fetch('/k/' + name)).arrayBuffer());
  const out = [];
  const rep = await guest.run(modules[name], { args: [name, String(size)] }, { memoryBytes: 256 << 20 },
    (fd, b) => { if (fd === 1) out.push(...b); }, { key: name });
  return { ms: rep.wall_ms, fuel: String(rep.fuel), status: rep.status, message: rep.message, out: new TextDecoder().decode(new Uint8Array(out)) };
};
globalThis.ready = true;
</script>`

// BenchmarkKernels runs the kernel suite (examples/kernels) three ways in
// one run, alternating in each round so all see the same machine load:
// the browser worker's host in headless Chromium (V8, in a Web Worker), the
// native worker's sandbox (wazero), and native code (clang -O2 of the same C
// sources, skipped without clang). Both wasm engines run the same
// instrumented module — what a coordinator ships: fuel, stack limit and the
// suspend rewrite (no checkpoints are taken) — and must agree on output and
// fuel. It prints the minimum time of each and the ratios:
//
//	go test ./internal/browser -run XXX -bench Kernels -benchtime 3x
//
// KERNELS=a,b runs only those kernels; KERNEL_PLAIN=1 leaves out the suspend
// rewrite (fuel and stack limit only).
func BenchmarkKernels(b *testing.B) {
	needChromium(b)
	ctx := context.Background()
	files, _ := filepath.Glob("../../examples/kernels/*.wasm")
	sort.Strings(files)
	type kernel struct {
		name   string
		size   int
		inst   *sandbox.Module
		native string // executable, "" if none
	}
	var ks []kernel
	tmp := b.TempDir()
	clang, _ := exec.LookPath("clang")
	insts := map[string][]byte{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".wasm")
		size, ok := kernelSizes[name]
		if !ok {
			continue
		}
		if only := os.Getenv("KERNELS"); only != "" && !slices.Contains(strings.Split(only, ","), name) {
			continue
		}
		orig, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		compile := func() (*sandbox.Module, error) {
			return engine.CompileSuspendable(ctx, orig, instrument.DefaultOptions())
		}
		if os.Getenv("KERNEL_PLAIN") == "1" {
			compile = func() (*sandbox.Module, error) { return engine.Compile(ctx, orig) }
		}
		m, err := compile()
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		insts[name] = m.Instrumented
		k := kernel{name: name, size: size, inst: m}
		src := filepath.Join("..", "..", "examples", "kernels", name+".c")
		if _, err := os.Stat(src); err == nil && clang != "" {
			exe := filepath.Join(tmp, name)
			cmd := exec.Command(clang, "-O2", "-std=c11", "-D_GNU_SOURCE", "-ffp-contract=off", "-o", exe, src, "-lm")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("clang %s: %v\n%s", name, err, out)
			}
			k.native = exe
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		b.Skip("no kernels in examples/kernels")
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "require-corp")
		switch {
		case r.URL.Path == "/":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(benchPage))
		case strings.HasPrefix(r.URL.Path, "/k/"):
			w.Header().Set("Content-Type", "application/wasm")
			w.Write(insts[strings.TrimPrefix(r.URL.Path, "/k/")])
		case strings.HasPrefix(r.URL.Path, "/js/"):
			data, err := fs.ReadFile(js.Files, strings.TrimPrefix(r.URL.Path, "/js/"))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tab := newBrowser(b)
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/")); err != nil {
		b.Fatal(err)
	}
	waitFor(b, tab, "the bench page", `globalThis.ready`, 20*time.Second)

	type jsRun struct {
		MS      float64 `json:"ms"`
		Fuel    string  `json:"fuel"`
		Status  string  `json:"status"`
		Message string  `json:"message"`
		Out     string  `json:"out"`
	}
	type row struct {
		name                 string
		chrome, wazero, nat  time.Duration
		fuel                 string
		haveNative, mismatch bool
	}
	// A sub-benchmark's function runs more than once (b.N = 1 first): the
	// last run of each kernel is its row.
	last := map[string]row{}
	for _, k := range ks {
		b.Run(k.name, func(b *testing.B) {
			r := row{name: k.name, chrome: time.Hour, wazero: time.Hour, nat: time.Hour, haveNative: k.native != ""}
			size := strconv.Itoa(k.size)
			for i := 0; i < b.N; i++ {
				// wazero, as the native worker runs a lease.
				var out bytes.Buffer
				t0 := time.Now()
				rep := engine.Run(ctx, k.inst, sandbox.Input{Args: []string{k.name, size}, Stdout: &out}, sandbox.Limits{MemoryBytes: 256 << 20})
				dw := time.Since(t0)
				if rep.Status != sandbox.StatusOK {
					b.Fatalf("wazero: %s %s", rep.Status, rep.Message)
				}
				// Chromium, as the browser worker runs a lease.
				j := eval[jsRun](b, tab, fmt.Sprintf(`runKernel(%q, %d)`, k.name, k.size))
				if j.Status != "ok" {
					b.Fatalf("chromium: %s %s", j.Status, j.Message)
				}
				if j.Out != out.String() || j.Fuel != strconv.FormatUint(rep.Fuel, 10) {
					r.mismatch = true
					b.Errorf("engines disagree: wazero fuel %d out %q; chromium fuel %s out %q", rep.Fuel, out.String(), j.Fuel, j.Out)
				}
				r.fuel = j.Fuel
				r.wazero = min(r.wazero, dw)
				r.chrome = min(r.chrome, time.Duration(j.MS*float64(time.Millisecond)))
				// Native code.
				if k.native != "" {
					cmd := exec.Command(k.native, size)
					var nout bytes.Buffer
					cmd.Stdout = &nout
					t0 := time.Now()
					if err := cmd.Run(); err != nil {
						b.Fatalf("native %s: %v", k.name, err)
					}
					r.nat = min(r.nat, time.Since(t0))
					if nout.String() != out.String() && i == 0 {
						// floats: NaN bit patterns, which wasm canonicalises.
						b.Logf("native output differs from wasm's (%d vs %d bytes)", nout.Len(), out.Len())
					}
				}
			}
			b.ReportMetric(float64(r.chrome)/float64(r.wazero), "chromium/wazero")
			if r.haveNative {
				b.ReportMetric(float64(r.chrome)/float64(r.nat), "chromium/native")
				b.ReportMetric(float64(r.wazero)/float64(r.nat), "wazero/native")
			}
			last[k.name] = r
		})
	}
	var rows []row
	for _, k := range ks {
		if r, ok := last[k.name]; ok {
			rows = append(rows, r)
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, "\n%-12s %10s %10s %10s %16s %16s %16s\n", "kernel", "native", "wazero", "chromium", "wazero/native", "chromium/native", "chromium/wazero")
	var gcw, gcn, gwn float64
	var n, nn int
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
	for _, r := range rows {
		cw := float64(r.chrome) / float64(r.wazero)
		gcw += math.Log(cw)
		n++
		nat, wn, cn := "—", "—", "—"
		if r.haveNative {
			nat = ms(r.nat)
			wn = fmt.Sprintf("%.2f×", float64(r.wazero)/float64(r.nat))
			cn = fmt.Sprintf("%.2f×", float64(r.chrome)/float64(r.nat))
			gcn += math.Log(float64(r.chrome) / float64(r.nat))
			gwn += math.Log(float64(r.wazero) / float64(r.nat))
			nn++
		}
		fmt.Fprintf(&w, "%-12s %10s %10s %10s %16s %16s %15.2f×\n", r.name, nat, ms(r.wazero), ms(r.chrome), wn, cn, cw)
	}
	if n > 0 {
		gn := func(s float64, k int) string {
			if k == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f×", math.Exp(s/float64(k)))
		}
		fmt.Fprintf(&w, "%-12s %10s %10s %10s %16s %16s %16s\n", "geomean", "", "", "", gn(gwn, nn), gn(gcn, nn), gn(gcw, n))
	}
	fmt.Print(w.String())
}

// BenchmarkDutyCycle runs one task (a 0.37e9-fuel factorisation) on the
// contribute page at duty cycles of 100, 50 and 25 % (one slot; the page is
// cross-origin isolated, so guests rest between fuel slices) and prints the
// wall time of each run against the 100 % run: a cap of d % should take
// about 100/d times as long.
//
//	go test ./internal/browser -run XXX -bench DutyCycle -benchtime 1x
func BenchmarkDutyCycle(b *testing.B) {
	needChromium(b)
	base := 0.0
	var w strings.Builder
	fmt.Fprintf(&w, "\n%6s %10s %12s %10s\n", "duty", "wall", "vs 100 %", "expected")
	for _, duty := range []int{100, 50, 25} {
		e := newEnv(b)
		tab := newBrowser(b)
		openContribute(b, tab, e.srv.URL, fmt.Sprintf("?slots=1&duty=%d", duty))
		var wall float64
		for i := 0; i < b.N; i++ {
			job := e.submitFactor([]string{"9999999999999937"}, 1)
			if i == 0 {
				click(b, tab)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			e.results(ctx, job.ID)
			cancel()
			wall = eval[float64](b, tab, `crowdrun.worker.stats.busyMs / crowdrun.worker.stats.tasks`)
		}
		if duty == 100 {
			base = wall
		}
		fmt.Fprintf(&w, "%5d%% %8.0fms %11.2f× %9.2f×\n", duty, wall, wall/base, 100/float64(duty))
	}
	fmt.Print(w.String())
}
