package binary

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// largestModule returns the largest example module (the Go-compiled kernel
// when built), falling back to the largest spec test module.
func largestModule(b testing.TB) (string, []byte) {
	paths := exampleModules(b)
	if len(paths) == 0 {
		_, mods := specModules(b)
		for _, m := range mods {
			if m.cmd.Type == "module" {
				paths = append(paths, m.path)
			}
		}
	}
	sort.Slice(paths, func(i, j int) bool { return fileSize(paths[i]) > fileSize(paths[j]) })
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(data); err == nil {
			return filepath.Base(p), data
		}
	}
	b.Skip("no module")
	return "", nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func BenchmarkDecode(b *testing.B) {
	_, data := largestModule(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	_, data := largestModule(b)
	m, err := Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncode(buf[:0], m)
	}
}

func BenchmarkDecodeEncode(b *testing.B) {
	name, data := largestModule(b)
	b.Logf("module %s, %d bytes", name, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		_ = Encode(m)
	}
}

// TestAppendInstrAllocs asserts that encoding instructions into a buffer of
// sufficient capacity does not allocate.
func TestAppendInstrAllocs(t *testing.T) {
	ins := []wasm.Instr{
		wasm.I64Const(-1 << 40), wasm.Load(wasm.OpI32Load, 2, 1<<20),
		{Op: wasm.OpBrTable, Labels: []uint32{1, 2, 3}}, wasm.V128Const([16]byte{1}),
		wasm.Plain(wasm.OpI32x4Add), wasm.Plain(wasm.OpEnd),
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendInstrs(buf[:0], ins) }); n != 0 {
		t.Fatalf("AppendInstrs allocates %v times", n)
	}
}
