package coordinator_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
)

// A submission's max_error: absent is the default, (0, 1] is kept, anything
// else is refused with a message that names the field. The job shows it in
// its trust, and the Job matches the schema.
func TestSubmitMaxError(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	doc := loadOpenAPI(t, e.srv.URL)
	for _, tc := range []struct{ give, want float64 }{{0, store.DefaultMaxError}, {0.01, 0.01}, {1, 1}, {1e-12, 1e-12}} {
		req := echoJob(t, 1, 1)
		req.MaxError = tc.give
		job, err := e.alice.Submit(ctx, req)
		if err != nil {
			t.Fatalf("max_error %g: %v", tc.give, err)
		}
		if job.Trust.MaxError != tc.want {
			t.Errorf("max_error %g: submitted job says %g, want %g", tc.give, job.Trust.MaxError, tc.want)
		}
		got, err := e.alice.Job(ctx, job.ID)
		if err != nil || got.Trust.MaxError != tc.want || got.Trust.Verified != 0 || got.Trust.Verifying != 0 {
			t.Errorf("max_error %g: GET job trust %+v, %v", tc.give, got.Trust, err)
		}
		b, _ := json.Marshal(got)
		checkSchema(t, doc, "Job", b)
	}
	for _, bad := range []float64{-1e-6, 1.0000001, 2, math.Inf(1)} {
		req := echoJob(t, 1, 1)
		req.MaxError = bad
		_, err := e.alice.Submit(ctx, req)
		if math.IsInf(bad, 0) {
			// encoding/json cannot send it: the client refuses, nothing reaches the server.
			if err == nil {
				t.Errorf("max_error %g: submitted", bad)
			}
			continue
		}
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Err.Code != api.CodeBadRequest || !strings.Contains(ae.Err.Message, `"max_error" must be greater than 0 and at most 1`) {
			t.Errorf("max_error %g: %v, want 400 naming max_error", bad, err)
		}
	}
	jobs, err := e.alice.Jobs(ctx)
	if err != nil || len(jobs) != 4 {
		t.Fatalf("jobs after the refused submissions: %d %v", len(jobs), err)
	}
}

