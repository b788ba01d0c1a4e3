package protocol

import (
	"reflect"
	"strings"
	"testing"
)

// Decode's one-pass reading of a message that begins with its type
// (decodeFast) gives exactly what the header-first reading gives
// (decodeSlow): the same message, or the same error.
func FuzzDecodeFastEqualsSlow(f *testing.F) {
	for _, m := range []Message{
		&Hello{Header: Header{ID: 1}, Protocol: Version, Worker: "w", Slots: 2, Runtime: "go/wazero"},
		&LeaseRequest{Header: Header{ID: 2}, Max: 3},
		&Leases{Header: Header{ID: 2, ReplyTo: 2}, Leases: []Lease{{LeaseID: "1.1", Stdin: []byte{0, 1, 2}, Args: []string{"a"}, Limits: Limits{Fuel: 9}}}},
		&Result{Header: Header{ID: 4}, LeaseID: "1.1", Status: "ok", Stdout: []byte("out\xff"), Fuel: 12},
		&Ack{Header: Header{ID: 4, ReplyTo: 4}},
		&Heartbeat{Header: Header{ID: 3}, Running: []string{"1.1"}},
	} {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"type":"ack","id":1}`,
		`{"type":"ack","id":1}}`,             // the long way takes a trailing '}'
		`{"type":"ack","id":1} {}`,           // trailing data
		`{"type":"ack","id":0}`,              // no id
		`{"type":"ack","id":1,"type":"bye"}`, // the last "type" counts
		`{"type":"ack","id":1,"Type":"bye"}`, // keys match as the decoder matches them
		`{"type":"result","id":1,"TYPE":"ack","lease_id":"1.1","status":"ok"}`,
		`{"type":"result","id":1,"status":"ok"}`,  // refused by validate
		`{"type":"lease_request","id":1,"max":0}`, // refused by validate
		`{"type":"nope","id":1}`,
		`{"type":"ac\u006b","id":1}`, // an escaped type
		`{"type":"","id":1}`,
		`{"type":"ack","id":1,"reply_to":-1}`,
		`{"type":"result","id":1,"lease_id":"1.1","status":"ok","stdout":"!!"}`,
		` {"type":"ack","id":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > MaxMessage {
			return
		}
		got, gerr := Decode(b)
		want, werr := decodeSlow(b)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("Decode(%q): error %v, the long way %v", b, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %#v, the long way %#v", b, got, want)
		}
	})
}

// The fast path is taken for what Encode writes (else it would be dead
// code, and its equality with the long way proved nothing).
func TestDecodeFastTakesEncoded(t *testing.T) {
	for _, m := range []Message{
		&Result{Header: Header{ID: 4}, LeaseID: "1.1", Status: "ok", Stdout: []byte("x"), Fuel: 12},
		&Ack{Header: Header{ID: 4, ReplyTo: 4}},
		&Leases{Header: Header{ID: 2, ReplyTo: 2}, Leases: []Lease{{LeaseID: "1.1", Stdin: []byte("in")}}},
	} {
		b, _ := Encode(m)
		if !strings.HasPrefix(string(b), typePrefix) || decodeFast(b) == nil {
			t.Fatalf("%s: not decoded by decodeFast", b)
		}
	}
	if decodeFast([]byte(`{"type":"ack","id":1,"type":"bye"}`)) != nil {
		t.Fatal("decodeFast took a message whose type it misread")
	}
}
