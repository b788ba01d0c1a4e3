package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
)

// wire is the coordinator's end of one worker connection, reduced to what
// these tests watch: it serves one module, leases one task, acks every
// checkpoint and keeps every message. (The worker's other tests use the
// real coordinator; this one looks at the bytes a tampering worker puts on
// the wire, which the coordinator would refuse or rewrite before a test
// could see them.)
type wire struct {
	module []byte
	lease  protocol.Lease

	mu          sync.Mutex
	sessions    int
	checkpoints []*protocol.Checkpoint
	result      chan *protocol.Result // nil: the worker reconnected
}

func (c *wire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/modules/") {
		w.Write(c.module)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(protocol.MaxMessage)
	ctx := r.Context()
	var id uint64
	send := func(m protocol.Message, replyTo uint64) {
		id++
		protocol.Hdr(m).ID, protocol.Hdr(m).ReplyTo = id, replyTo
		b, _ := protocol.Encode(m)
		ws.Write(ctx, websocket.MessageText, b)
	}
	leased := false
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		m, err := protocol.Decode(b)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *protocol.Hello:
			c.mu.Lock()
			c.sessions++
			again := c.sessions > 1
			c.mu.Unlock()
			if again {
				select {
				case c.result <- nil: // the first session failed: the test has lost
				default:
				}
				return
			}
			send(&protocol.Welcome{SessionID: 1, HeartbeatMS: 60_000, LeaseMS: 600_000, SessionToken: "t"}, m.ID)
		case *protocol.LeaseRequest:
			if !leased {
				leased = true
				send(&protocol.Leases{Leases: []protocol.Lease{c.lease}}, m.ID)
			}
		case *protocol.Checkpoint:
			c.mu.Lock()
			c.checkpoints = append(c.checkpoints, m)
			c.mu.Unlock()
			send(&protocol.Ack{}, m.ID)
		case *protocol.Result:
			send(&protocol.Ack{}, m.ID)
			c.result <- m
		case *protocol.Heartbeat:
			send(&protocol.HeartbeatAck{}, m.ID)
		}
	}
}

// flipper flips one byte of memory at the checkpoints it is told to, and
// adds to the reported fuel.
type flipper struct {
	at      map[uint64]bool
	addFuel uint64

	mu      sync.Mutex
	seqs    []uint64          // every call, in order
	altered map[uint64][]byte // the page it changed, by seq
	leases  []string
}

func (f *flipper) Checkpoint(l *protocol.Lease, seq uint64, s *snapshot.Snapshot) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seqs = append(f.seqs, seq)
	f.leases = append(f.leases, l.LeaseID)
	if !f.at[seq] {
		return false
	}
	i := len(s.Pages) - 1
	for s.Pages[i] == nil {
		i--
	}
	s.Pages[i][100] ^= 0xff
	f.altered[seq] = s.Pages[i]
	return true
}

func (f *flipper) Result(l *protocol.Lease, r *sandbox.Report, stdout, stderr *[]byte) {
	r.Fuel += f.addFuel
}

