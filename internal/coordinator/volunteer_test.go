package coordinator_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
)

func getBoard(t *testing.T, e *env, query string) *api.Leaderboard {
	t.Helper()
	resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/leaderboard"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/leaderboard%s: %d %s", query, resp.StatusCode, body)
	}
	checkSchema(t, loadOpenAPI(t, e.srv.URL), "Leaderboard", body)
	var b api.Leaderboard
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

// creditEvents opens GET /v1/credit/events and returns the versions its
// events carry, as they come.
func creditEvents(t *testing.T, e *env) <-chan int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/v1/credit/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /v1/credit/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan int64, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok && event == "credit" {
				var m struct{ Version int64 }
				if json.Unmarshal([]byte(d), &m) == nil {
					out <- m.Version
				}
			}
		}
	}()
	return out
}

// GET /v1/leaderboard ranks the ledger's standing credit, all time and
// over the last 7 days (by the coordinator's clock), for accounts and
// sites: equal credit shares a rank, a banned account and a revoked grant
// count for nothing, limit bounds the rows but not the count. A change of
// the ledger is announced on /v1/credit/events, and the board and
// /v1/volunteers/{account} show it when the event says so.
func TestLeaderboardAPI(t *testing.T) {
	today := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *coordinator.Config) { c.Now = func() time.Time { return today } })
	ctx := context.Background()
	grant := func(account, site, day string, fuel uint64) store.LedgerEntry {
		return store.LedgerEntry{Kind: store.LedgerGrant, Account: account, Site: site, JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: fuel, Day: unixDay(day), At: today}
	}
	granted, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		grant("carol", "", "2024-03-01", 100),
		grant("carol", "example.org", "2024-03-09", 50),
		grant("dave", "example.org", "2024-03-09", 400),
		grant("dave", "", "2024-03-10", 7),
		grant("erin", "", "2024-03-02", 300),
		grant("frank", "", "2024-03-03", 150), // out of the last 7 days (Mar 4–10)
		grant("mallory", "other.example", "2024-03-09", 999),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		{Kind: store.LedgerRevoke, Account: "erin", JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: 300, Ref: granted[4].Seq, Day: unixDay("2024-03-02"), At: today, Reason: "test"},
		{Kind: store.LedgerBan, Account: "mallory", At: today, Reason: "caught"},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.AccountAddParams{{ID: "carol", Verified: 12, AuditsPassed: 3}, {ID: "dave", Verified: 30}, {ID: "erin", Verified: 1},
		{ID: "frank", Verified: 2}, {ID: "mallory", Verified: 5, LiesCaught: 1, Ban: true}} {
		a.Now = today
		if _, err := e.db.AccountAdd(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	events := creditEvents(t, e)

	type row struct {
		rank    int
		account string
		credit  uint64
	}
	rows := func(b *api.Leaderboard) (out []row) {
		for _, a := range b.Accounts {
			out = append(out, row{a.Rank, a.Account, a.Credit})
		}
		return out
	}
	all := getBoard(t, e, "")
	if want := []row{{1, "dave", 407}, {2, "carol", 150}, {2, "frank", 150}}; !slices.Equal(rows(all), want) || all.AccountsRanked != 3 || all.Period != "all" || all.Version != 9 {
		t.Fatalf("all time: %+v (ranked %d, version %d), want %+v", rows(all), all.AccountsRanked, all.Version, want)
	}
	week := getBoard(t, e, "?period=7d")
	if want := []row{{1, "dave", 407}, {2, "carol", 50}}; !slices.Equal(rows(week), want) || week.Since != "2024-03-04" {
		t.Fatalf("last 7 days: %+v since %s, want %+v", rows(week), week.Since, want)
	}
	if len(all.Sites) != 1 || all.Sites[0] != (api.RankedSite{Rank: 1, Site: "example.org", Credit: 450, Accounts: 2}) || all.SitesRanked != 1 {
		t.Fatalf("sites: %+v: the banned account's site has nothing standing", all.Sites)
	}
	if one := getBoard(t, e, "?limit=1&period=all"); len(one.Accounts) != 1 || one.AccountsRanked != 3 {
		t.Fatalf("limit=1: %+v", one)
	}
	for _, q := range []string{"?period=month", "?limit=0", "?limit=501", "?limit=x", "?top=3", "?period=all&period=7d"} {
		if resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/leaderboard"+q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /v1/leaderboard%s: %d %s, want 400", q, resp.StatusCode, body)
		}
	}

	vol := func(account string) (int, *api.Volunteer) {
		resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/volunteers/"+account)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		checkSchema(t, loadOpenAPI(t, e.srv.URL), "Volunteer", body)
		var v api.Volunteer
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, &v
	}
	_, carol := vol("carol")
	if carol.Credit != 150 || carol.Week != 50 || carol.RankAll != 2 || carol.RankWeek != 2 || carol.Ranked != 3 || carol.Today != "2024-03-10" ||
		!slices.Equal(carol.Days, []api.DayCredit{{Day: "2024-03-01", Fuel: 100}, {Day: "2024-03-09", Fuel: 50}}) ||
		!slices.Equal(carol.Sites, []api.VolunteerSite{{Site: "example.org", Fuel: 50}}) || carol.Verified != 12 {
		t.Errorf("carol: %+v", carol)
	}
	if _, m := vol("mallory"); m == nil || !m.Banned || m.Credit != 0 || m.RankAll != 0 || len(m.Days) != 0 {
		t.Errorf("mallory (banned): %+v", m)
	}
	if code, _ := vol("nobody"); code != http.StatusNotFound {
		t.Errorf("an account never seen: %d, want 404", code)
	}

	// The stream says the version at once; dave is then caught: his
	// grants revoked, a ban. The next event carries the new version and
	// the board, read then, shows it.
	if v := <-events; v != 9 {
		t.Fatalf("first event: version %d, want 9", v)
	}
	ds, err := e.db.LedgerList(ctx, &store.LedgerListParams{Account: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	var caught []store.LedgerEntry
	for _, g := range ds {
		caught = append(caught, store.LedgerEntry{Kind: store.LedgerRevoke, Account: "dave", Site: g.Site, JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: g.Fuel, Ref: g.Seq, Day: g.Day, At: today, Reason: "caught"})
	}
	caught = append(caught, store.LedgerEntry{Kind: store.LedgerBan, Account: "dave", At: today, Reason: "caught"})
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: caught}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: "dave", LiesCaught: 1, Ban: true, Now: today}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-events:
		if v != 12 {
			t.Fatalf("event after the ban: version %d, want 12", v)
		}
	case <-time.After(hangGuard):
		t.Fatal("no event after the ledger moved")
	}
	all = getBoard(t, e, "")
	if want := []row{{1, "carol", 150}, {1, "frank", 150}}; !slices.Equal(rows(all), want) || all.Version != 12 {
		t.Fatalf("after dave's ban: %+v (version %d), want %+v", rows(all), all.Version, want)
	}
	if len(all.Sites) != 1 || all.Sites[0].Credit != 50 || all.Sites[0].Accounts != 1 {
		t.Fatalf("example.org after dave's ban: %+v", all.Sites)
	}
	if _, d := vol("dave"); d == nil || !d.Banned || d.Credit != 0 {
		t.Errorf("dave after the ban: %+v", d)
	}
}

