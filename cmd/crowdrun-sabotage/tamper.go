package main

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
)

// allStrategies are the single strategies (package doc).
var allStrategies = []string{"always", "q", "late", "collude", "chain", "fuel", "sneaky", "churn"}

func isStrategy(s string) bool {
	for _, a := range allStrategies {
		if a == s {
			return true
		}
	}
	return false
}

// saboteur is one identity's worker.Tamper.
type saboteur struct {
	strategy string
	name     string // the identity: keys its (non-colluding) lies
	seed     uint64
	q        float64
	late     uint64
	churn    int // results before quitting (strategy churn)

	lies    *atomic.Int64 // shared by all identities of a saboteur
	results atomic.Int64
	once    sync.Once
	quit    chan struct{} // closed when the identity is to be replaced
}

func newSaboteur(o Options, strategy, name string, lies *atomic.Int64) *saboteur {
	return &saboteur{strategy: strategy, name: name, seed: o.Seed, q: o.Q, late: o.Late, churn: o.Churn, lies: lies, quit: make(chan struct{})}
}

// key is a deterministic 64-bit value for one decision. Colluders leave
// their name out, so they decide and corrupt alike.
func (s *saboteur) key(l *protocol.Lease, seq uint64, what string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], s.seed)
	h.Write(b[:])
	h.Write([]byte(what))
	binary.LittleEndian.PutUint64(b[:], uint64(l.TaskID))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], seq)
	h.Write(b[:])
	if s.strategy != "collude" {
		h.Write([]byte(s.name))
		h.Write([]byte(l.LeaseID))
	}
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// lies reports whether to lie on the segment ending at checkpoint seq (seq
// 0: the final result).
func (s *saboteur) liesAt(l *protocol.Lease, seq uint64) bool {
	switch s.strategy {
	case "always", "collude", "churn":
		return true
	case "q":
		return float64(s.key(l, seq, "lie?")>>11)/(1<<53) < s.q
	case "late":
		return seq == 0 || seq >= s.late
	case "chain":
		return seq != 0
	case "fuel":
		return false
	case "sneaky":
		return l.Resume != nil
	}
	return false
}

func (s *saboteur) Checkpoint(l *protocol.Lease, seq uint64, snap *snapshot.Snapshot) bool {
	if !s.liesAt(l, seq) {
		return false
	}
	var used []int
	for i, p := range snap.Pages {
		if p != nil {
			used = append(used, i)
		}
	}
	if len(used) == 0 {
		return false
	}
	k := s.key(l, seq, "corrupt")
	p := snap.Pages[used[k%uint64(len(used))]]
	p[(k>>16)%uint64(len(p))] ^= byte(k>>40) | 1
	s.lies.Add(1)
	return true
}

func (s *saboteur) Result(l *protocol.Lease, r *sandbox.Report, stdout, stderr *[]byte) {
	defer func() {
		if n := s.results.Add(1); s.strategy == "churn" && s.churn > 0 && n >= int64(s.churn) {
			s.once.Do(func() { close(s.quit) })
		}
	}()
	if s.strategy == "fuel" {
		r.Fuel += r.Fuel/2 + 1
		s.lies.Add(1)
		return
	}
	if !s.liesAt(l, 0) {
		return
	}
	k := s.key(l, 0, "output")
	out := append([]byte(nil), *stdout...)
	if len(out) == 0 {
		out = append(out, '0'+byte(k%10))
	} else {
		// A digit changed: a plausible wrong answer.
		i := int(k>>8) % len(out)
		out[i] = '0' + (out[i]-'0'+1+byte(k%9))%10
	}
	*stdout = out
	s.lies.Add(1)
}
