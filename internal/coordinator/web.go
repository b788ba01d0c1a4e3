package coordinator

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/js"
)

// webRoutes adds the pages served to visitors' browsers (the contribute
// page, the embed snippet and the JavaScript runtime), docs/browser.md:
//
//	GET /contribute               the opt-in page (?embed=1: the widget embed.js frames)
//	GET /embed.js                 the snippet a site adds: frames /contribute?embed=1
//	GET /js/...                   the JavaScript host and the browser worker (package js)
//	GET /v1/contribute/summary    public: what would run, for whom
//	GET /v1/contribute/credit     public: a worker's accepted work (?worker=NAME)
//	GET /leaderboard              public: accounts and sites by verified credit (it reads /v1/leaderboard)
//	... and the routes of volunteer.go (newVolunteers): the volunteers' API and pages
func (c *Coordinator) webRoutes() []route {
	jsFS := js.Files
	pub := &publicJobs{c: c}
	return append([]route{
		{"GET", "/contribute", func(w http.ResponseWriter, r *http.Request) {
			isolate(w)
			// The page runs only our own scripts; wasm needs 'wasm-unsafe-eval'.
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")
			serveFile(w, r, jsFS, "browser/contribute.html")
		}},
		{"GET", "/embed.js", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
			w.Header().Set("Cache-Control", "no-cache")
			serveFile(w, r, jsFS, "browser/embed.js")
		}},
		{"GET", "/js/{file...}", func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("file")
			if !servedJS(name) {
				writeError(w, http.StatusNotFound, api.CodeNotFound, "no such file")
				return
			}
			isolate(w)
			w.Header().Set("Cache-Control", "no-cache")
			serveFile(w, r, jsFS, name)
		}},
		{"GET", "/v1/contribute/summary", func(w http.ResponseWriter, r *http.Request) {
			s, err := pub.summary(r)
			if err != nil {
				c.storeError(w, err)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, s)
		}},
		{"GET", "/v1/contribute/credit", c.credit},
		{"GET", "/leaderboard", serveLeaderboard},
	}, newVolunteers(c).routes()...)
}

// isolate sets the headers that make a page cross-origin isolated (so its
// workers get SharedArrayBuffer and Atomics.wait, which the duty cycle uses
// to rest between fuel slices) and lets another origin frame the widget.
func isolate(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
}

// servedJS says whether a file of package js is served to browsers: the
// modules a browser worker imports, not the tests nor the Node commands.
func servedJS(name string) bool {
	if !fs.ValidPath(name) || strings.HasSuffix(name, ".test.js") {
		return false
	}
	dir, file := path.Split(name)
	if dir != "" && dir != "browser/" {
		return false
	}
	return strings.HasSuffix(file, ".js") || strings.HasSuffix(file, ".css")
}

var mimeTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such file")
		return
	}
	if t, ok := mimeTypes[path.Ext(name)]; ok {
		w.Header().Set("Content-Type", t)
	}
	w.Write(b)
}

// PublicSummary is what /contribute shows a visitor before they consent:
// who runs this coordinator and whose work their browser would run. No
// secrets: owners' names, counts and module hashes only.
type PublicSummary struct {
	Coordinator PublicCoordinator `json:"coordinator"`
	Jobs        []PublicJobGroup  `json:"jobs"`
	Workers     int               `json:"workers_connected"`
}

type PublicCoordinator struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// PublicJobGroup is the running jobs of one owner with one module and one
// way of checking results.
type PublicJobGroup struct {
	Owner        string `json:"owner"`
	ModuleHash   string `json:"module_hash"`
	Jobs         int    `json:"jobs"`
	TasksPending int    `json:"tasks_pending"`
	// Verification says in plain words how the jobs' results are checked,
	// as their settings (replicas, max error) make it true — including
	// that they are not checked at all.
	Verification string `json:"verification"`
}

// publicJobs finds the running jobs of every owner. The store lists jobs by
// owner only, so it walks job ids, which the store allocates in increasing
// order: each call re-reads the jobs still running and probes the ids after
// the highest seen, so a call costs the running jobs plus the new ones.
type publicJobs struct {
	c       *Coordinator
	mu      sync.Mutex
	next    int64 // first id not seen yet
	running map[int64]*store.Job
	at      time.Time
	last    *PublicSummary
}

// idGap is how many missing ids in a row end the probe (an id a failed
// insert burnt).
const idGap = 8