// GET /v1/contribute/me for a worker with no session: its account is
// anon:NAME, nothing runs, and its credit is the account's on the board;
// for a native worker running a task, the lease it holds, advancing.
func TestContributeMeAPI(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	now := time.Now()
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{
		{Kind: store.LedgerGrant, Account: "anon:browser-0123456789abcdef", JobID: 1, TaskID: 1, ReplicaID: 1, Link: 1, Fuel: 3200, Day: now.Unix() / 86400, At: now},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: "anon:browser-0123456789abcdef", Verified: 1, Now: now}); err != nil {
		t.Fatal(err)
	}
	resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/contribute/me?worker=browser-0123456789abcdef")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	checkSchema(t, loadOpenAPI(t, e.srv.URL), "Contributor", body)
	var me api.Contributor
	if err := json.Unmarshal(body, &me); err != nil {
		t.Fatal(err)
	}
	if me.Account != "anon:browser-0123456789abcdef" || me.Connected || len(me.Running) != 0 || me.Credit == nil || me.Credit.Credit != 3200 || me.Credit.RankAll != 1 {
		t.Fatalf("me: %s", body)
	}
	_, body = httpDo(t, http.MethodGet, e.srv.URL+"/v1/contribute/me?worker=browser-ffffffffffffffff")
	if err := json.Unmarshal(body, &me); err != nil || me.Credit != nil || me.Account != "anon:browser-ffffffffffffffff" {
		t.Fatalf("a worker with no credit: %s", body)
	}
	// A native worker running a long task (10^18 + 3 is a prime: billions
	// of fuel): /v1/contribute/me names its account, the part and job of
	// the lease it holds, and the fuel its heartbeats report, growing.
	req := factorJob(t)
	req.Tasks = []api.TaskSpec{{Stdin: []byte("12\n")}, {Stdin: []byte("1000000000000000003\n")}}
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.startWorker("w-me", 1)
	var seen []uint64
	deadline := time.Now().Add(hangGuard)
	for len(seen) < 2 {
		_, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/contribute/me?worker=w-me")
		var m api.Contributor
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Running) == 1 && m.Running[0].Part == 2 && m.Running[0].Fuel > 0 {
			r := m.Running[0]
			if !m.Connected || m.Account != "anon:w-me" || r.JobID != job.ID || r.Parts != 2 || r.Owner != "alice" || (r.FuelLimit != 0 && r.Fuel > r.FuelLimit) {
				t.Fatalf("w-me: %s", body)
			}
			if len(seen) == 0 || r.Fuel > seen[len(seen)-1] {
				seen = append(seen, r.Fuel)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("w-me never seen running part 2 of job %d, advancing: %s (seen %v)", job.ID, body, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.alice.Cancel(ctx, job.ID); err != nil {
		t.Fatal(err)
	}

	for _, q := range []string{"", "?worker=", "?worker=a&worker=b", "?worker=a&x=1", "?worker=" + strings.Repeat("a", 129)} {
		if resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/contribute/me"+q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /v1/contribute/me%s: %d %s, want 400", q, resp.StatusCode, body)
		}
	}
}

