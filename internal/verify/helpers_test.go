package verify

import (
	"maps"
	"slices"
	"testing"

	"github.com/crowdrun/crowdrun/internal/store"
)

// ck is a checkpoint at seq with the given state and output hashes.
func ck(seq, fuel uint64, state, out, acc string) *store.Checkpoint {
	return &store.Checkpoint{Seq: seq, Fuel: fuel, StateHash: state, StdoutHash: out, StderrHash: "e", Account: acc}
}

func rep(id int64, acc string, res *store.Result, cks ...*store.Checkpoint) *store.ReplicaInfo {
	return &store.ReplicaInfo{ID: id, Role: store.RoleRun, Account: acc, Result: res, Checkpoints: cks}
}

func result(fuel uint64, out string) *store.Result {
	return &store.Result{Status: "ok", StdoutHash: out, StderrHash: "e", Fuel: fuel}
}

func TestSameCheckpoint(t *testing.T) {
	a, b := ck(3, 300, "h3", "o3", "A"), ck(3, 300, "h3", "o3", "B")
	if !sameCheckpoint(a, b, true) {
		t.Fatal("identical checkpoints differ")
	}
	b.StateHash = "x"
	if sameCheckpoint(a, b, false) || sameCheckpoint(a, b, true) {
		t.Fatal("a different state hash always differs")
	}
	b = ck(3, 300, "h3", "other", "B")
	if !sameCheckpoint(a, b, false) {
		t.Fatal("output since different previous checkpoints is not comparable")
	}
	if sameCheckpoint(a, b, true) {
		t.Fatal("output since the same previous checkpoint must agree")
	}
	b = ck(3, 300, "h3", "o3", "B")
	b.StderrHash = "other"
	if sameCheckpoint(a, b, true) {
		t.Fatal("stderr since the same previous checkpoint must agree")
	}
}

