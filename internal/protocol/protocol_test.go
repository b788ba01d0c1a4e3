package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/protocol"
)

// realMessages are one or more real values of every message type: the
// round-trip test's table and the seeds of FuzzDecode.
func realMessages() []protocol.Message {
	return []protocol.Message{
		&protocol.Hello{Header: protocol.Header{ID: 1}, Protocol: protocol.Version, Worker: "w", Slots: 2, Runtime: "go/wazero"},
		&protocol.Welcome{Header: protocol.Header{ID: 1, ReplyTo: 1}, SessionID: 7, HeartbeatMS: 1000, LeaseMS: 5000, MaxMessage: protocol.MaxMessage},
		&protocol.LeaseRequest{Header: protocol.Header{ID: 2}, Max: 3},
		&protocol.Leases{Header: protocol.Header{ID: 2, ReplyTo: 2}, Leases: []protocol.Lease{{LeaseID: "1.1", Stdin: []byte{0, 1, 2}, Args: []string{"a"},
			Files: []protocol.File{{Name: "f", Data: []byte("x")}}, Limits: protocol.Limits{Fuel: 9}}}},
		&protocol.Heartbeat{Header: protocol.Header{ID: 3}, Running: []string{"1.1"}},
		&protocol.HeartbeatAck{Header: protocol.Header{ID: 3, ReplyTo: 3}},
		&protocol.Result{Header: protocol.Header{ID: 4}, LeaseID: "1.1", Status: "ok", Stdout: []byte("out\xff"), Fuel: 12},
		&protocol.Ack{Header: protocol.Header{ID: 4, ReplyTo: 4}},
		&protocol.Release{Header: protocol.Header{ID: 5}, LeaseIDs: []string{"1.1"}},
		&protocol.Revoke{Header: protocol.Header{ID: 5}, LeaseIDs: []string{"1.1"}, Reason: "cancelled"},
		&protocol.ErrorMsg{Header: protocol.Header{ID: 6}, Code: protocol.CodeLeaseNotHeld, Message: "no"},
		&protocol.Bye{Header: protocol.Header{ID: 7}},
		&protocol.Hello{Header: protocol.Header{ID: 8}, Protocol: protocol.Version, Worker: "w", Slots: 1, Features: []string{protocol.FeatureCheckpoint}},
		&protocol.Hello{Header: protocol.Header{ID: 13}, Protocol: protocol.Version, Worker: "browser-1", Slots: 1, Site: "example.org"},
		&protocol.Leases{Header: protocol.Header{ID: 9}, Leases: []protocol.Lease{{LeaseID: "1.2", CheckpointEvery: 1 << 20,
			Resume: &protocol.Resume{Seq: 3, Fuel: 3<<20 + 5, StateHash: strings.Repeat("ab", 32), Snapshot: strings.Repeat("cd", 32)}}}},
		&protocol.Heartbeat{Header: protocol.Header{ID: 10}, Running: []string{"1.2"}, Progress: map[string]uint64{"1.2": 77}},
		&protocol.Progress{Header: protocol.Header{ID: 12}, Progress: map[string]uint64{"1.2": 78}},
		&protocol.Checkpoint{Header: protocol.Header{ID: 11}, LeaseID: "1.2", Seq: 4, Fuel: 4<<20 + 1, StateHash: strings.Repeat("01", 32),
			Base: strings.Repeat("ab", 32), Snapshot: []byte("delta"), Stdout: []byte("o"), Stderr: []byte{}, CostMS: 0.25},
		&protocol.Rerun{Header: protocol.Header{ID: 13}, RerunID: 1, JobID: 2, TaskID: 3, ModuleHash: strings.Repeat("ef", 32), Stdin: []byte("in"),
			Args: []string{"a"}, Files: []protocol.File{{Name: "f", Data: []byte("x")}}, Limits: protocol.Limits{Fuel: 1 << 30}, Grid: 1 << 20,
			From: &protocol.Resume{Seq: 2, Fuel: 2<<20 + 3, StateHash: strings.Repeat("ab", 32), Snapshot: strings.Repeat("cd", 32)}, Seq: 3},
		&protocol.Rerun{Header: protocol.Header{ID: 14}, RerunID: 2, ModuleHash: strings.Repeat("ef", 32), Grid: 1 << 20, Final: true, Trace: true},
		&protocol.RerunResult{Header: protocol.Header{ID: 15}, RerunID: 1, Seq: 3, Fuel: 3<<20 + 1, StateHash: strings.Repeat("01", 32),
			Stdout: []byte("o"), Stderr: []byte{}, FuelUsed: 1 << 20},
		&protocol.RerunResult{Header: protocol.Header{ID: 16}, RerunID: 2, Status: "ok", Fuel: 9 << 20, Stdout: []byte("abc"), Stderr: []byte("e"),
			FuelUsed: 9 << 20, Trace: []protocol.TracePoint{{Seq: 1, Fuel: 1<<20 + 1, StateHash: strings.Repeat("02", 32), StdoutLen: 2}, {Seq: 2, Fuel: 2<<20 + 1, StateHash: strings.Repeat("03", 32), StdoutLen: 1, StderrLen: 1}}},
		&protocol.RerunResult{Header: protocol.Header{ID: 17}, RerunID: 3, Error: "could not fetch the snapshot"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range realMessages() {
		b, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := protocol.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v", b, got, m)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ in, code string }{
		{``, protocol.CodeBadMessage},
		{`garbage`, protocol.CodeBadMessage},
		{`[]`, protocol.CodeBadMessage},
		{`{"id":1}`, protocol.CodeBadMessage},
		{`{"type":"nope","id":1}`, protocol.CodeBadMessage},
		{`{"type":"bye"}`, protocol.CodeBadMessage},
		{`{"type":"bye","id":-1}`, protocol.CodeBadMessage},
		{`{"type":"bye","id":1} {}`, protocol.CodeBadMessage},
		{`{"type":"hello","id":1,"protocol":2,"worker":"w","slots":1}`, protocol.CodeVersion},
		{`{"type":"hello","id":1,"protocol":1,"worker":"","slots":1}`, protocol.CodeBadMessage},
		{`{"type":"hello","id":1,"protocol":1,"worker":"w","slots":100000}`, protocol.CodeBadMessage},
		{`{"type":"result","id":1,"status":"ok"}`, protocol.CodeBadMessage},
		{`{"type":"result","id":1,"lease_id":"1.1","status":"ok","stdout":"!!notbase64"}`, protocol.CodeBadMessage},
		{`{"type":"lease_request","id":1,"max":0}`, protocol.CodeBadMessage},
		{`{"type":"checkpoint","id":1,"lease_id":"1.1","seq":0,"fuel":5,"state_hash":"` + strings.Repeat("a", 64) + `","snapshot":"eA=="}`, protocol.CodeBadMessage},
		{`{"type":"checkpoint","id":1,"lease_id":"1.1","seq":1,"fuel":5,"state_hash":"` + strings.Repeat("A", 64) + `","snapshot":"eA=="}`, protocol.CodeBadMessage},
		{`{"type":"checkpoint","id":1,"lease_id":"1.1","seq":1,"fuel":5,"state_hash":"` + strings.Repeat("a", 64) + `","base":"x","snapshot":"eA=="}`, protocol.CodeBadMessage},
		{`{"type":"checkpoint","id":1,"lease_id":"1.1","seq":1,"fuel":5,"state_hash":"` + strings.Repeat("a", 64) + `"}`, protocol.CodeBadMessage},
		{`{"type":"checkpoint","id":1,"lease_id":"1.1","seq":1,"fuel":5,"state_hash":"` + strings.Repeat("a", 64) + `","snapshot":"eA==","cost_ms":-1}`, protocol.CodeBadMessage},
		{`{"type":"leases","id":1,"leases":[{"lease_id":"1.1","resume":{"seq":0,"state_hash":"","snapshot":""}}]}`, protocol.CodeBadMessage},
		{`{"type":"rerun","id":1,"rerun_id":0,"module_hash":"` + strings.Repeat("a", 64) + `","grid":5,"seq":1}`, protocol.CodeBadMessage},
		{`{"type":"rerun","id":1,"rerun_id":1,"module_hash":"x","grid":5,"seq":1}`, protocol.CodeBadMessage},
		{`{"type":"rerun","id":1,"rerun_id":1,"module_hash":"` + strings.Repeat("a", 64) + `","grid":0,"seq":1}`, protocol.CodeBadMessage},
		{`{"type":"rerun","id":1,"rerun_id":1,"module_hash":"` + strings.Repeat("a", 64) + `","grid":5}`, protocol.CodeBadMessage},
		{`{"type":"rerun","id":1,"rerun_id":1,"module_hash":"` + strings.Repeat("a", 64) + `","grid":5,"seq":1,"trace":true}`, protocol.CodeBadMessage},
		{`{"type":"rerun","id":1,"rerun_id":1,"module_hash":"` + strings.Repeat("a", 64) + `","grid":5,"seq":2,"from":{"seq":2,"fuel":11,"state_hash":"` + strings.Repeat("a", 64) + `","snapshot":"` + strings.Repeat("a", 64) + `"}}`, protocol.CodeBadMessage},
		{`{"type":"rerun_result","id":1,"rerun_id":0}`, protocol.CodeBadMessage},
		{`{"type":"rerun_result","id":1,"rerun_id":1,"state_hash":"zz"}`, protocol.CodeBadMessage},
		{`{"type":"rerun_result","id":1,"rerun_id":1,"fuel_used":` + "4611686018427387905" + `}`, protocol.CodeBadMessage},
		{`{"type":"rerun_result","id":1,"rerun_id":1,"trace":[{"seq":2,"fuel":3,"state_hash":"` + strings.Repeat("a", 64) + `"},{"seq":2,"fuel":4,"state_hash":"` + strings.Repeat("a", 64) + `"}]}`, protocol.CodeBadMessage},
		{`{"type":"rerun_result","id":1,"rerun_id":1,"stdout":"YQ==","trace":[{"seq":1,"fuel":3,"state_hash":"` + strings.Repeat("a", 64) + `","stdout_len":2}]}`, protocol.CodeBadMessage},
		{`{"type":"rerun_result","id":1,"rerun_id":1,"stdout":"YQ==","trace":[{"seq":1,"fuel":3,"state_hash":"` + strings.Repeat("a", 64) + `","stdout_len":1},{"seq":2,"fuel":4,"state_hash":"` + strings.Repeat("a", 64) + `","stdout_len":1}]}`, protocol.CodeBadMessage},
		{`{"type":"bye","id":1,` + strings.Repeat(" ", protocol.MaxMessage) + `}`, protocol.CodeTooLarge},
	} {
		_, err := protocol.Decode([]byte(tc.in))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("Decode(%.60q) = %v, want code %s", tc.in, err, tc.code)
		}
	}
}

// FuzzDecode checks that Decode never panics, that every error is a
// *protocol.Error, and that whatever it accepts re-encodes to a message of
// the same type that decodes again and encodes stably. Seeded with a real
// value of every message type (realMessages, encoded) and hand-written
// frames; crashers are kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, m := range realMessages() {
		b, err := protocol.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"hello","id":1,"protocol":1,"worker":"w","slots":1}`))
	f.Add([]byte(`{"type":"hello","id":1,"protocol":1,"worker":"w","slots":1,"site":"Example.ORG"}`))
	f.Add([]byte(`{"type":"result","id":2,"lease_id":"1.1","status":"ok","stdout":"aGk=","fuel":3}`))
	f.Add([]byte(`{"type":"leases","id":2,"reply_to":1,"leases":[{"lease_id":"1.1","files":[{"name":"a","data":""}]}]}`))
	f.Add([]byte(`{"type":"heartbeat","id":3,"running":["1.1"],"progress":{"1.1":5}}`))
	f.Add([]byte(`{"type":"progress","id":3,"progress":{"1.1":5}}`))
	f.Add([]byte(`{"type":"checkpoint","id":4,"lease_id":"1.1","seq":1,"fuel":5,"state_hash":"` + strings.Repeat("a", 64) + `","snapshot":"eA==","stdout":"","stderr":"","cost_ms":1}`))
	f.Add([]byte(`{"type":"rerun","id":5,"rerun_id":1,"module_hash":"` + strings.Repeat("a", 64) + `","grid":5,"seq":2,"from":{"seq":1,"fuel":6,"state_hash":"` + strings.Repeat("b", 64) + `","snapshot":"` + strings.Repeat("c", 64) + `"}}`))
	f.Add([]byte(`{"type":"rerun_result","id":6,"rerun_id":1,"stdout":"YWI=","stderr":"","fuel_used":3,"trace":[{"seq":1,"fuel":3,"state_hash":"` + strings.Repeat("a", 64) + `","stdout_len":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.Decode(b)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// Whatever decodes re-encodes and decodes to the same message.
		enc, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := protocol.Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if reflect.TypeOf(m2) != reflect.TypeOf(m) || protocol.Hdr(m2).ID != protocol.Hdr(m).ID {
			t.Fatalf("re-decoding %s gave a %T (id %d), not a %T (id %d)", enc, m2, protocol.Hdr(m2).ID, m, protocol.Hdr(m).ID)
		}
		enc2, _ := protocol.Encode(m2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding:\n%s\n%s", enc, enc2)
		}
	})
}

