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

// BenchmarkOverhead compares each C kernel (at its quick size) instrumented
// and instrumented + suspendable, never suspending, alternately so both see
// the same machine load; it prints the minimum of each and the geomean of
// the ratios:
//
//	go test ./internal/suspend -run XXX -bench Overhead -benchtime 3x
//
// KERNELS=a,b runs only those.
func BenchmarkOverhead(b *testing.B) {
	kernels := []struct{ name, size string }{
		{"matmul", "150"}, {"stencil", "160"}, {"sort", "15000"}, {"hash", "1"}, {"nbody", "50000"},
		{"fib", "32"}, {"strings", "50000"}, {"memops", "1"}, {"memops-bulk", "1"}, {"floats", "200000"}, {"simd", "100000"},
	}
	e := newEnv(b)
	var report strings.Builder
	logSum, n := 0.0, 0
	for _, k := range kernels {
		if only := os.Getenv("KERNELS"); only != "" && !slices.Contains(strings.Split(only, ","), k.name) {
			continue
		}
		bin := readExample(b, "examples/kernels/"+k.name+".wasm")
		plain := e.prepare(b, bin, false)
		susp := e.prepare(b, bin, true)
		in := input{args: []string{k.name, k.size}}
		best := [2]time.Duration{math.MaxInt64, math.MaxInt64}
		var fuel [2]uint64
		b.Run(k.name, func(b *testing.B) {
			for range b.N {
				for j, g := range []*guest{plain, susp} {
					t0 := time.Now()
					r, err := e.runAll(g, in, 0, 10_000_000, 1)
					d := time.Since(t0)
					if err != nil || r.err != nil {
						b.Fatal(err, r.err)
					}
					fuel[j] = r.fuel
					best[j] = min(best[j], d)
				}
			}
			if fuel[0] != fuel[1] {
				b.Fatalf("fuel %d vs %d", fuel[0], fuel[1])
			}
			b.ReportMetric(float64(best[1])/float64(best[0]), "ratio")
		})
		ratio := float64(best[1]) / float64(best[0])
		logSum += math.Log(ratio)
		n++
		fmt.Fprintf(&report, "%-12s %10v %10v %6.3fx\n", k.name, best[0].Round(time.Microsecond), best[1].Round(time.Microsecond), ratio)
	}
	if n > 0 {
		fmt.Fprintf(&report, "%-12s %10s %10s %6.3fx\n", "geomean", "", "", math.Exp(logSum/float64(n)))
	}
	fmt.Printf("kernel       instrumented suspendable ratio\n%s", report.String())
}