func TestCompare(t *testing.T) {
	chain := func(id int64, acc string, res *store.Result, seqs ...uint64) *store.ReplicaInfo {
		r := rep(id, acc, res)
		for _, s := range seqs {
			r.Checkpoints = append(r.Checkpoints, ck(s, s*100, "h"+string(rune('0'+s)), "o"+string(rune('0'+s)), acc))
		}
		return r
	}
	t.Run("agree", func(t *testing.T) {
		a, b := chain(1, "A", result(450, "out"), 1, 2, 3, 4), chain(2, "B", result(450, "out"), 1, 2, 3, 4)
		if d, ok := compare(a, b); ok {
			t.Fatalf("divergence %+v", d)
		}
	})
	t.Run("first divergent link", func(t *testing.T) {
		a, b := chain(1, "A", nil, 1, 2, 3, 4), chain(2, "B", nil, 1, 2, 3, 4)
		b.Checkpoints[2].StateHash = "lie" // seq 3; seq 4 disagrees too
		b.Checkpoints[3].StateHash = "lie"
		d, ok := compare(a, b)
		if !ok || d.final || d.from != 2 || d.seq != 3 || linkName(d) != "2→3" {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
	})
	t.Run("mid-run, before either result", func(t *testing.T) {
		a, b := chain(1, "A", nil, 1, 2), chain(2, "B", nil, 1, 2, 3, 4, 5)
		b.Checkpoints[1].StateHash = "lie"
		if d, ok := compare(a, b); !ok || d.from != 1 || d.seq != 2 {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
	})
	t.Run("skipped checkpoint", func(t *testing.T) {
		// b skipped checkpoint 2 (too large to upload): its checkpoint 3
		// carries the output since 1, a's since 2. Only the state at 3 is
		// comparable, and it agrees.
		a, b := chain(1, "A", nil, 1, 2, 3, 4), chain(2, "B", nil, 1, 3, 4)
		b.Checkpoints[1].StdoutHash = "o2+o3"
		if d, ok := compare(a, b); ok {
			t.Fatalf("output over different stretches compared: %+v", d)
		}
		// At 4 both took 3: the output since 3 is comparable.
		b.Checkpoints[2].StdoutHash = "lie"
		if d, ok := compare(a, b); !ok || d.from != 3 || d.seq != 4 {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
		// A state lie at the skipped-over link: from is the last common
		// checkpoint both agree on (1), not a's 2.
		b = chain(2, "B", nil, 1, 3, 4)
		b.Checkpoints[1].StateHash = "lie"
		if d, ok := compare(a, b); !ok || d.from != 1 || d.seq != 3 {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
	})
	t.Run("output since the start", func(t *testing.T) {
		// Checkpoint 1's output is since the start for both: comparable.
		a, b := chain(1, "A", nil, 1, 2), chain(2, "B", nil, 1, 2)
		b.Checkpoints[0].StdoutHash = "lie"
		if d, ok := compare(a, b); !ok || d.from != 0 || d.seq != 1 || linkName(d) != "0→1" {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
	})
	t.Run("results", func(t *testing.T) {
		a, b := chain(1, "A", result(450, "out"), 1, 2, 3, 4), chain(2, "B", nil, 1, 2, 3, 4)
		if d, ok := compare(a, b); ok {
			t.Fatalf("a result compared with a run still going: %+v", d)
		}
		b.Result = result(450, "lie")
		d, ok := compare(a, b)
		if !ok || !d.final || d.from != 4 || linkName(d) != "4→end" {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
		b.Result = result(451, "out") // forged fuel
		if d, ok := compare(a, b); !ok || !d.final {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
		// A checkpoint lie comes first, even when the results differ too.
		b.Checkpoints[1].StateHash = "lie"
		if d, ok := compare(a, b); !ok || d.final || d.seq != 2 {
			t.Fatalf("divergence %+v, %v", d, ok)
		}
	})
}

func TestTraceDisagreement(t *testing.T) {
	trace := &RerunResult{Result: result(450, "out"), Trace: []TracePoint{
		{Seq: 1, StateHash: "h1", StdoutHash: "o1", StderrHash: "e"},
		{Seq: 2, StateHash: "h2", StdoutHash: "o2", StderrHash: "e"},
		{Seq: 3, StateHash: "h3", StdoutHash: "o3", StderrHash: "e"},
		{Seq: 4, StateHash: "h4", StdoutHash: "o4", StderrHash: "e"},
	}}
	honest := func() *store.ReplicaInfo {
		return rep(1, "B", result(450, "out"), ck(1, 100, "h1", "o1", "A"), ck(2, 200, "h2", "o2", "A"), ck(3, 300, "h3", "o3", "B"), ck(4, 400, "h4", "o4", "B"))
	}
	if l, acc := traceDisagreement(honest(), trace); l != "" || acc != "" {
		t.Fatalf("honest chain: %q by %q", l, acc)
	}
	r := honest()
	r.Checkpoints[1].StateHash = "lie"
	r.Checkpoints[3].StateHash = "lie"
	if l, acc := traceDisagreement(r, trace); l != "1→2" || acc != "A" {
		t.Fatalf("state lie: %q by %q, want the first, 1→2 by A", l, acc)
	}
	r = honest()
	r.Checkpoints[2].StdoutHash = "lie"
	if l, acc := traceDisagreement(r, trace); l != "2→3 (output)" || acc != "B" {
		t.Fatalf("output lie: %q by %q", l, acc)
	}
	r = honest()
	r.Result = result(450, "lie")
	if l, acc := traceDisagreement(r, trace); l != "4→end" || acc != "B" {
		t.Fatalf("result lie: %q by %q", l, acc)
	}
	r.Result = result(9999, "out")
	if l, _ := traceDisagreement(r, trace); l != "4→end" {
		t.Fatalf("fuel lie: %q", l)
	}
	// A skipped checkpoint: r's 3 carries the output since 1, the trace's
	// since 2, so only the state is compared.
	r = rep(1, "B", result(450, "out"), ck(1, 100, "h1", "o1", "A"), ck(3, 300, "h3", "o2+o3", "B"), ck(4, 400, "h4", "o4", "B"))
	if l, acc := traceDisagreement(r, trace); l != "" {
		t.Fatalf("skipped checkpoint: %q by %q", l, acc)
	}
	r.Checkpoints[1].StateHash = "lie"
	if l, acc := traceDisagreement(r, trace); l != "1→3" || acc != "B" {
		t.Fatalf("lie after a skipped checkpoint: %q by %q", l, acc)
	}
	// A checkpoint trusted ground never passed (a forged seq).
	r = honest()
	r.Checkpoints = append(r.Checkpoints, ck(7, 700, "h7", "o7", "B"))
	if l, acc := traceDisagreement(r, trace); l != "4→7 (no such checkpoint on trusted ground)" || acc != "B" {
		t.Fatalf("forged seq: %q by %q", l, acc)
	}
	// An audit answers for its own links only: the copies before AuditSeq
	// are the audited replica's.
	a := honest()
	a.Role, a.AuditSeq, a.Account = store.RoleAudit, 3, "X"
	a.Checkpoints[0].StateHash = "copied lie"
	a.Checkpoints[2].Account, a.Checkpoints[3].Account = "X", "X"
	a.Result = nil
	if l, acc := traceDisagreement(a, trace); l != "" {
		t.Fatalf("audit blamed for a copy: %q by %q", l, acc)
	}
	a.Checkpoints[3].StateHash = "lie"
	if l, acc := traceDisagreement(a, trace); l != "3→4" || acc != "X" {
		t.Fatalf("audit's own lie: %q by %q", l, acc)
	}
	// An audit that resumed from a lie (its start, the audited replica's
	// checkpoint 2, is not trusted ground's) is not blamed for computing
	// on from it, whatever it claims: the lie is the audited replica's.
	a = honest()
	a.Role, a.AuditSeq, a.Account = store.RoleAudit, 3, "X"
	a.Checkpoints[1].StateHash = "copied lie"
	a.Checkpoints[2].Account, a.Checkpoints[3].Account = "X", "X"
	a.Checkpoints[2].StateHash, a.Checkpoints[3].StateHash = "from the lie", "from the lie too"
	if l, acc := traceDisagreement(a, trace); l != "" || acc != "" {
		t.Fatalf("audit blamed for computing on from the lie it was handed: %q by %q", l, acc)
	}
	// No result on trusted ground: a claimed one cannot agree.
	if l, _ := traceDisagreement(honest(), &RerunResult{Trace: trace.Trace}); l != "4→end" {
		t.Fatalf("result without a traced one: %q", l)
	}
}

func TestAgreesWithTrusted(t *testing.T) {
	r := rep(1, "A", result(450, "out"), ck(1, 100, "h1", "o1", "A"), ck(3, 300, "h3", "o2+o3", "A"))
	one := &divergence{from: 1, seq: 2}
	if agreesWithTrusted(r, one, &RerunResult{StateHash: "h2"}) {
		t.Fatal("a replica without the disputed checkpoint cannot agree")
	}
	span := &divergence{from: 1, seq: 3} // two grid intervals: output not comparable
	if !agreesWithTrusted(r, span, &RerunResult{StateHash: "h3", StdoutHash: "o3"}) {
		t.Fatal("output over a longer stretch compared")
	}
	if agreesWithTrusted(r, span, &RerunResult{StateHash: "x"}) {
		t.Fatal("state differs")
	}
	r.Checkpoints[1].StdoutHash = "o3"
	grid := &divergence{from: 2, seq: 3}
	if !agreesWithTrusted(r, grid, &RerunResult{StateHash: "h3", StdoutHash: "o3", StderrHash: "e"}) {
		t.Fatal("one-interval link agreeing")
	}
	if agreesWithTrusted(r, grid, &RerunResult{StateHash: "h3", StdoutHash: "lie", StderrHash: "e"}) {
		t.Fatal("one-interval link: output must agree")
	}
	start := &divergence{from: 0, seq: 1}
	if agreesWithTrusted(r, start, &RerunResult{StateHash: "h1", StdoutHash: "x", StderrHash: "e"}) {
		t.Fatal("first link: output since the start must agree")
	}
	final := &divergence{from: 3, final: true}
	if !agreesWithTrusted(r, final, &RerunResult{Result: result(450, "out")}) || agreesWithTrusted(r, final, &RerunResult{Result: result(450, "x")}) {
		t.Fatal("final link compares results")
	}
	if agreesWithTrusted(rep(2, "B", nil), final, &RerunResult{Result: result(450, "out")}) {
		t.Fatal("a replica without a result cannot agree on the final link")
	}
}

func TestChainLinks(t *testing.T) {
	const grid = 100
	r := rep(1, "C", result(450, "out"), ck(1, 100, "h1", "", "A"), ck(2, 200, "h2", "", "A"), ck(4, 400, "h4", "", "B"))
	// B's session and the final one (C's) named sites: each link carries
	// its own computing session's.
	r.Checkpoints[2].Site, r.Site = "b.example", "c.example"
	got := chainLinks(r, grid)
	want := []link{{1, 100, "A", ""}, {2, 100, "A", ""}, {4, 200, "B", "b.example"}, {5, 50, "C", "c.example"}} // 4: checkpoint 3 skipped
	if !slices.Equal(got, want) {
		t.Fatalf("links %+v, want %+v", got, want)
	}
	// A final fuel past the next grid point is capped at one interval (a
	// forged fuel claim earns nothing); without a grid it is not.
	r.Result.Fuel = 5000
	if got := chainLinks(r, grid); got[3] != (link{5, grid, "C", "c.example"}) {
		t.Fatalf("final link %+v", got[3])
	}
	if got := chainLinks(r, 0); got[3] != (link{5, 4600, "C", "c.example"}) {
		t.Fatalf("final link without a grid %+v", got[3])
	}
	// No checkpoints: the whole run is one link.
	if got := chainLinks(rep(2, "D", result(450, "out")), grid); !slices.Equal(got, []link{{1, 450, "D", ""}}) {
		t.Fatalf("links %+v", got)
	}
	// A checkpoint whose fuel does not advance is no link; a run still
	// going has no final link.
	r = rep(3, "E", nil, ck(1, 100, "h1", "", "E"), ck(2, 100, "h2", "", "E"))
	if got := chainLinks(r, grid); !slices.Equal(got, []link{{1, 100, "E", ""}}) {
		t.Fatalf("links %+v", got)
	}
	// A result at the last checkpoint's fuel adds no final link.
	r.Result = result(100, "out")
	if got := chainLinks(r, grid); len(got) != 1 {
		t.Fatalf("links %+v", got)
	}
}

func TestLinkHelpers(t *testing.T) {
	cand := rep(1, "B", result(450, "out"), ck(1, 100, "h1", "", "A"), ck(3, 300, "h3", "", "B"))
	if links(cand) != 3 || linkSeq(cand, 0) != 1 || linkSeq(cand, 1) != 3 || linkSeq(cand, 2) != 4 {
		t.Fatalf("links %d: %d %d %d", links(cand), linkSeq(cand, 0), linkSeq(cand, 1), linkSeq(cand, 2))
	}
	if linkAccount(cand, 1) != "A" || linkAccount(cand, 3) != "B" || linkAccount(cand, 4) != "B" {
		t.Fatal("linkAccount")
	}
	// Grid point 2 lies in the link ending at 3 (2 was skipped).
	if coverSeq(cand, 2) != 3 || coverAccount(cand, 2) != "B" || coverSeq(cand, 4) != 4 || coverSeq(cand, 1) != 1 {
		t.Fatal("coverSeq/coverAccount")
	}
	// An audit starting at grid point 2 (from checkpoint 1) checks the
	// candidate's link 1→3; one past the last checkpoint, the final link.
	audit := &store.ReplicaInfo{Role: store.RoleAudit, AuditSeq: 2}
	if auditLink(audit, cand) != 3 {
		t.Fatalf("auditLink %d", auditLink(audit, cand))
	}
	audit.AuditSeq = 4
	if auditLink(audit, cand) != 4 {
		t.Fatalf("final auditLink %d", auditLink(audit, cand))
	}
	if ownLink(audit, 3) || !ownLink(audit, 4) {
		t.Fatal("ownLink")
	}
	if got := accountsOf(cand); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("accountsOf %v", got)
	}
	banned := map[string]bool{"A": true}
	if taintedBy(cand, banned) != "A" || taintedBy(cand, nil) != "" || taintedBy(rep(2, "C", nil, ck(1, 1, "", "", "C")), banned) != "" {
		t.Fatal("taintedBy")
	}
	if taintedBy(rep(3, "A", result(1, "")), banned) != "A" || taintedBy(rep(3, "A", nil), banned) != "" {
		t.Fatal("taintedBy: the final holder counts once it reported")
	}
}

func TestAuditDone(t *testing.T) {
	of := rep(1, "A", nil, ck(1, 100, "h1", "", "A"), ck(2, 200, "h2", "", "A"), ck(4, 400, "h4", "", "A"))
	a := &store.ReplicaInfo{Role: store.RoleAudit, AuditOf: 1, AuditSeq: 3, Account: "X",
		Checkpoints: []*store.Checkpoint{ck(1, 100, "h1", "", "A"), ck(2, 200, "h2", "", "A")}} // copies
	if auditDone(a, of) {
		t.Fatal("an audit with only its copies is not done")
	}
	a.Checkpoints = append(a.Checkpoints, ck(3, 300, "h3", "", "X")) // of skipped 3
	if auditDone(a, of) {
		t.Fatal("the audited replica has no checkpoint 3 to compare with")
	}
	a.Checkpoints = append(a.Checkpoints, ck(4, 400, "h4", "", "X"))
	if !auditDone(a, of) {
		t.Fatal("the audit reached the audited link's end (4)")
	}
	// The final link: both results.
	fin := &store.ReplicaInfo{Role: store.RoleAudit, AuditOf: 1, AuditSeq: 5, Account: "X"}
	if auditDone(fin, of) {
		t.Fatal("final audit without results")
	}
	fin.Result, of.Result = result(450, "out"), result(450, "out")
	if !auditDone(fin, of) {
		t.Fatal("final audit with both results")
	}
}

func TestVouchers(t *testing.T) {
	// The candidate: A computed links 1 and 2, B (resuming) 3 and the end;
	// checkpoint 3 was skipped, so B's first link is 2→4.
	cand := rep(1, "B", result(450, "out"), ck(1, 100, "h1", "", "A"), ck(2, 200, "h2", "", "A"), ck(4, 400, "h4", "", "B"))
	partner := rep(2, "P", result(450, "out"), ck(1, 100, "h1", "", "P"), ck(2, 200, "h2", "", "P"), ck(3, 300, "h3", "", "P"), ck(4, 400, "h4", "", "P"))
	got := vouchers(cand, []*store.ReplicaInfo{partner})
	want := map[uint64][]string{1: {"A", "P"}, 2: {"A", "P"}, 4: {"B", "P"}, 5: {"B", "P"}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("partner: %v, want %v", got, want)
	}
	// An audit of the link 2→4 (from checkpoint 2, starting at grid point
	// 3): its copies are A's, its own first checkpoint (4) is X's.
	audit := &store.ReplicaInfo{ID: 3, Role: store.RoleAudit, AuditOf: 1, AuditSeq: 3, Account: "X",
		Checkpoints: []*store.Checkpoint{ck(1, 100, "h1", "", "A"), ck(2, 200, "h2", "", "A"), ck(4, 400, "h4", "", "X")}}
	// An audit of the final link, by Y, with no checkpoint of its own.
	final := &store.ReplicaInfo{ID: 4, Role: store.RoleAudit, AuditOf: 1, AuditSeq: 5, Account: "Y", Result: result(450, "out")}
	got = vouchers(cand, []*store.ReplicaInfo{audit, final})
	want = map[uint64][]string{4: {"B", "X"}, 5: {"B", "Y"}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("audits: %v, want %v", got, want)
	}
	// The candidate's own account vouching twice is listed once.
	self := rep(5, "B", result(450, "out"), ck(4, 400, "h4", "", "B"))
	if got := vouchers(cand, []*store.ReplicaInfo{self}); !slices.Equal(got[4], []string{"B"}) {
		t.Fatalf("self: %v", got)
	}
}
