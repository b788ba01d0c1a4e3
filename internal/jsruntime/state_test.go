package jsruntime_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasi"
)

// stateScript drives the JS host through a guest's worth of calls, then
// prints its marshalled host state and what it says of some bad ones.
const stateScript = `
import { Host } from %q;
const enc = new TextEncoder();
const cfg = () => ({ files: [{ name: 'a.txt', data: enc.encode('alpha\n') }, { name: 'd/b.txt', data: enc.encode('bravo') }],
  stdin: enc.encode('0123456789'), seed: 7n, maxOutput: 100 });
const h = new Host(cfg());
const m = new WebAssembly.Memory({ initial: 1 });
h.setMemory(m);
const f = h.imports(), dv = new DataView(m.buffer), u8 = new Uint8Array(m.buffer);
const open = (dir, p) => { u8.set(enc.encode(p), 1000); f.path_open(dir, 0, 1000, enc.encode(p).length, 0, 0n, 0n, 0, 996); return dv.getUint32(996, true); };
dv.setUint32(0, 400, true); dv.setUint32(4, 4, true);
f.fd_read(0, 0, 1, 100);
const a = open(3, 'a.txt'), d = open(3, 'd'), b = open(d, 'b.txt');
f.fd_close(d);
f.fd_seek(a, 2n, 0, 16);
f.fd_read(b, 0, 1, 100);
f.clock_time_get(0, 0n, 0);
f.random_get(0, 13);
u8.set(enc.encode('abc'), 500); dv.setUint32(8, 500, true); dv.setUint32(12, 3, true);
f.fd_write(2, 8, 1, 100);
const state = h.marshal();
const hex = (b) => Buffer.from(b).toString('hex');
const refuse = (c, s) => { try { Host.restore(c, s); return ''; } catch (e) { return e.message; } };
console.log(JSON.stringify({
  state: hex(state),
  roundtrip: hex(Host.restore(cfg(), state).marshal()),
  errors: [
    refuse(cfg(), Uint8Array.of(2)),
    refuse(cfg(), state.subarray(0, state.length - 1)),
    refuse({ ...cfg(), stdin: enc.encode('01') }, state),
    refuse({ ...cfg(), maxOutput: 2 }, state),
    refuse({ ...cfg(), files: [] }, state),
  ],
}));
`

// The JS host's marshalled state is the Go host's, byte for byte: Go
// restores it and marshals it back unchanged, and both refuse the same bad
// states with the same words.
func TestHostStateMatchesGo(t *testing.T) {
	needNode(t)
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(jsDir, "wasi.js"))}
	r := nodeRaw(t, nil, "--input-type=module", "-e", strings.Replace(stateScript, "%q", `"`+u.String()+`"`, 1))
	if r.code != 0 {
		t.Fatalf("node: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		State, Roundtrip string
		Errors           []string
	}
	if err := json.Unmarshal(r.stdout, &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	state := mustHex(out.State)
	if out.Roundtrip != out.State {
		t.Fatalf("JS restore+marshal changed the state:\n%s\n%s", out.Roundtrip, out.State)
	}
	cfg := func() wasi.Config {
		return wasi.Config{
			Files:     []wasi.File{{Name: "a.txt", Data: []byte("alpha\n")}, {Name: "d/b.txt", Data: []byte("bravo")}},
			Stdin:     strings.NewReader("0123456789"),
			Seed:      7,
			MaxOutput: 100,
		}
	}
	s, err := wasi.RestoreState(cfg(), state)
	if err != nil {
		t.Fatalf("Go cannot restore the JS state: %v", err)
	}
	if got := s.MarshalHost(); !bytes.Equal(got, state) {
		t.Fatalf("Go marshals the JS state differently:\n  Go %x\n  JS %x", got, state)
	}
	bad := []func() (wasi.Config, []byte){
		func() (wasi.Config, []byte) { return cfg(), []byte{2} },
		func() (wasi.Config, []byte) { return cfg(), state[:len(state)-1] },
		func() (wasi.Config, []byte) { c := cfg(); c.Stdin = strings.NewReader("01"); return c, state },
		func() (wasi.Config, []byte) { c := cfg(); c.MaxOutput = 2; return c, state },
		func() (wasi.Config, []byte) { c := cfg(); c.Files = nil; return c, state },
	}
	if len(out.Errors) != len(bad) {
		t.Fatalf("JS gave %d refusals, want %d", len(out.Errors), len(bad))
	}
	for i, f := range bad {
		c, b := f()
		_, err := wasi.RestoreState(c, b)
		if err == nil {
			t.Errorf("case %d: Go restored a bad state; JS said %q", i, out.Errors[i])
			continue
		}
		if err.Error() != out.Errors[i] {
			t.Errorf("case %d: Go %q, JS %q", i, err, out.Errors[i])
		}
	}
	t.Logf("host state (%d bytes): %s", len(state), hex.EncodeToString(state))
}