// A volunteer's token authenticates workers, not API requests: it cannot
// submit, nor read its owner's jobs.
func TestVolunteerTokenRefusedByAPI(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, kind := range []string{store.TokenVolunteer, store.TokenTrusted} {
		secret := "tok-" + kind
		if _, err := e.db.TokenInsert(ctx, &store.TokenInsertParams{Kind: kind, Owner: "alice", Name: kind, Hash: coordinator.HashToken(secret), Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
		c := &api.Client{Server: e.srv.URL, Token: secret}
		_, err := c.Submit(ctx, echoJob(t, 1, 1))
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !strings.Contains(ae.Err.Message, "this is a "+kind+" token") {
			t.Errorf("%s token submitting: %v", kind, err)
		}
		if _, err := c.Jobs(ctx); !isAPIError(err, http.StatusUnauthorized) {
			t.Errorf("%s token listing jobs: %v", kind, err)
		}
	}
	if jobs, err := e.alice.Jobs(ctx); err != nil || len(jobs) != 0 {
		t.Fatalf("alice's jobs: %d %v", len(jobs), err)
	}
}

func getCredit(t *testing.T, e *env, query string) (int, *api.Credit, []byte) {
	t.Helper()
	resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/credit"+query)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, body
	}
	checkSchema(t, loadOpenAPI(t, e.srv.URL), "Credit", body)
	var c api.Credit
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, &c, body
}

func unixDay(s string) int64 {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d.Unix() / 86400
}

// GET /v1/credit is public: every account's standing credit from the
// ledger, most first, by day earned; a revoked grant counts for nothing, and
// a banned account shows none whatever the ledger still holds.
func TestCredit(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	now := time.Now()
	grant := func(account, day string, fuel uint64) store.LedgerEntry {
		return store.LedgerEntry{Kind: store.LedgerGrant, Account: account, JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: fuel, Day: unixDay(day), At: now}
	}
	granted, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		grant("carol", "2024-03-01", 100),
		grant("carol", "2024-03-09", 50),
		grant("dave", "2024-03-09", 400),
		grant("dave", "2024-03-10", 7),
		grant("erin", "2024-03-02", 300),
		grant("mallory", "2024-03-09", 999),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// One of erin's grants revoked (its link was re-verified and found to
	// rest on a liar's state); mallory banned, her grant still in the
	// ledger.
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		{Kind: store.LedgerRevoke, Account: "erin", JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: 300, Ref: granted[4].Seq, Day: unixDay("2024-03-02"), At: now, Reason: "test"},
		{Kind: store.LedgerBan, Account: "mallory", At: now, Reason: "caught"},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.AccountAddParams{
		{ID: "carol", Verified: 12, AuditsPassed: 3},
		{ID: "dave", Verified: 30, AuditsPassed: 1},
		{ID: "erin", Verified: 1},
		{ID: "mallory", Verified: 5, LiesCaught: 1, Ban: true},
		{ID: "anon:idle"},
	} {
		a.Now = now
		if _, err := e.db.AccountAdd(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}

	code, all, body := getCredit(t, e, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/credit: %d %s", code, body)
	}
	type row struct {
		account string
		total   uint64
		days    []api.DayCredit
		banned  bool
	}
	var got []row
	for _, a := range all.Accounts {
		got = append(got, row{a.Account, a.Total, a.Days, a.Banned})
	}
	want := []row{
		{"dave", 407, []api.DayCredit{{Day: "2024-03-09", Fuel: 400}, {Day: "2024-03-10", Fuel: 7}}, false},
		{"carol", 150, []api.DayCredit{{Day: "2024-03-01", Fuel: 100}, {Day: "2024-03-09", Fuel: 50}}, false},
		{"anon:idle", 0, nil, false},
		{"erin", 0, nil, false},
		{"mallory", 0, nil, true},
	}
	if !slices.EqualFunc(got, want, func(a, b row) bool {
		return a.account == b.account && a.total == b.total && slices.Equal(a.days, b.days) && a.banned == b.banned
	}) {
		t.Fatalf("GET /v1/credit:\n got %+v\nwant %+v", got, want)
	}
	if c := all.Accounts[1]; c.Verified != 12 || c.AuditsPassed != 3 || c.LiesCaught != 0 {
		t.Errorf("carol's record %+v", c)
	}
	if m := all.Accounts[4]; m.Verified != 5 || m.LiesCaught != 1 {
		t.Errorf("mallory's record %+v", m)
	}

	// since: only what was earned that day or later, and the totals with it.
	_, recent, _ := getCredit(t, e, "?since=2024-03-09")
	if len(recent.Accounts) < 2 || recent.Accounts[0].Account != "dave" || recent.Accounts[0].Total != 407 ||
		recent.Accounts[1].Account != "carol" || recent.Accounts[1].Total != 50 || len(recent.Accounts[1].Days) != 1 {
		t.Errorf("since 2024-03-09: %+v", recent.Accounts)
	}
	_, later, _ := getCredit(t, e, "?since=2024-03-10")
	if later.Accounts[0].Account != "dave" || later.Accounts[0].Total != 7 {
		t.Errorf("since 2024-03-10: %+v", later.Accounts)
	}
	// account: that one only, or none for an account never seen.
	_, one, _ := getCredit(t, e, "?account=carol&since=2024-03-02")
	if len(one.Accounts) != 1 || one.Accounts[0].Account != "carol" || one.Accounts[0].Total != 50 || one.Accounts[0].Verified != 12 {
		t.Errorf("account=carol: %+v", one.Accounts)
	}
	_, banned, _ := getCredit(t, e, "?account=mallory")
	if len(banned.Accounts) != 1 || !banned.Accounts[0].Banned || banned.Accounts[0].Total != 0 || banned.Accounts[0].Days != nil {
		t.Errorf("account=mallory: %+v", banned.Accounts)
	}
	// The client, without a token: the same.
	anon := &api.Client{Server: e.srv.URL}
	if c, err := anon.Credit(ctx, "dave", "2024-03-10"); err != nil || len(c.Accounts) != 1 || c.Accounts[0].Total != 7 {
		t.Errorf("Client.Credit(dave, 2024-03-10): %+v %v", c, err)
	}
	if _, err := anon.Credit(ctx, "", "10 March"); !isAPIError(err, http.StatusBadRequest) {
		t.Errorf("Client.Credit(since 10 March): %v", err)
	}
	_, none, body := getCredit(t, e, "?account=nobody")
	if len(none.Accounts) != 0 || !strings.Contains(string(body), `"accounts":[]`) {
		t.Errorf("account=nobody: %s", body)
	}

	for _, bad := range []struct{ query, says string }{
		{"?since=yesterday", "since must be a day YYYY-MM-DD"},
		{"?since=2024-3-9", "since must be a day YYYY-MM-DD"},
		{"?since=2024-03-09&since=2024-03-10", "since is given 2 times"},
		{"?acount=carol", `unknown query parameter "acount"`},
		{"?account=" + strings.Repeat("a", 257), "at most 256 bytes"},
	} {
		code, _, body := getCredit(t, e, bad.query)
		var ae api.Error
		if code != http.StatusBadRequest || json.Unmarshal(body, &ae) != nil || ae.Err.Code != api.CodeBadRequest || !strings.Contains(ae.Err.Message, bad.says) {
			t.Errorf("GET /v1/credit%s: %d %s, want 400 saying %q", bad.query, code, body, bad.says)
		}
	}
}

// GET /v1/credit's sites: each site's standing credit, the sum of the
// grants attributed to it less revocations, with each account's part;
// a banned account's part counts for nothing (as its own credit). The
// filters choose entries, never parts of one: account=A lists A and the
// sites its work is for, site=S lists S and the accounts whose work it is.
func TestCreditSites(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	now := time.Now()
	grant := func(account, site, day string, fuel uint64) store.LedgerEntry {
		return store.LedgerEntry{Kind: store.LedgerGrant, Account: account, Site: site, JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: fuel, Day: unixDay(day), At: now}
	}
	granted, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		grant("anon:browser-1", "example.org", "2024-03-01", 100),
		grant("anon:browser-1", "example.org", "2024-03-09", 50),
		grant("anon:browser-2", "example.org", "2024-03-09", 30),
		grant("carol", "example.org", "2024-03-09", 20), // a token account through the widget
		grant("carol", "", "2024-03-09", 500),           // and on its own
		grant("carol", "other.example", "2024-03-10", 7),
		grant("anon:liar", "example.org", "2024-03-09", 999),
		grant("anon:browser-2", "example.org", "2024-03-10", 40),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// browser-2's day-10 grant revoked (its link re-verified); the liar
	// banned, its grant not yet revoked.
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		{Kind: store.LedgerRevoke, Account: "anon:browser-2", Fuel: 40, Ref: granted[7].Seq, At: now, Reason: "test"},
		{Kind: store.LedgerBan, Account: "anon:liar", At: now, Reason: "caught"},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: "anon:liar", LiesCaught: 1, Ban: true, Now: now}); err != nil {
		t.Fatal(err)
	}

	_, all, body := getCredit(t, e, "")
	type part = api.SiteAccount
	wantSites := []api.SiteCredit{
		{Site: "example.org", Total: 200, Days: []api.DayCredit{{Day: "2024-03-01", Fuel: 100}, {Day: "2024-03-09", Fuel: 100}},
			Accounts: []part{{Account: "anon:browser-1", Fuel: 150}, {Account: "anon:browser-2", Fuel: 30}, {Account: "carol", Fuel: 20}}},
		{Site: "other.example", Total: 7, Days: []api.DayCredit{{Day: "2024-03-10", Fuel: 7}}, Accounts: []part{{Account: "carol", Fuel: 7}}},
	}
	sameSites := func(what string, got, want []api.SiteCredit) {
		t.Helper()
		if !slices.EqualFunc(got, want, func(a, b api.SiteCredit) bool {
			return a.Site == b.Site && a.Total == b.Total && slices.Equal(a.Days, b.Days) && slices.Equal(a.Accounts, b.Accounts)
		}) {
			t.Fatalf("%s: sites\n got %+v\nwant %+v", what, got, want)
		}
	}
	sameSites("GET /v1/credit", all.Sites, wantSites)
	// A token account's part of a site is also its own credit: the site
	// is a view of the grants, not a share taken from them.
	for _, a := range all.Accounts {
		if a.Account == "carol" && a.Total != 527 {
			t.Errorf("carol's credit %d, want 527 (her grants, the site's parts included)", a.Total)
		}
	}
	if !strings.Contains(string(body), `"sites":[`) {
		t.Errorf("body %s", body)
	}

	_, one, _ := getCredit(t, e, "?site=Example.ORG") // lower-cased, as hello is
	sameSites("site=example.org", one.Sites, wantSites[:1])
	var accts []string
	for _, a := range one.Accounts {
		accts = append(accts, a.Account)
	}
	if !slices.Equal(accts, []string{"carol", "anon:browser-1", "anon:browser-2"}) {
		t.Errorf("site=example.org lists accounts %q", accts)
	}
	_, since, _ := getCredit(t, e, "?site=example.org&since=2024-03-09")
	if len(since.Sites) != 1 || since.Sites[0].Total != 100 || len(since.Sites[0].Days) != 1 {
		t.Errorf("site=example.org since 2024-03-09: %+v", since.Sites)
	}
	_, carol, _ := getCredit(t, e, "?account=carol")
	sameSites("account=carol", carol.Sites, wantSites)
	_, b2, _ := getCredit(t, e, "?account=anon:browser-2")
	sameSites("account=anon:browser-2", b2.Sites, wantSites[:1])
	_, none, body := getCredit(t, e, "?site=nobody.example")
	if len(none.Sites) != 0 || len(none.Accounts) != 0 || !strings.Contains(string(body), `"sites":[]`) {
		t.Errorf("site=nobody.example: %s", body)
	}
	anon := &api.Client{Server: e.srv.URL}
	if c, err := anon.SiteCredit(ctx, "other.example", ""); err != nil || len(c.Sites) != 1 || c.Sites[0].Total != 7 {
		t.Errorf("Client.SiteCredit(other.example): %+v %v", c, err)
	}
	for _, bad := range []struct{ query, says string }{
		{"?site=exa%20mple.org", "not a host name"},
		{"?site=example.org.", "not a host name"},
		{"?site=" + strings.Repeat("a", 254), "longer than a host name's 253"},
		{"?site=a.org&site=b.org", "site is given 2 times"},
	} {
		code, _, body := getCredit(t, e, bad.query)
		var ae api.Error
		if code != http.StatusBadRequest || json.Unmarshal(body, &ae) != nil || !strings.Contains(ae.Err.Message, bad.says) {
			t.Errorf("GET /v1/credit%s: %d %s, want 400 saying %q", bad.query, code, body, bad.says)
		}
	}
}
