package coordinator_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// startFor starts a worker whose hello names site ("": none), lying as t
// says (nil: honest); stop ends it and waits.
func (e *env) startFor(name, site string, t worker.Tamper) (stop func()) {
	return e.startConfigured(worker.Config{Name: name, Site: site, Tamper: t}).stop
}

// jobLiar is honest except in the jobs it is told to lie in, where it
// lies in the state at checkpoint 7.
type jobLiar struct {
	liar
	job atomic.Int64
}

func (l *jobLiar) Checkpoint(lease *protocol.Lease, seq uint64, s *snapshot.Snapshot) bool {
	if lease.JobID != l.job.Load() {
		return false
	}
	return l.liar.Checkpoint(lease, seq, s)
}

// siteCredit is site's credit on /v1/credit?site=, and each account's
// part of it (checked to sum to the total).
func siteCredit(t *testing.T, e *env, site string) (total uint64, parts map[string]uint64) {
	t.Helper()
	code, c, body := getCredit(t, e, "?site="+site)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/credit?site=%s: %d %s", site, code, body)
	}
	parts = map[string]uint64{}
	if len(c.Sites) == 0 {
		return 0, parts
	}
	if len(c.Sites) != 1 || c.Sites[0].Site != site {
		t.Fatalf("GET /v1/credit?site=%s lists sites %+v", site, c.Sites)
	}
	var sum uint64
	for _, a := range c.Sites[0].Accounts {
		parts[a.Account] = a.Fuel
		sum += a.Fuel
	}
	if sum != c.Sites[0].Total {
		t.Fatalf("site %s: total %d, its accounts' parts sum to %d", site, c.Sites[0].Total, sum)
	}
	// The accounts listed with the site are the ones whose work it is.
	for _, a := range c.Accounts {
		if _, ok := parts[a.Account]; !ok {
			t.Errorf("GET /v1/credit?site=%s lists account %s, which has no part in it", site, a.Account)
		}
	}
	return c.Sites[0].Total, parts
}

// standingBySite sums the ledger's standing grants per site, recomputed
// from every entry.
func standingBySite(t *testing.T, db store.Store) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, e := range standingGrants(t, db) {
		if e.Site != "" {
			out[e.Site] += e.Fuel
		}
	}
	return out
}

