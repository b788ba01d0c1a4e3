package sandbox_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
)

// cacheEntries lists the files of a compilation cache directory.
func cacheEntries(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// cachedRun compiles the prepared module in a fresh engine on dir — a new
// worker process — and runs it.
func cachedRun(t *testing.T, dir string, bin []byte) (sandbox.Report, string) {
	t.Helper()
	ctx := context.Background()
	e, err := sandbox.NewEngineWith(ctx, sandbox.EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	m, err := e.CompileInstrumented(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := e.Run(ctx, m, sandbox.Input{Args: []string{"factor"}, Stdin: strings.NewReader("600851475143 1000000007\n"), Stdout: &out, Stderr: &out},
		sandbox.Limits{CheckpointEvery: 50_000})
	return rep, out.String()
}

func preparedFactor(t *testing.T) []byte {
	t.Helper()
	bin, ok, err := sandbox.Prepare(example(t, "factor.wasm"), instrument.DefaultOptions(), true)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	return bin
}

// Engines sharing a cache directory — at once, as worker processes may —
// compile a module once between them and run it alike: the second engine
// finds the machine code on disk and writes nothing.
func TestCompilationCacheShared(t *testing.T) {
	bin := preparedFactor(t)
	dir := t.TempDir()
	want, wantOut := cachedRun(t, t.TempDir(), bin)
	if want.Status != sandbox.StatusOK || want.Checkpoints == 0 {
		t.Fatalf("%+v", want)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if got, out := cachedRun(t, dir, bin); got.Fuel != want.Fuel || out != wantOut || got.Checkpoints != want.Checkpoints {
				t.Errorf("sharing the cache: %+v %q, want %+v %q", got, out, want, wantOut)
			}
		})
	}
	wg.Wait()
	// Two entries: the module and its lite variant (no rewind twins),
	// which runs first while the module compiles.
	filled := cacheEntries(t, dir)
	if len(filled) != 2 {
		t.Fatalf("cache holds %d files, want 2", len(filled))
	}
	if got, out := cachedRun(t, dir, bin); got.Fuel != want.Fuel || out != wantOut {
		t.Fatalf("from the cache: %+v %q", got, out)
	}
	after := cacheEntries(t, dir)
	for path, b := range filled {
		if !bytes.Equal(after[path], b) || len(after) != len(filled) {
			t.Fatalf("an engine that found its module in the cache changed it")
		}
	}
}

// A damaged entry is not the module's fault: the engine compiles it again
// without the cache, runs it alike, and empties the cache.
func TestCompilationCacheDamaged(t *testing.T) {
	bin := preparedFactor(t)
	dir := t.TempDir()
	want, wantOut := cachedRun(t, dir, bin)
	entries := cacheEntries(t, dir)
	if len(entries) != 2 { // the module and its lite variant
		t.Fatalf("%d entries", len(entries))
	}
	for path, b := range entries {
		b[len(b)/2] ^= 0xff // in the machine code: its checksum fails
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got, out := cachedRun(t, dir, bin); got.Fuel != want.Fuel || out != wantOut || got.Status != sandbox.StatusOK {
		t.Fatalf("with a damaged cache: %+v %q, want %+v %q", got, out, want, wantOut)
	}
	// The damaged entries are gone (the full module, compiled in the
	// background after the cache was emptied, may have written a new one).
	for path, b := range cacheEntries(t, dir) {
		if d, ok := entries[path]; ok && bytes.Equal(d, b) {
			t.Fatalf("the damaged entry %s is still there", path)
		}
	}
	if got, out := cachedRun(t, dir, bin); got.Fuel != want.Fuel || out != wantOut || len(cacheEntries(t, dir)) != 2 {
		t.Fatalf("after emptying: %+v %q", got, out)
	}
}

// Whatever is in the cache is executed: a directory others may write to is
// refused.
func TestCompilationCacheRefusesSharedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if e, err := sandbox.NewEngineWith(context.Background(), sandbox.EngineConfig{CacheDir: dir}); err == nil {
		e.Close(context.Background())
		t.Fatal("a world-writable cache directory was accepted")
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e, err := sandbox.NewEngineWith(context.Background(), sandbox.EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Close(context.Background())
}
