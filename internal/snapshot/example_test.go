package snapshot_test

import (
	"bytes"
	"fmt"

	"github.com/crowdrun/crowdrun/internal/snapshot"
)

// A worker captures checkpoints of a guest's memory with a Tracker and ships
// deltas; the coordinator rebuilds each state from the previous one.
func Example() {
	mem := make([]byte, 4*snapshot.PageSize) // an engine's linear memory
	capture := func(fuel uint64) *snapshot.Snapshot {
		pages, _ := snapshot.PagesOf(mem) // no copy
		return &snapshot.Snapshot{Fuel: fuel, Pages: pages, Globals: []snapshot.Global{{Type: snapshot.I32, Lo: 42}}}
	}

	// First checkpoint: a full snapshot.
	var tr snapshot.Tracker
	s := capture(1000)
	d, _ := tr.Hash(s)
	var full bytes.Buffer
	snapshot.Encode(&full, s, d, snapshot.Options{Compress: true})
	base, baseDigest, err := snapshot.Decode(&full) // on the coordinator
	fmt.Println("full:", err, base.Fuel)

	// The guest runs on and writes one page; the next checkpoint is a delta.
	mem[2*snapshot.PageSize+10] = 7
	prev := tr.Last()
	s = capture(2000)
	d, _ = tr.Hash(s)
	var delta bytes.Buffer
	snapshot.EncodeDelta(&delta, prev, s, d, snapshot.Options{Compress: true})
	fmt.Println("pages shipped:", snapshot.ChangedPages(prev, d))

	next, nextDigest, err := snapshot.ApplyDelta(base, baseDigest, &delta)
	fmt.Println("delta:", err, next.Fuel, next.Pages[2][10], nextDigest.State == d.State)
	// Output:
	// full: <nil> 1000
	// pages shipped: [2]
	// delta: <nil> 2000 7 true
}