// A site named in hello is credit attribution, never an identity. A liar
// that names example.org earns credit there while it looks honest (its
// first task, replicated and confirmed like any fresh account's), then
// lies in its second and is caught: it is banned, every grant of its is
// revoked, and example.org's credit falls by exactly its part — the site
// itself is not banned, is no account, and vouches for nothing. At every
// step a site's credit is the sum of the standing grants attributed to
// it, and a worker that names no site adds nothing to any.
func TestSiteCredit(t *testing.T) {
	e := newEnv(t, func(c *coordinator.Config) { c.CheckpointEvery = testGrid })
	ctx := context.Background()
	const site = "example.org"
	submit := func() *api.Job {
		req := factorJob(t)
		req.Tasks, req.MaxError = req.Tasks[:1], 0 // verified to 1e-6
		req.Tasks[0].Stdin = []byte(factorInputs[0])
		j, err := e.alice.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	checkSites := func(when string) {
		t.Helper()
		want := standingBySite(t, e.db)
		_, all, _ := getCredit(t, e, "")
		if len(all.Sites) != len(want) {
			t.Fatalf("%s: sites %+v, standing grants by site %v", when, all.Sites, want)
		}
		for _, s := range all.Sites {
			if s.Total != want[s.Site] {
				t.Fatalf("%s: site %s shows %d, its standing grants sum to %d", when, s.Site, s.Total, want[s.Site])
			}
		}
	}

	// Job A: the liar (naming the site in capitals: hello lower-cases it)
	// computes the primary alone, h1 (for the site too) partners it.
	l := &jobLiar{liar: liar{seq: 7}}
	e.startFor("liar", "Example.ORG", l)
	a := submit()
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, a.ID); return j.Tasks.Running == 1 })
	stopH1 := e.startFor("h1", site, nil)
	if r := collect(t, e.alice, a.ID)[0]; r.State != "done" {
		t.Fatalf("job A: %+v", r)
	}
	sess, err := e.db.SessionList(ctx, &store.SessionListParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sess {
		if s.Site != site {
			t.Errorf("session of %s records site %q, want %q", s.Worker, s.Site, site)
		}
	}
	total, parts := siteCredit(t, e, site)
	liarPart := parts["anon:liar"]
	if liarPart == 0 || parts["anon:h1"] == 0 || len(parts) != 2 {
		t.Fatalf("after job A, %s's credit %d is %v: want the liar's and h1's parts", site, total, parts)
	}
	// Both worked for the site only: the site's parts are their whole
	// credit.
	for acct, p := range parts {
		if c := standing(t, e.db, acct); c != p {
			t.Errorf("%s holds %d credit, %d of it for %s", acct, c, p, site)
		}
	}
	checkSites("after job A")

	// Job B: the liar, alone again, takes the primary and lies in it; h1
	// and h2 (which names no site) check it.
	stopH1()
	b := submit()
	l.job.Store(b.ID)
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, b.ID); return j.Tasks.Running == 1 })
	e.startFor("h1", site, nil)
	e.startFor("h2", "", nil)
	if r := collect(t, e.alice, b.ID)[0]; r.State != "done" || slices.Contains(r.Verification.By, "anon:liar") || slices.Contains(r.Verification.By, site) {
		t.Fatalf("job B: %+v", r)
	}
	banned := func(acct string) bool {
		a, err := e.db.AccountGet(ctx, acct)
		return err == nil && !a.BannedAt.IsZero()
	}
	waitFor(t, func() bool { return banned("anon:liar") })
	l.mu.Lock()
	lies := l.lies
	l.mu.Unlock()
	if lies == 0 {
		t.Fatal("the liar never lied")
	}
	// Job A rested on the liar: it is reopened and verified again by the
	// honest accounts.
	waitFor(t, func() bool { j, _ := e.alice.Job(ctx, a.ID); return j.State == "done" && j.Trust.Reopened > 0 })

	total2, parts2 := siteCredit(t, e, site)
	if _, ok := parts2["anon:liar"]; ok || standing(t, e.db, "anon:liar") != 0 {
		t.Fatalf("the caught liar still counts for %s: %v", site, parts2)
	}
	if _, ok := parts2["anon:h2"]; ok {
		t.Fatalf("h2 named no site, yet counts for %s: %v", site, parts2)
	}
	if standing(t, e.db, "anon:h2") == 0 {
		t.Error("h2 earned nothing: the test did not exercise a worker without a site")
	}
	if parts2["anon:h1"] != standing(t, e.db, "anon:h1") || total2 != parts2["anon:h1"] {
		t.Fatalf("%s's credit %d (%v), h1 holds %d", site, total2, parts2, standing(t, e.db, "anon:h1"))
	}
	// The liar's part fell out whole: its revoked grants are all
	// attributed to the site, and sum to what it had there.
	entries, err := e.db.LedgerList(ctx, &store.LedgerListParams{Account: "anon:liar"})
	if err != nil {
		t.Fatal(err)
	}
	var revoked uint64
	for _, en := range entries {
		if en.Kind == store.LedgerRevoke {
			if en.Site != site {
				t.Errorf("the liar's revocation %+v is not attributed to %s", en, site)
			}
			revoked += en.Fuel
		}
	}
	if revoked != liarPart {
		t.Fatalf("the liar's revoked grants sum to %d, its part of %s was %d", revoked, site, liarPart)
	}
	checkSites("after the liar was caught")
	// The site is not an account: nothing about it was banned or
	// recorded as a verifier.
	if _, err := e.db.AccountGet(ctx, site); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the site has an account record: %v", err)
	}
}

// A site that is not a host name is refused in hello, with the protocol
// error saying why; nothing is recorded.
func TestHelloBadSite(t *testing.T) {
	e := newEnv(t, nil)
	for _, bad := range []string{"exa mple.org", "example.org.", "https://example.org", strings.Repeat("a", 64) + ".org"} {
		r := dialRaw(t, e, "")
		r.send(&protocol.Hello{Protocol: protocol.Version, Worker: "w", Slots: 1, Site: bad})
		em, code := r.readClose()
		if em == nil || em.Code != protocol.CodeBadMessage || !strings.Contains(em.Message, "hello: site") || code != websocket.StatusPolicyViolation {
			t.Errorf("site %q: %+v, close %d", bad, em, code)
		}
	}
	if sess, err := e.db.SessionList(context.Background(), &store.SessionListParams{}); err != nil || len(sess) != 0 {
		t.Fatalf("sessions %+v %v", sess, err)
	}
	if _, err := worker.New(worker.Config{Server: e.srv.URL, Name: "w", Site: "not a host"}); err == nil {
		t.Fatal("worker.New accepted a site that is not a host name")
	}
}
