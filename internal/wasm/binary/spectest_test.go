package binary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

type specCommand struct {
	Type       string `json:"type"`
	Line       int    `json:"line"`
	Filename   string `json:"filename"`
	Text       string `json:"text"`
	ModuleType string `json:"module_type"`
}

type specModule struct {
	path string
	cmd  specCommand
}

var (
	specOnce sync.Once
	specDir  string
	specMods []specModule
	specErr  error
)

// specModules lists the binary modules referenced by wazero's v2 spec tests.
func specModules(t testing.TB) (string, []specModule) {
	specOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
		if err != nil {
			specErr = err
			return
		}
		specDir = filepath.Join(strings.TrimSpace(string(out)), "internal", "integration_test", "spectest", "v2", "testdata")
		files, err := filepath.Glob(filepath.Join(specDir, "*.json"))
		if err != nil {
			specErr = err
			return
		}
		sort.Strings(files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				specErr = err
				return
			}
			var doc struct {
				Commands []specCommand `json:"commands"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				specErr = err
				return
			}
			for _, c := range doc.Commands {
				if c.Filename == "" || (c.ModuleType != "" && c.ModuleType != "binary") {
					continue
				}
				specMods = append(specMods, specModule{path: filepath.Join(specDir, c.Filename), cmd: c})
			}
		}
	})
	if specErr != nil {
		t.Skipf("wazero spec tests unavailable: %v", specErr)
	}
	return specDir, specMods
}

// TestSpecRoundTrip decodes every binary module of wazero's v2 spec tests.
// Valid modules must re-encode byte for byte, or, for the 44 with
// non-minimal LEB128 or empty sections (binary-leb128.*, binary.*,
// float_literals.1), to a canonical binary that decodes to an equal Module
// and that wazero compiles whenever it compiles the original. Every
// assert_malformed binary must be rejected with a *DecodeError (all 719 are;
// any that is not is listed). assert_invalid, assert_unlinkable and
// assert_uninstantiable modules are well-formed but wrong in ways only
// validation or instantiation sees: they must merely not panic.
func TestSpecRoundTrip(t *testing.T) {
	_, mods := specModules(t)
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)

	var identical, normalised, malformedRejected, invalidDecoded int
	var malformedAccepted []string
	for _, sm := range mods {
		data, err := os.ReadFile(sm.path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(sm.path)
		switch sm.cmd.Type {
		case "module":
			m, err := Decode(data)
			if err != nil {
				t.Errorf("%s (line %d): %v", name, sm.cmd.Line, err)
				continue
			}
			enc := Encode(m)
			if bytes.Equal(enc, data) {
				identical++
				continue
			}
			// A non-canonical input: the canonical re-encoding must decode
			// to the same module and be accepted by wazero.
			m2, err := Decode(enc)
			if err != nil {
				t.Errorf("%s: re-encoding does not decode: %v", name, err)
				continue
			}
			if !reflect.DeepEqual(m, m2) {
				t.Errorf("%s: re-encoding decodes to a different module", name)
				continue
			}
			if _, err := rt.CompileModule(ctx, data); err == nil {
				if _, err := rt.CompileModule(ctx, enc); err != nil {
					t.Errorf("%s: wazero accepts the input but not its re-encoding: %v", name, err)
					continue
				}
			}
			normalised++
		case "assert_malformed":
			_, err := Decode(data)
			if err == nil {
				malformedAccepted = append(malformedAccepted, name+": "+sm.cmd.Text)
				continue
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("%s: error is not a *DecodeError: %v", name, err)
			}
			malformedRejected++
		default: // assert_invalid, assert_unlinkable, assert_uninstantiable
			if m, err := Decode(data); err == nil {
				invalidDecoded++
				_ = Encode(m)
			}
		}
	}
	for _, s := range malformedAccepted {
		t.Errorf("assert_malformed accepted: %s", s)
	}
	t.Logf("spec modules: %d round-tripped byte-identical, %d normalised (non-canonical LEB128 or empty sections); "+
		"assert_malformed: %d rejected, %d accepted; other assertions: %d decoded",
		identical, normalised, malformedRejected, len(malformedAccepted), invalidDecoded)
}