// TestTamper: a tampering worker calls the hook at every checkpoint it
// uploads with the grid point's seq; a checkpoint it altered goes out in
// full and hashes to the altered state; the checkpoints after it are deltas
// that rebuild the worker's real states; and its result carries the fuel
// the hook forged, the real output.
func TestTamper(t *testing.T) {
	ctx := context.Background()
	bin, err := os.ReadFile("../../examples/factor.wasm")
	if err != nil {
		t.Fatal(err)
	}
	prepared, ok, err := sandbox.Prepare(bin, instrument.DefaultOptions(), true)
	if err != nil || !ok {
		t.Fatalf("prepare: %v %v", ok, err)
	}
	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	mod, err := eng.CompileInstrumented(ctx, prepared)
	if err != nil {
		t.Fatal(err)
	}
	const stdin = "1000000007 97 999999937 12 1000000009\n"
	const grid = 40_000 // a multiple of Ticks: the worker runs at a finer grid

	// The honest chain.
	honest := map[uint64]string{}
	var want bytes.Buffer
	wantRep := eng.Run(ctx, mod, sandbox.Input{Args: []string{Argv0}, Stdin: strings.NewReader(stdin), Stdout: &want,
		OnCheckpoint: func(cp *sandbox.Checkpoint) error {
			honest[cp.Seq] = hex.EncodeToString(cp.Digest.State[:])
			return nil
		}}, sandbox.Limits{CheckpointEvery: grid})
	if wantRep.Status != sandbox.StatusOK || len(honest) < 6 {
		t.Fatalf("honest run: %+v, %d checkpoints", wantRep, len(honest))
	}

	sum := sha256.Sum256(prepared)
	c := &wire{module: prepared, result: make(chan *protocol.Result, 2), lease: protocol.Lease{LeaseID: "L1", TaskID: 1,
		ModuleHash: hex.EncodeToString(sum[:]), Stdin: []byte(stdin), CheckpointEvery: grid}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	f := &flipper{at: map[uint64]bool{2: true, 5: true}, addFuel: 1000, altered: map[uint64][]byte{}}
	w, err := New(Config{Server: srv.URL, Name: "liar", Engine: eng, Tamper: f, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(wctx) }()
	res := <-c.result
	cancel()
	wg.Wait()
	if res == nil {
		t.Fatal("the worker's session failed (see its log)")
	}

	if res.Fuel != wantRep.Fuel+1000 || string(res.Stdout) != want.String() || res.Status != string(sandbox.StatusOK) {
		t.Fatalf("result: %s fuel %d %q; want fuel %d+1000 %q", res.Status, res.Fuel, res.Stdout, wantRep.Fuel, want.String())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.checkpoints) != len(honest) {
		t.Fatalf("%d checkpoints uploaded, %d in the honest chain", len(c.checkpoints), len(honest))
	}
	if len(f.seqs) != len(c.checkpoints) {
		t.Fatalf("hook called %d times for %d checkpoints", len(f.seqs), len(c.checkpoints))
	}
	var prev *snapshot.Snapshot
	var prevDig *snapshot.Digest
	for i, m := range c.checkpoints {
		if f.seqs[i] != m.Seq || f.leases[i] != "L1" {
			t.Fatalf("hook call %d: lease %s seq %d, the checkpoint is %d", i, f.leases[i], f.seqs[i], m.Seq)
		}
		var s *snapshot.Snapshot
		var d *snapshot.Digest
		if m.Base == "" {
			s, d, err = snapshot.Decode(bytes.NewReader(m.Snapshot))
		} else {
			if prevDig == nil || m.Base != hex.EncodeToString(prevDig.State[:]) {
				t.Fatalf("checkpoint %d: a delta against %.12s, not the previous upload", m.Seq, m.Base)
			}
			s, d, err = snapshot.ApplyDelta(prev, prevDig, bytes.NewReader(m.Snapshot))
		}
		if err != nil {
			t.Fatalf("checkpoint %d: %v", m.Seq, err)
		}
		if got := hex.EncodeToString(d.State[:]); got != m.StateHash || s.Fuel != m.Fuel {
			t.Fatalf("checkpoint %d: the snapshot hashes to %.12s at fuel %d, claimed %.12s at %d", m.Seq, got, s.Fuel, m.StateHash, m.Fuel)
		}
		if f.at[m.Seq] {
			if m.Base != "" {
				t.Errorf("tampered checkpoint %d sent as a delta", m.Seq)
			}
			if m.StateHash == honest[m.Seq] {
				t.Errorf("tampered checkpoint %d has the honest hash", m.Seq)
			}
			i := len(s.Pages) - 1
			for s.Pages[i] == nil {
				i--
			}
			if !bytes.Equal(s.Pages[i], f.altered[m.Seq]) {
				t.Errorf("checkpoint %d: the uploaded memory is not the tampered one", m.Seq)
			}
		} else if m.StateHash != honest[m.Seq] {
			// The worker's own run went on from its real state.
			t.Errorf("checkpoint %d: hash %.12s, honest %.12s", m.Seq, m.StateHash, honest[m.Seq])
		}
		prev, prevDig = s, d
	}
}
