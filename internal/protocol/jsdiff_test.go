package protocol_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crowdrun/crowdrun/internal/fuzzcorpus"
	"github.com/crowdrun/crowdrun/internal/protocol"
)

// wireVector is one frame of the JavaScript differential and Go's verdict
// on it.
type wireVector struct {
	Text string `json:"text"`
	// OK: protocol.Decode accepts it; Canonical is then its re-encoding.
	OK        bool   `json:"ok"`
	Canonical string `json:"canonical,omitempty"`
	// Object: the frame is a JSON object (else every parser must refuse it).
	Object bool `json:"object"`
}

// wireMutations derives frames from a real one that reach the checks of
// both parsers: truncations, a changed character at several places, an
// integer above 2^53, an unknown field, a key in capitals.
func wireMutations(b []byte) [][]byte {
	out := [][]byte{b}
	for _, n := range []int{0, 1, len(b) / 2, len(b) - 1} {
		if n >= 0 && n < len(b) {
			out = append(out, bytes.Clone(b[:n]))
		}
	}
	step := max(1, len(b)/16)
	for i := 0; i < len(b); i += step {
		for _, c := range []byte{'0', '"', '}', 'x', '-'} {
			m := bytes.Clone(b)
			m[i] = c
			out = append(out, m)
		}
	}
	out = append(out,
		bytes.Replace(b, []byte(`"id":`), []byte(`"id":900719925474099`), 1),
		bytes.Replace(b, []byte(`"id":`), []byte(`"extra":[1,{"a":null}],"id":`), 1),
		bytes.Replace(b, []byte(`"fuel":`), []byte(`"fuel":18446744073709551`), 1),
		bytes.Replace(b, []byte(`"type"`), []byte(`"TYPE"`), 1),
		bytes.Replace(b, []byte(`"id"`), []byte(`"ID"`), 1),
	)
	return out
}

// TestJSDifferential runs js/browser/wire.js's parseMessage (under Node) on
// the frames of protocol's FuzzDecode — a real message of every type
// (realMessages), mutations of each, the kept crashers, and with
// CROWDRUN_FUZZ_CACHE=1 the fuzzer's cached corpus — and checks it against
// protocol.Decode: a frame that is not a JSON object is refused by both;
// every frame Go accepts, JS accepts too, reading the same value for every
// field Go's message has (integers exact, byte strings as bytes). JS checks
// only a frame's type and id, so it may accept what Go refuses.
func TestJSDifferential(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH (scripts/setup.sh installs nodejs)")
	}
	var frames [][]byte
	for _, m := range realMessages() {
		b, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, wireMutations(b)...)
	}
	dirs := []string{filepath.Join("testdata", "fuzz", "FuzzDecode")}
	if os.Getenv("CROWDRUN_FUZZ_CACHE") != "" {
		if gocache, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
			dirs = append(dirs, filepath.Join(string(bytes.TrimSpace(gocache)), "fuzz", "github.com/crowdrun/crowdrun/internal/protocol", "FuzzDecode"))
		}
	}
	for _, dir := range dirs {
		entries, err := fuzzcorpus.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, ok := e.Values[0].([]byte)
			if len(e.Values) != 1 || !ok {
				t.Fatalf("%s/%s: not ([]byte)", dir, e.Name)
			}
			frames = append(frames, b)
		}
	}
	var vs []wireVector
	accepted := 0
	for _, b := range frames {
		// A WebSocket text frame is UTF-8: the browser refuses any other.
		if !utf8.Valid(b) || len(b) > 1<<20 {
			continue
		}
		var obj map[string]json.RawMessage
		v := wireVector{Text: string(b), Object: json.Unmarshal(b, &obj) == nil && obj != nil}
		if m, err := protocol.Decode(b); err == nil {
			enc, err := protocol.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			v.OK, v.Canonical = true, string(enc)
			accepted++
		}
		vs = append(vs, v)
	}
	if accepted == 0 || accepted == len(vs) {
		t.Fatalf("%d of %d frames accepted: the differential needs both verdicts", accepted, len(vs))
	}
	in := filepath.Join(t.TempDir(), "vectors.json")
	b, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A guard against a hung node, not a limit on its speed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join("testdata", "jsdiff.mjs"), in).CombinedOutput()
	if err != nil {
		t.Fatalf("js/browser/wire.js disagrees with Go: %v\n%s", err, out)
	}
	t.Logf("%d frames (%d accepted by Go): %s", len(vs), accepted, strings.TrimSpace(string(out)))
}
