package sandbox_test

import (
	"context"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// BenchmarkCompileGoGuest is a native worker compiling the coordinator's
// suspendable rewrite of the Go (GOOS=wasip1) kernel, as it does for the
// first task of a job (CompileInstrumented): "cold" in a fresh engine with
// an empty compilation cache, "disk" in a fresh engine — a new worker
// process — whose CacheDir a previous one filled, "memory" a second task of
// the job in the same engine. The rewrite itself is the coordinator's and
// is done once, outside the timing. Run with -benchtime 1x -timeout 30m:
// a cold compile takes tens of seconds.
func BenchmarkCompileGoGuest(b *testing.B) {
	ctx := context.Background()
	bin, _, err := sandbox.Prepare(example(b, "kernels/gokernel.wasm"), instrument.DefaultOptions(), true)
	if err != nil {
		b.Fatal(err)
	}
	compile := func(b *testing.B, e *sandbox.Engine) {
		m, err := e.CompileInstrumented(ctx, bin)
		if err != nil || !m.Suspendable() {
			b.Fatal(err)
		}
	}
	engine := func(b *testing.B, dir string) *sandbox.Engine {
		e, err := sandbox.NewEngineWith(ctx, sandbox.EngineConfig{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := engine(b, b.TempDir())
			b.StartTimer()
			compile(b, e)
			b.StopTimer()
			e.Close(ctx)
			b.StartTimer()
		}
	})
	filled := b.TempDir()
	e := engine(b, filled)
	compile(b, e) // fills the cache
	e.Close(ctx)
	b.Run("disk", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := engine(b, filled)
			b.StartTimer()
			compile(b, e)
			b.StopTimer()
			e.Close(ctx)
			b.StartTimer()
		}
	})
	b.Run("memory", func(b *testing.B) {
		e := engine(b, filled)
		defer e.Close(ctx)
		compile(b, e)
		for b.Loop() {
			compile(b, e)
		}
	})
}