// The leaderboard and the volunteer page run only the inline script and
// style their Content-Security-Policy allows by hash (and, for the
// volunteer page, uPlot from /leaderboard/assets/); names are written as
// text.
func TestVolunteerPages(t *testing.T) {
	e := newEnv(t, nil)
	hash := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
	}
	for _, path := range []string{"/leaderboard", "/volunteer/anon:browser-0123456789abcdef"} {
		resp, body := httpDo(t, http.MethodGet, e.srv.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		page := string(body)
		scripts := regexp.MustCompile(`(?s)<script type="module">(.*?)</script>`).FindAllStringSubmatch(page, -1)
		styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
		if len(scripts) != 1 || len(styles) != 1 {
			t.Fatalf("%s: %d inline scripts and %d styles, want one each", path, len(scripts), len(styles))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", hash(scripts[0][1]), hash(styles[0][1]), "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(page, "{{") || strings.Contains(scripts[0][1], "innerHTML") {
			t.Errorf("%s: CSP %q or the page is not as built", path, csp)
		}
	}
	for _, f := range []string{"uPlot.iife.min.js", "uPlot.min.css"} {
		if resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/leaderboard/assets/"+f); resp.StatusCode != http.StatusOK || len(body) < 1000 {
			t.Errorf("GET /leaderboard/assets/%s: %d, %d bytes", f, resp.StatusCode, len(body))
		}
	}
	if resp, _ := httpDo(t, http.MethodGet, e.srv.URL+"/leaderboard/assets/LICENSE"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /leaderboard/assets/LICENSE: %d, want 404", resp.StatusCode)
	}
	_, index := httpDo(t, http.MethodGet, e.srv.URL+"/")
	if !strings.Contains(string(index), `href="/leaderboard"`) {
		t.Errorf("GET / does not link the leaderboard")
	}
}

// BenchmarkLeaderboard: the cost of the public board with 10,000 accounts
// of 7 days of grants each (70,000 grants). "rebuild": a grant appended,
// then GET /v1/leaderboard (the head moved, so the ledger is summed again);
// "cached": GET /v1/leaderboard with nothing new (served from memory, the
// head read at most every 2 s); "v1-credit": GET /v1/credit, which sums
// the ledger for each request, side by side.
func BenchmarkLeaderboard(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	now := time.Now()
	today := now.Unix() / 86400
	const accounts, days = 10000, 7
	var es []store.LedgerEntry
	for a := range accounts {
		for d := range days {
			es = append(es, store.LedgerEntry{Kind: store.LedgerGrant, Account: "anon:w" + strconv.Itoa(a), JobID: 1, TaskID: int64(a), ReplicaID: 1,
				Link: uint64(d), Fuel: uint64(1000 + a + d), Day: today - int64(d), At: now})
		}
		if _, err := e.db.AccountAdd(ctx, &store.AccountAddParams{ID: "anon:w" + strconv.Itoa(a), Verified: days, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: es}); err != nil {
		b.Fatal(err)
	}
	get := func() {
		resp, err := http.Get(e.srv.URL + "/v1/leaderboard?limit=100")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /v1/leaderboard: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	get()
	b.Run("rebuild", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			if _, err := e.db.LedgerAppend(ctx, &store.LedgerAppendParams{Entries: []store.LedgerEntry{{Kind: store.LedgerGrant, Account: "anon:w1",
				JobID: 2, TaskID: int64(i), ReplicaID: 1, Fuel: 1, Day: today, At: now}}}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(2100 * time.Millisecond) // past boardTTL: the next GET reads the head
			b.StartTimer()
			get()
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			get()
		}
	})
	// What every reader would cost without the board: /v1/credit sums the
	// ledger on each request.
	b.Run("v1-credit", func(b *testing.B) {
		for b.Loop() {
			resp, err := http.Get(e.srv.URL + "/v1/credit")
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("GET /v1/credit: %v %v", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
