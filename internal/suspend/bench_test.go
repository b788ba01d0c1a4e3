package suspend

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkOverhead measures, side by side in one run, what suspension costs
// on each kernel (the C kernels and the Go guest, at the sizes of
// instrument's BenchmarkKernels: 100-300 ms each, more for fib):
//
//   - run time of the original module, the instrumented one (fuel, depth
//     limit, NaN canonicalisation) and the suspendable one (instrumented +
//     Transform, never suspending), run alternately so that all three see
//     the same machine load; the minimum over the iterations of each;
//   - compile time in wazero (its optimizing compiler) of each;
//   - the size of each module;
//
// and prints the ratios with their geomeans:
//
//	go test ./internal/suspend -run XXX -bench Overhead -benchtime 3x
//
// KERNELS=a,b runs only those (gokernel compiles for tens of seconds).
func BenchmarkOverhead(b *testing.B) {
	kernels := []struct{ name, size string }{
		{"matmul", "300"}, {"stencil", "512"}, {"sort", "250000"}, {"hash", "16"}, {"nbody", "500000"},
		{"fib", "35"}, {"strings", "600000"}, {"memops", "16"}, {"memops-bulk", "16"}, {"floats", "2000000"},
		{"simd", "2000000"}, {"gokernel", "30000"},
	}
	e := newEnv(b)
	type row struct {
		name    string
		run     [3]time.Duration
		compile [3]time.Duration
		size    [3]int
	}
	var rows []row
	for _, k := range kernels {
		if only := os.Getenv("KERNELS"); only != "" && !slices.Contains(strings.Split(only, ","), k.name) {
			continue
		}
		bin := readExample(b, "examples/kernels/"+k.name+".wasm")
		var gs [3]*guest
		r := row{name: k.name, run: [3]time.Duration{math.MaxInt64, math.MaxInt64, math.MaxInt64}}
		for lv := range gs {
			gs[lv] = e.prepareLevel(b, bin, lv)
			r.compile[lv], r.size[lv] = gs[lv].compile, gs[lv].size
		}
		in := input{args: []string{k.name, k.size}}
		b.Run(k.name, func(b *testing.B) {
			var outs [3]string
			var fuel [3]uint64
			for range b.N {
				for lv, g := range gs {
					t0 := time.Now()
					res, err := e.runAll(g, in, 0, 10_000_000, 1)
					d := time.Since(t0)
					if err != nil || res.err != nil {
						b.Fatal(err, res.err)
					}
					outs[lv], fuel[lv] = res.out, res.fuel
					r.run[lv] = min(r.run[lv], d)
				}
			}
			// The original may differ in NaN bits (floats): canonicalisation.
			if fuel[1] != fuel[2] || outs[1] != outs[2] {
				b.Fatalf("fuel %d vs %d, or outputs differ", fuel[1], fuel[2])
			}
			b.ReportMetric(float64(r.run[2])/float64(r.run[0]), "susp/orig")
			b.ReportMetric(float64(r.run[2])/float64(r.run[1]), "susp/instr")
		})
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-12s | %9s %9s %9s | %6s %6s %6s | %9s %9s %9s %6s | %8s %8s %6s\n",
		"kernel", "run orig", "instr", "susp", "i/o", "s/i", "s/o",
		"compile o", "i", "s", "s/i", "size i", "s", "s/i")
	var logs [5]float64
	for _, r := range rows {
		ratios := [5]float64{
			float64(r.run[1]) / float64(r.run[0]), float64(r.run[2]) / float64(r.run[1]), float64(r.run[2]) / float64(r.run[0]),
			float64(r.compile[2]) / float64(r.compile[1]), float64(r.size[2]) / float64(r.size[1]),
		}
		for i := range ratios {
			logs[i] += math.Log(ratios[i])
		}
		fmt.Fprintf(&sb, "%-12s | %9s %9s %9s | %6.3f %6.3f %6.3f | %9s %9s %9s %6.2f | %8d %8d %6.2f\n",
			r.name, ms(r.run[0]), ms(r.run[1]), ms(r.run[2]), ratios[0], ratios[1], ratios[2],
			ms(r.compile[0]), ms(r.compile[1]), ms(r.compile[2]), ratios[3], r.size[1], r.size[2], ratios[4])
	}
	g := func(i int) float64 { return math.Exp(logs[i] / float64(len(rows))) }
	fmt.Fprintf(&sb, "%-12s | %9s %9s %9s | %6.3f %6.3f %6.3f | %9s %9s %9s %6.2f | %8s %8s %6.2f\n",
		"geomean", "", "", "", g(0), g(1), g(2), "", "", "", g(3), "", "", g(4))
	fmt.Printf("times in ms (run: min over iterations; compile: wazero compiler, once)\n%s", sb.String())
}