func (p *publicJobs) summary(r *http.Request) (*PublicSummary, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A public endpoint: at most one walk per second whoever asks.
	if p.last != nil && time.Since(p.at) < time.Second {
		return p.last, nil
	}
	ctx := r.Context()
	if p.running == nil {
		p.running = map[int64]*store.Job{}
		p.next = 1
	}
	for id := range p.running {
		j, err := p.c.store.JobGet(ctx, &store.JobGetParams{ID: id})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err != nil || j.State != store.JobRunning {
			delete(p.running, id)
		}
	}
	for miss := 0; miss < idGap; {
		id := p.next + int64(miss)
		j, err := p.c.store.JobGet(ctx, &store.JobGetParams{ID: id})
		if errors.Is(err, store.ErrNotFound) {
			miss++
			continue
		}
		if err != nil {
			return nil, err
		}
		p.next, miss = id+1, 0
		if j.State == store.JobRunning {
			p.running[id] = j
		}
	}
	groups := map[[3]string]*PublicJobGroup{}
	for id, j := range p.running {
		counts, err := p.c.store.JobCounts(ctx, id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		v := verificationText(j.Replicas, j.MaxError)
		k := [3]string{j.Owner, j.ModuleHash, v}
		g := groups[k]
		if g == nil {
			g = &PublicJobGroup{Owner: j.Owner, ModuleHash: j.ModuleHash, Verification: v}
			groups[k] = g
		}
		g.Jobs++
		g.TasksPending += counts.TasksPending
	}
	s := &PublicSummary{Coordinator: PublicCoordinator{
		Name:        "crowdrun coordinator at " + r.Host,
		Description: "Runs WebAssembly jobs submitted by this coordinator's users on volunteers' machines, in a sandbox with metered fuel.",
	}, Jobs: []PublicJobGroup{}}
	for _, g := range groups {
		s.Jobs = append(s.Jobs, *g)
	}
	sort.Slice(s.Jobs, func(a, b int) bool {
		if s.Jobs[a].Owner != s.Jobs[b].Owner {
			return s.Jobs[a].Owner < s.Jobs[b].Owner
		}
		if s.Jobs[a].ModuleHash != s.Jobs[b].ModuleHash {
			return s.Jobs[a].ModuleHash < s.Jobs[b].ModuleHash
		}
		return s.Jobs[a].Verification < s.Jobs[b].Verification
	})
	c := p.c
	c.mu.Lock()
	s.Workers = len(c.conns)
	c.mu.Unlock()
	p.last, p.at = s, time.Now()
	return s, nil
}

// verificationText is what a visitor is told of how a job's results are
// checked, in plain words, saying only what its settings make true
// (docs/trust.md, internal/verify):
//   - replicas ≥ 2: every replica is run by a different account and the
//     chains are compared; the first disagreement is re-run on the
//     coordinator (trusted ground), whatever the max error;
//   - one replica, max error < 1: links are audited by other accounts (a
//     partner replica instead where the account is not credible enough),
//     disputes re-run on the coordinator;
//   - one replica, max error 1: the result is accepted as it comes.
func verificationText(replicas int, maxError float64) string {
	switch {
	case replicas > 1:
		return fmt.Sprintf("each result is computed by %d different volunteers and compared; any disagreement is settled by this server running that part itself", replicas)
	case maxError < 1:
		return "results are spot-checked by other volunteers; any disagreement is settled by this server running that part itself"
	default:
		return "results are accepted unchecked: each is what one volunteer's computer reported"
	}
}

// Credit is a worker's record: the segments it completed and their fuel.
type Credit struct {
	Worker    string `json:"worker"`
	Tasks     int    `json:"tasks"`
	Fuel      uint64 `json:"fuel"`
	Sessions  int    `json:"sessions"`
	Connected bool   `json:"connected"`
}

// credit serves GET /v1/contribute/credit?worker=NAME. Worker names are not
// secret (a browser's is a random id it keeps in localStorage).
func (c *Coordinator) credit(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("worker")
	if name == "" || len(name) > 128 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "worker must be a worker name of 1 to 128 bytes")
		return
	}
	st, err := c.store.WorkerStats(r.Context())
	if err != nil {
		c.storeError(w, err)
		return
	}
	out := Credit{Worker: name}
	for _, s := range st {
		if s.Worker == name {
			out = Credit{Worker: name, Tasks: s.Segments, Fuel: s.Fuel, Sessions: s.Sessions, Connected: s.Open > 0}
			break
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, &out)
}

// serveIndex is GET /: what a person who opens the coordinator's address
// can look at.
func serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'")
	w.Write(indexHTML)
}

