package suspend

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// TestSpecModulesValidate rewrites every valid module of the spec test suite
// shipped in wazero's module (instrumented first) and checks that wazero
// accepts the result: the rewrite's output validates on every kind of
// control flow the suite has. Modules the rewrite refuses must be refused
// with ErrUnsupported.
func TestSpecModulesValidate(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("validation only: skipped under -short and -race")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		t.Skipf("wazero's module not found: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "internal", "integration_test", "spectest", "v2", "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if len(files) == 0 {
		t.Skip("no spec modules")
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	var valid, done, unsupported int
	for _, f := range files {
		bin, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := binary.Decode(bin)
		if err != nil {
			continue
		}
		c, err := rt.CompileModule(ctx, bin)
		if err != nil {
			continue // assert_invalid and friends
		}
		c.Close(ctx)
		if err := instrument.InstrumentModule(m, instrument.DefaultOptions()); err != nil {
			continue
		}
		valid++
		if err := Transform(m, Options{}); err != nil {
			if errors.Is(err, ErrUnsupported) {
				unsupported++
				t.Logf("%s: %v", filepath.Base(f), err)
				continue
			}
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		c, err = rt.CompileModule(ctx, binary.Encode(m))
		if err != nil {
			t.Errorf("%s: rewritten module invalid: %v", filepath.Base(f), err)
			continue
		}
		c.Close(ctx)
		done++
	}
	t.Logf("%d valid instrumented modules: %d rewritten and valid, %d unsupported", valid, done, unsupported)
}