// Site names: the vectors js/browser/wire.test.js checks siteName against
// too, so that a page never sends a name the coordinator refuses.
func TestParseSite(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sites.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Valid   [][2]string `json:"valid"`
		Invalid []string    `json:"invalid"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		t.Fatal("no vectors")
	}
	hello := func(site string) []byte {
		b, _ := json.Marshal(map[string]any{"type": "hello", "id": 1, "protocol": 1, "worker": "w", "slots": 1, "site": site})
		return b
	}
	for _, tc := range v.Valid {
		got, err := protocol.ParseSite(tc[0])
		if err != nil || got != tc[1] {
			t.Errorf("ParseSite(%q) = %q, %v; want %q", tc[0], got, err, tc[1])
		}
		m, err := protocol.Decode(hello(tc[0]))
		if err != nil {
			t.Errorf("hello with site %q: %v", tc[0], err)
			continue
		}
		if h := m.(*protocol.Hello); h.Site != tc[1] {
			t.Errorf("hello with site %q decodes to %q, want %q", tc[0], h.Site, tc[1])
		}
	}
	for _, s := range v.Invalid {
		if got, err := protocol.ParseSite(s); err == nil {
			t.Errorf("ParseSite(%q) = %q, want an error", s, got)
		}
		if s == "" {
			continue // an empty site in hello is no site
		}
		_, err := protocol.Decode(hello(s))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeBadMessage || !strings.Contains(pe.Message, "hello: site") {
			t.Errorf("hello with site %q: %v, want bad_message naming the site", s, err)
		}
	}
}

// Every message type is among FuzzDecode's seeds.
func TestRealMessagesCoverEveryType(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range realMessages() {
		b, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		seen[protocol.Hdr(m).Type] = len(b) > 0
	}
	for _, typ := range []string{protocol.TypeHello, protocol.TypeWelcome, protocol.TypeLeaseRequest, protocol.TypeLeases,
		protocol.TypeHeartbeat, protocol.TypeHeartbeatAck, protocol.TypeResult, protocol.TypeAck, protocol.TypeRelease,
		protocol.TypeRevoke, protocol.TypeError, protocol.TypeBye, protocol.TypeCheckpoint, protocol.TypeProgress,
		protocol.TypeRerun, protocol.TypeRerunResult} {
		if !seen[typ] {
			t.Errorf("no real %s message among the seeds", typ)
		}
	}
}