var indexHTML = []byte(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>crowdrun coordinator</title></head>
<body>
<h1>crowdrun coordinator</h1>
<p>This server runs WebAssembly jobs on volunteers' machines.</p>
<ul>
<li><a href="/contribute">/contribute</a>: let this browser run tasks, and see what would run and for whom</li>
<li><a href="/dashboard">/dashboard</a>: your jobs, their progress, plots and results (sign in with an API token)</li>
<li><a href="/leaderboard">/leaderboard</a>: volunteers' accounts by verified credit (<a href="/v1/credit">/v1/credit</a> as JSON)</li>
<li><a href="/v1/openapi.json">/v1/openapi.json</a>: the HTTP API (OpenAPI 3.1); jobs are submitted with an API token</li>
<li><a href="/v1/contribute/summary">/v1/contribute/summary</a>: the running jobs, as JSON</li>
<li><a href="/healthz">/healthz</a>: health check</li>
</ul>
</body>
</html>
`)

// maxCreditAccounts bounds the accounts GET /v1/credit reads.
const maxCreditAccounts = 100000

// creditList serves GET /v1/credit[?account=A][&site=S][&since=YYYY-MM-DD]:
// every account's standing credit (the grid fuel of its verified links,
// less what was revoked), most first, with what it earned each day; and
// every site's, the part of it done under the site's name. Public, as the
// leaderboard is: accounts are volunteers' names or "anon:" + a worker's
// name, sites are host names, never secrets.
func (c *Coordinator) creditList(w http.ResponseWriter, r *http.Request) {
	q, err := creditQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	out, err := c.creditView(r.Context(), q)
	if err != nil {
		c.storeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// creditFilter is /v1/credit's query.
type creditFilter struct {
	account string // "": every account
	site    string // "": every site
	since   int64  // Unix day; math.MinInt64: all time
}

// creditQuery reads /v1/credit's query: account (optional: every
// account), site (optional: every site; a host name, lower-cased as hello
// does) and since (optional: all time), nothing else.
func creditQuery(q url.Values) (creditFilter, error) {
	f := creditFilter{since: math.MinInt64}
	for k, vs := range q {
		if len(vs) != 1 {
			return f, fmt.Errorf("%s is given %d times: give it once", k, len(vs))
		}
		switch v := vs[0]; k {
		case "account":
			if len(v) > 256 {
				return f, errors.New("account must be at most 256 bytes")
			}
			f.account = v
		case "site":
			if v == "" {
				continue
			}
			site, err := protocol.ParseSite(v)
			if err != nil {
				return f, err
			}
			f.site = site
		case "since":
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return f, fmt.Errorf("since must be a day YYYY-MM-DD (UTC), got %q", v)
			}
			f.since = d.Unix() / 86400 // midnight UTC: a whole day
		default:
			return f, fmt.Errorf("unknown query parameter %q: /v1/credit takes account, site and since", k)
		}
	}
	return f, nil
}

func dayString(day int64) string { return time.Unix(day*86400, 0).UTC().Format(time.DateOnly) }

// creditView joins the ledger's sums with the accounts' records. A banned
// account shows no credit, whatever the ledger still holds: its grants are
// revoked with the ban, and none is ever granted again. A site's credit is
// the sum of its accounts' standing grants attributed to it, a banned
// account's counting for nothing there either.
//
// The filters choose entries, never parts of one: account=A lists A and
// the sites its work is attributed to; site=S lists S and the accounts
// whose work it is; each entry with its whole credit (since since).
func (c *Coordinator) creditView(ctx context.Context, f creditFilter) (*api.Credit, error) {
	account, since := f.account, f.since
	rows, err := c.store.CreditList(ctx, &store.CreditListParams{Account: account, SinceDay: since})
	if err != nil {
		return nil, err
	}
	siteRows, err := c.store.SiteCreditList(ctx, &store.SiteCreditListParams{Site: f.site, SinceDay: since})
	if err != nil {
		return nil, err
	}
	accts, err := c.store.AccountList(ctx, &store.AccountListParams{Limit: maxCreditAccounts})
	if err != nil {
		return nil, err
	}
	banned := map[string]bool{}
	for _, ac := range accts {
		if !ac.BannedAt.IsZero() {
			banned[ac.ID] = true
		}
	}
	sites, siteAccounts := siteCredit(siteRows, f, banned)
	byID := map[string]*api.AccountCredit{}
	var order []string
	get := func(id string) *api.AccountCredit {
		a := byID[id]
		if a == nil {
			a = &api.AccountCredit{Account: id}
			byID[id] = a
			order = append(order, id)
		}
		return a
	}
	for _, ac := range accts {
		if account != "" && ac.ID != account {
			continue
		}
		a := get(ac.ID)
		a.Verified, a.AuditsPassed, a.LiesCaught, a.Banned = ac.Verified, ac.AuditsPassed, ac.LiesCaught, !ac.BannedAt.IsZero()
	}
	for _, row := range rows {
		if account != "" && row.Account != account {
			continue // the store was asked for one account: never show another
		}
		if row.Day < since || row.Fuel == 0 {
			continue
		}
		a := get(row.Account)
		a.Total += row.Fuel
		a.Days = append(a.Days, api.DayCredit{Day: dayString(row.Day), Fuel: row.Fuel})
	}
	out := &api.Credit{Accounts: make([]api.AccountCredit, 0, len(order)), Sites: sites}
	for _, id := range order {
		if f.site != "" && !siteAccounts[id] {
			continue // site=S: only the accounts whose work S's credit is
		}
		a := byID[id]
		if a.Banned {
			a.Total, a.Days = 0, nil
		}
		sort.Slice(a.Days, func(i, j int) bool { return a.Days[i].Day < a.Days[j].Day })
		out.Accounts = append(out.Accounts, *a)
	}
	sort.SliceStable(out.Accounts, func(i, j int) bool {
		a, b := &out.Accounts[i], &out.Accounts[j]
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		return a.Account < b.Account
	})
	return out, nil
}

// siteCredit sums rows (a site's credit per account and day) into each
// site's entry, most first (then by name), leaving out days before
// f.since and banned accounts, and keeping with f.account only the sites
// that account's work is attributed to. It also returns the accounts that
// make the listed sites' credit.
func siteCredit(rows []store.SiteCreditRow, f creditFilter, banned map[string]bool) ([]api.SiteCredit, map[string]bool) {
	type acc struct {
		site  *api.SiteCredit
		days  map[int64]uint64
		parts map[string]uint64
	}
	bySite := map[string]*acc{}
	var order []string
	for _, row := range rows {
		if (f.site != "" && row.Site != f.site) || row.Day < f.since || row.Fuel == 0 || banned[row.Account] {
			continue
		}
		s := bySite[row.Site]
		if s == nil {
			s = &acc{site: &api.SiteCredit{Site: row.Site}, days: map[int64]uint64{}, parts: map[string]uint64{}}
			bySite[row.Site] = s
			order = append(order, row.Site)
		}
		s.site.Total += row.Fuel
		s.days[row.Day] += row.Fuel
		s.parts[row.Account] += row.Fuel
	}
	out := make([]api.SiteCredit, 0, len(order))
	members := map[string]bool{}
	for _, name := range order {
		s := bySite[name]
		if _, ok := s.parts[f.account]; f.account != "" && !ok {
			continue
		}
		days := make([]int64, 0, len(s.days))
		for d := range s.days {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			s.site.Days = append(s.site.Days, api.DayCredit{Day: dayString(d), Fuel: s.days[d]})
		}
		s.site.Accounts = make([]api.SiteAccount, 0, len(s.parts))
		for a, fuel := range s.parts {
			s.site.Accounts = append(s.site.Accounts, api.SiteAccount{Account: a, Fuel: fuel})
			members[a] = true
		}
		sort.Slice(s.site.Accounts, func(i, j int) bool {
			a, b := s.site.Accounts[i], s.site.Accounts[j]
			if a.Fuel != b.Fuel {
				return a.Fuel > b.Fuel
			}
			return a.Account < b.Account
		})
		out = append(out, *s.site)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Site < out[j].Site
	})
	return out, members
}

// The leaderboard: a page and its script, embedded. The script is inlined
// and allowed by its hash, so the page needs no second route and its CSP
// still runs nothing else.
var (
	//go:embed leaderboard.html
	leaderboardTemplate string
	//go:embed leaderboard.js
	leaderboardJS string
	//go:embed leaderboard.css
	leaderboardCSS string

	leaderboardHTML = strings.NewReplacer("{{style}}", leaderboardCSS, "{{script}}", leaderboardJS).Replace(leaderboardTemplate)
	leaderboardCSP  = fmt.Sprintf("default-src 'none'; script-src '%s'; style-src '%s'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		cspHash(leaderboardJS), cspHash(leaderboardCSS))
)

func cspHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

func serveLeaderboard(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", leaderboardCSP)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write([]byte(leaderboardHTML))
}
