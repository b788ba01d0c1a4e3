package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

func runInstrumentCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr}
	code := m.Run(context.Background(), args)
	return code, stderr.String()
}

func TestInstrumentCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.wasm")
	code, stderr := runInstrumentCLI(t, "instrument", "../../examples/echo.wasm", "-o", out, "--stack", "300", "--memory", "16MiB")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := binary.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	c := m.CustomSection(instrument.CustomSection)
	if c == nil || !strings.Contains(string(c.Data), `"stack_limit":300`) || !strings.Contains(string(c.Data), `"memory_cap_pages":256`) {
		t.Fatalf("metadata: %v", c)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"instrument", "../../examples/forbidden.wasm", "-o", out}, exitInternal, "forbidden import"},
		{[]string{"instrument", out, "-o", out + "2"}, exitInternal, "already instrumented"},
		{[]string{"instrument", "../../examples/echo.wasm"}, exitUsage, "-o OUT.wasm is required"},
		{[]string{"instrument", "../../examples/echo.wasm", "-o", out, "--memory", "100KiB"}, exitUsage, "multiple of 64KiB"},
		{[]string{"instrument", "../../examples/echo.wasm", "-o", out, "--schedule", "v9"}, exitInternal, "unknown fuel schedule"},
	} {
		code, stderr := runInstrumentCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
