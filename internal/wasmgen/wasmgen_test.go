package wasmgen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// RandomBytes is the byte string the seeded batch of tests gives Generate.
func randomBytes(r *rand.Rand) []byte {
	b := make([]byte, 256+r.IntN(4096))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Every generated module is valid: wazero compiles it.
func TestGenerateValid(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	r := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{nil, {}, {0xff}, bytes.Repeat([]byte{0xff}, 4096)}
	for range 300 {
		inputs = append(inputs, randomBytes(r))
	}
	total := 0
	for i, in := range inputs {
		m := Generate(in)
		total += len(m.Wasm)
		c, err := rt.CompileModule(ctx, m.Wasm)
		if err != nil {
			p := filepath.Join(t.TempDir(), "bad.wasm")
			os.WriteFile(p, m.Wasm, 0o644)
			if wv, e := exec.LookPath("wasm-validate"); e == nil {
				out, _ := exec.Command(wv, p).CombinedOutput()
				t.Logf("wasm-validate: %s", out)
			}
			t.Fatalf("input %d: generated module is invalid: %v", i, err)
		}
		c.Close(ctx)
		if !bytes.Equal(Generate(in).Wasm, m.Wasm) {
			t.Fatalf("input %d: Generate is not deterministic", i)
		}
	}
	t.Logf("%d modules, %d bytes on average", len(inputs), total/len(inputs))
}
