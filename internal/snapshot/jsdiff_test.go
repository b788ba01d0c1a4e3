package snapshot

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/fuzzcorpus"
)

// jsVector is one input of the JavaScript differential and Go's verdict on
// it: the error's sentinel as js/snapshot.js names it ("" when accepted),
// and what was decoded.
type jsVector struct {
	Delta bool   `json:"delta"` // an ApplyDelta input (against deltaBase)
	Data  string `json:"data"`  // hex
	Kind  string `json:"kind"`
	State string `json:"state,omitempty"` // hex state hash
	Fuel  string `json:"fuel,omitempty"`
	Pages int    `json:"pages"`
}

// jsKinds maps Go's sentinels to js/snapshot.js's SnapshotError kinds.
var jsKinds = []struct {
	err  error
	kind string
}{{ErrFormat, "format"}, {ErrVersion, "version"}, {ErrLimit, "limit"}, {ErrChecksum, "checksum"},
	{ErrStateHash, "state_hash"}, {ErrBase, "base"}, {ErrKind, "kind"}, {ErrInvalid, "invalid"}}

func kindOf(t *testing.T, err error) string {
	for _, k := range jsKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	t.Fatalf("error of no sentinel: %v", err)
	return ""
}

// mutations derives inputs from a seed that reach each check of the
// decoders: truncations, and single-byte changes with and without the CRC
// trailer recomputed.
func mutations(data []byte) [][]byte {
	out := [][]byte{data}
	for _, n := range []int{0, 7, 8, 100, 127, 128, 129, len(data) / 2, len(data) - 5, len(data) - 1} {
		if n >= 0 && n < len(data) {
			out = append(out, bytes.Clone(data[:n]))
		}
	}
	step := max(1, len(data)/40)
	for i := 0; i < len(data)-4; i += step {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(data)
			b[i] ^= x
			out = append(out, b)
			c := bytes.Clone(b)
			fixCRC(c)
			out = append(out, c)
		}
	}
	return out
}

// TestJSDifferential runs js/snapshot.js's decode and applyDelta (under
// Node) on the inputs of FuzzDecode and FuzzApplyDelta — their seeds, the
// crashers kept in testdata/fuzz, mutations of the seeds, and with
// CROWDRUN_FUZZ_CACHE=1 the corpus the fuzzer has built in GOCACHE — and
// requires the same verdict as Go's on every one: accepted with the same
// state hash, fuel and page count, or refused with the same sentinel.
func TestJSDifferential(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH (scripts/setup.sh installs nodejs)")
	}
	var vs []jsVector
	add := func(delta bool, data []byte, fix bool) {
		data = prepare(data, fix)
		v := jsVector{Delta: delta, Data: hex.EncodeToString(data)}
		var s *Snapshot
		var d *Digest
		var err error
		if delta {
			base := deltaBase()
			bd, herr := Hash(base)
			if herr != nil {
				t.Fatal(herr)
			}
			s, d, err = fuzzLimits.ApplyDelta(base, bd, bytes.NewReader(data))
		} else {
			s, d, err = fuzzLimits.Decode(bytes.NewReader(data))
		}
		if err != nil {
			v.Kind = kindOf(t, err)
		} else {
			v.State, v.Fuel, v.Pages = hex.EncodeToString(d.State[:]), strconv.FormatUint(s.Fuel, 10), len(s.Pages)
		}
		vs = append(vs, v)
	}
	for _, target := range []struct {
		name  string
		delta bool
		seeds []fuzzSeed
	}{{"FuzzDecode", false, decodeSeeds(t)}, {"FuzzApplyDelta", true, deltaSeeds(t)}} {
		for _, s := range target.seeds {
			for _, m := range mutations(s.data) {
				add(target.delta, m, false)
			}
		}
		dirs := []string{filepath.Join("testdata", "fuzz", target.name)}
		if os.Getenv("CROWDRUN_FUZZ_CACHE") != "" {
			if gocache, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
				dirs = append(dirs, filepath.Join(string(bytes.TrimSpace(gocache)), "fuzz", "github.com/crowdrun/crowdrun/internal/snapshot", target.name))
			}
		}
		for _, dir := range dirs {
			entries, err := fuzzcorpus.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				data, ok1 := e.Values[0].([]byte)
				fix, ok2 := e.Values[1].(bool)
				if len(e.Values) != 2 || !ok1 || !ok2 {
					t.Fatalf("%s/%s: not ([]byte, bool)", dir, e.Name)
				}
				add(target.delta, data, fix)
			}
		}
	}
	accepted := 0
	for _, v := range vs {
		if v.Kind == "" {
			accepted++
		}
	}
	if accepted == 0 || accepted == len(vs) {
		t.Fatalf("%d of %d inputs accepted: the differential needs both verdicts", accepted, len(vs))
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "vectors.json")
	b, err := json.Marshal(map[string]any{"limits": map[string]uint32{"maxPages": fuzzLimits.MaxPages, "maxGlobals": fuzzLimits.MaxGlobals,
		"maxFrames": fuzzLimits.MaxFrames, "maxHost": fuzzLimits.MaxHost}, "base": hex.EncodeToString(encodeFull(t, deltaBase(), Options{})), "vectors": vs})
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
		t.Fatalf("js/snapshot.js disagrees with Go: %v\n%s", err, out)
	}
	t.Logf("%d inputs (%d accepted): %s", len(vs), accepted, bytes.TrimSpace(out))
}
