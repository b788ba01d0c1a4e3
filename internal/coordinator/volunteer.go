package coordinator

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/uplot"
)

// The volunteers' side of the credit ledger (docs/volunteers.md):
//
//	GET /v1/leaderboard               public: accounts and sites ranked, all time or the last 7 days
//	GET /v1/volunteers/{account}      public: one account's credit, ranks and days
//	GET /v1/credit/events             public: server-sent events, one per change of the ledger
//	GET /v1/contribute/me?worker=N    public: what a worker runs now, and its account's credit
//	GET /volunteer/{account}          the volunteer's page: credit over time (uPlot)
//	GET /leaderboard/assets/{name}    uPlot, for the volunteer page
//
// Every public read is served from one board: the whole ledger summed
// once (creditView) for whoever and however many ask, and summed again only
// when the ledger moved (or the day changed), which is checked at most once
// per boardTTL by reading the ledger's head. The pages' live updates are
// events that only say "the ledger moved" — readers then fetch the board
// from memory.

const (
	// boardTTL: how long a board is served without checking the ledger's
	// head.
	boardTTL = 2 * time.Second
	// boardPoll: how often the ledger's head is read while anyone listens
	// to /v1/credit/events.
	boardPoll = time.Second
	// maxBoardRows bounds /v1/leaderboard's limit; defaultBoardRows is
	// its default.
	maxBoardRows     = 500
	defaultBoardRows = 100
	// maxCreditListeners bounds the open /v1/credit/events streams.
	maxCreditListeners = 1024
	// eventKeepAlive: a comment this often keeps idle proxies from
	// closing the stream.
	eventKeepAlive = 20 * time.Second
	// ledgerPage: entries read per query when catching up with the head.
	ledgerPage = 4096
)

// board is one summing of the ledger, ranked both ways.
type board struct {
	version int64     // the last ledger seq seen before it was summed
	at      time.Time // by the coordinator's clock (Config.Now)
	built   time.Time // by the wall clock: its age
	today   int64     // Unix day
	since   int64     // first day of the last 7
	all     []api.RankedAccount
	week    []api.RankedAccount
	sitesA  []api.RankedSite
	sitesW  []api.RankedSite
	byAcct  map[string]*api.Volunteer
}

// volunteers serves the routes above; one per Handler.
type volunteers struct {
	c *Coordinator

	mu       sync.Mutex // held while a board is built or the head read: readers share one build
	cur      *board
	polledAt time.Time
	// head is the ledger's last entry seen (written under mu): a board
	// older than it is rebuilt.
	head atomic.Int64

	lmu       sync.Mutex
	listeners int
	changed   chan struct{} // closed and replaced when head moves

	jmu  sync.Mutex
	jobs map[int64]*store.Job // owner and task count of jobs leased to watched workers

	imu      sync.Mutex
	byWorker map[string][]*conn // the connections by worker name, as of indexAt
	indexAt  time.Time
}

func newVolunteers(c *Coordinator) *volunteers {
	return &volunteers{c: c, changed: make(chan struct{}), jobs: map[int64]*store.Job{}}
}

func (v *volunteers) routes() []route {
	return []route{
		{"GET", "/v1/leaderboard", v.leaderboard},
		{"GET", "/v1/volunteers/{account}", v.volunteer},
		{"GET", "/v1/credit/events", v.events},
		{"GET", "/v1/contribute/me", v.me},
		{"GET", "/volunteer/{account}", serveVolunteerPage},
		{"GET", "/leaderboard/assets/{name}", serveBoardAsset},
	}
}

// get returns a board checked against the ledger at most boardTTL ago,
// or newer when the ledger moved since (poll saw it). A board is summed
// again only when the ledger moved or the day changed: otherwise checking
// costs one read of the ledger's head.
func (v *volunteers) get(ctx context.Context) (*board, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur := v.cur
	if cur != nil && cur.version >= v.head.Load() && time.Since(cur.built) < boardTTL {
		return cur, nil
	}
	head, err := v.ledgerHead(ctx, v.head.Load())
	if err != nil {
		return nil, err
	}
	v.advance(head)
	now := v.c.cfg.Now()
	if cur != nil && cur.version >= head && now.Unix()/86400 == cur.today {
		// Readers may hold cur: a copy, with the time of this check.
		b := *cur
		b.at, b.built = now, time.Now()
		v.cur = &b
		return v.cur, nil
	}
	return v.build(ctx, head)
}

// build sums the ledger into a new board; v.mu held. head was read first,
// so the board holds at least every entry up to it.
func (v *volunteers) build(ctx context.Context, head int64) (*board, error) {
	credit, err := v.c.creditView(ctx, creditFilter{since: math.MinInt64})
	if err != nil {
		return nil, err
	}
	now := v.c.cfg.Now()
	b := &board{version: head, at: now, built: time.Now(), today: now.Unix() / 86400, byAcct: map[string]*api.Volunteer{}}
	b.since = b.today - 6
	from := dayString(b.since)
	var weeks []uint64
	for i := range credit.Accounts {
		a := &credit.Accounts[i]
		vol := &api.Volunteer{Account: a.Account, Credit: a.Total, Since: from, Today: dayString(b.today),
			Verified: a.Verified, AuditsPassed: a.AuditsPassed, LiesCaught: a.LiesCaught, Banned: a.Banned,
			Days: a.Days, Sites: []api.VolunteerSite{}, Version: head}
		if vol.Days == nil {
			vol.Days = []api.DayCredit{}
		}
		for _, d := range a.Days {
			if d.Day >= from {
				vol.Week += d.Fuel
			}
		}
		b.byAcct[a.Account] = vol
		weeks = append(weeks, vol.Week)
	}
	// Ranks: credit.Accounts is sorted by total, most first, then name.
	b.all = rankAccounts(credit.Accounts, func(i int) uint64 { return credit.Accounts[i].Total })
	idx := make([]int, len(credit.Accounts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return weeks[idx[i]] > weeks[idx[j]] })
	sorted := make([]api.AccountCredit, len(idx))
	sortedWeeks := make([]uint64, len(idx))
	for i, k := range idx {
		sorted[i], sortedWeeks[i] = credit.Accounts[k], weeks[k]
	}
	b.week = rankAccounts(sorted, func(i int) uint64 { return sortedWeeks[i] })
	for _, r := range b.all {
		b.byAcct[r.Account].RankAll = r.Rank
	}
	for _, r := range b.week {
		b.byAcct[r.Account].RankWeek = r.Rank
	}
	for _, vol := range b.byAcct {
		vol.Ranked = len(b.all)
	}
	// Sites, both ways, and each account's part of each.
	var siteWeeks []uint64
	for _, s := range credit.Sites {
		var w uint64
		for _, d := range s.Days {
			if d.Day >= from {
				w += d.Fuel
			}
		}
		siteWeeks = append(siteWeeks, w)
		for _, p := range s.Accounts {
			if vol := b.byAcct[p.Account]; vol != nil {
				vol.Sites = append(vol.Sites, api.VolunteerSite{Site: s.Site, Fuel: p.Fuel})
			}
		}
	}
	b.sitesA = rankSites(credit.Sites, func(i int) uint64 { return credit.Sites[i].Total })
	sidx := make([]int, len(credit.Sites))
	for i := range sidx {
		sidx[i] = i
	}
	sort.SliceStable(sidx, func(i, j int) bool { return siteWeeks[sidx[i]] > siteWeeks[sidx[j]] })
	ssorted := make([]api.SiteCredit, len(sidx))
	sweeks := make([]uint64, len(sidx))
	for i, k := range sidx {
		ssorted[i], sweeks[i] = credit.Sites[k], siteWeeks[k]
	}
	b.sitesW = rankSites(ssorted, func(i int) uint64 { return sweeks[i] })
	v.cur = b
	return b, nil
}

// rankAccounts ranks accounts already sorted by credit(i), most first,
// leaving out those with none (banned accounts among them). Equal credit
// shares a rank (1, 2, 2, 4).
func rankAccounts(accts []api.AccountCredit, credit func(i int) uint64) []api.RankedAccount {
	out := []api.RankedAccount{}
	for i, a := range accts {
		c := credit(i)
		if c == 0 || a.Banned {
			continue
		}
		rank := len(out) + 1
		if n := len(out); n > 0 && out[n-1].Credit == c {
			rank = out[n-1].Rank
		}
		out = append(out, api.RankedAccount{Rank: rank, Account: a.Account, Credit: c, Verified: a.Verified, AuditsPassed: a.AuditsPassed})
	}
	return out
}

func rankSites(sites []api.SiteCredit, credit func(i int) uint64) []api.RankedSite {
	out := []api.RankedSite{}
	for i, s := range sites {
		c := credit(i)
		if c == 0 {
			continue
		}
		rank := len(out) + 1
		if n := len(out); n > 0 && out[n-1].Credit == c {
			rank = out[n-1].Rank
		}
		out = append(out, api.RankedSite{Rank: rank, Site: s.Site, Credit: c, Accounts: len(s.Accounts)})
	}
	return out
}

// ledgerHead returns the ledger's last sequence number, reading on from
// after (a number it had reached): a page at a time, so the first call
// reads the ledger once and later ones only what is new.
func (v *volunteers) ledgerHead(ctx context.Context, after int64) (int64, error) {
	for {
		es, err := v.c.store.LedgerList(ctx, &store.LedgerListParams{AfterSeq: after, Limit: ledgerPage})
		if err != nil {
			return 0, err
		}
		if len(es) > 0 {
			after = es[len(es)-1].Seq
		}
		if len(es) < ledgerPage {
			return after, nil
		}
	}
}

// poll reads the ledger's head at most once per boardPoll, whoever calls;
// when it moved, it wakes every listener.
func (v *volunteers) poll(ctx context.Context) {
	if !v.mu.TryLock() {
		return // a build or another poll is reading the ledger right now
	}
	now := time.Now()
	if now.Sub(v.polledAt) < boardPoll {
		v.mu.Unlock()
		return
	}
	v.polledAt = now
	head, err := v.ledgerHead(ctx, v.head.Load())
	if err == nil {
		v.advance(head)
	}
	v.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		v.c.cfg.Logger.Warn("reading the ledger's head", "err", err)
	}
}

// advance records the ledger's head, v.mu held; when it moved, whoever
// read it (a poll, or a reader's build), every listener is woken.
func (v *volunteers) advance(head int64) {
	if head <= v.head.Load() {
		return
	}
	v.head.Store(head)
	v.lmu.Lock()
	close(v.changed)
	v.changed = make(chan struct{})
	v.lmu.Unlock()
}

// leaderboard serves GET /v1/leaderboard[?period=all|7d][&limit=N].
func (v *volunteers) leaderboard(w http.ResponseWriter, r *http.Request) {
	period, limit := "all", defaultBoardRows
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s is given %d times: give it once", k, len(vs)))
			return
		}
		switch val := vs[0]; k {
		case "period":
			if val != "all" && val != "7d" {
				writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("period must be all or 7d, got %q", val))
				return
			}
			period = val
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > maxBoardRows {
				writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("limit must be a number of rows from 1 to %d, got %q", maxBoardRows, val))
				return
			}
			limit = n
		default:
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("unknown query parameter %q: /v1/leaderboard takes period and limit", k))
			return
		}
	}
	b, err := v.get(r.Context())
	if err != nil {
		v.c.storeError(w, err)
		return
	}
	out := api.Leaderboard{Period: period, Version: b.version, GeneratedAt: b.at.UTC()}
	accts, sites := b.all, b.sitesA
	if period == "7d" {
		out.Since = dayString(b.since)
		accts, sites = b.week, b.sitesW
	}
	out.AccountsRanked, out.SitesRanked = len(accts), len(sites)
	out.Accounts, out.Sites = accts[:min(limit, len(accts))], sites[:min(limit, len(sites))]
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, &out)
}

// volunteer serves GET /v1/volunteers/{account}.
func (v *volunteers) volunteer(w http.ResponseWriter, r *http.Request) {
	account := r.PathValue("account")
	if account == "" || len(account) > 256 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "account must be an account name of 1 to 256 bytes")
		return
	}
	b, err := v.get(r.Context())
	if err != nil {
		v.c.storeError(w, err)
		return
	}
	vol := b.byAcct[account]
	if vol == nil {
		writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no account %q has a record yet: an account appears once its first work is verified", account))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, vol)
}

var errTooManyListeners = errors.New("too many listeners")

func (v *volunteers) listen() error {
	v.lmu.Lock()
	defer v.lmu.Unlock()
	if v.listeners >= maxCreditListeners {
		return errTooManyListeners
	}
	v.listeners++
	return nil
}

func (v *volunteers) current() <-chan struct{} {
	v.lmu.Lock()
	defer v.lmu.Unlock()
	return v.changed
}

func (v *volunteers) unlisten() {
	v.lmu.Lock()
	v.listeners--
	v.lmu.Unlock()
}

// events serves GET /v1/credit/events: text/event-stream, an event
// "credit" with the ledger's version when the stream opens and whenever
// the ledger moves (grants, revocations, bans), seen by any coordinator
// sharing the store. A listener costs a goroutine and a timer; the ledger
// is read once per boardPoll for all of them (poll).
func (v *volunteers) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "this server cannot stream")
		return
	}
	if err := v.listen(); err != nil {
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf("%d listeners already: poll /v1/leaderboard instead, or try again later", maxCreditListeners))
		return
	}
	defer v.unlisten()
	ctx := r.Context()
	v.poll(ctx)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func() bool {
		_, err := fmt.Fprintf(w, "event: credit\ndata: {\"version\":%d}\n\n", v.head.Load())
		flusher.Flush()
		return err == nil
	}
	changed := v.current()
	if !send() {
		return
	}
	tick := time.NewTicker(boardPoll)
	defer tick.Stop()
	idle := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.c.ctx.Done():
			return
		case <-changed:
			changed = v.current()
			if !send() {
				return
			}
			idle = 0
		case <-tick.C:
			v.poll(ctx)
			if idle++; time.Duration(idle)*boardPoll >= eventKeepAlive {
				idle = 0
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
					return
				}
				flusher.Flush()
			}
		}
	}
}

// me serves GET /v1/contribute/me?worker=NAME: what the contribute page
// says to its visitor. Worker names are not secrets (a browser's is a
// random id in its storage), and what it shows — owners, task numbers,
// fuel, credit — is public elsewhere too. It reads the coordinator's
// memory (its connections, indexed by name once a second; the board), and
// the store only for a job first seen.
func (v *volunteers) me(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("worker")
	if len(q) != 1 || len(q["worker"]) != 1 || name == "" || len(name) > 128 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "give worker=NAME once, a worker name of 1 to 128 bytes, and nothing else")
		return
	}
	out := api.Contributor{Worker: name, Account: "anon:" + name, Running: []api.RunningTask{}}
	type held struct {
		job, part   int64
		fuel, limit uint64
		resumed     bool
	}
	var leases []held
	c := v.c
	for _, cn := range v.connsOf(name) {
		if cn.isDone() {
			continue
		}
		out.Connected, out.Account = true, cn.session.Account
		cn.mu.Lock()
		for _, ls := range cn.leases {
			h := held{job: ls.job, part: int64(ls.part), fuel: ls.progress, limit: ls.fuelLimit, resumed: ls.resume != nil}
			if ls.resume != nil && ls.resume.Fuel > h.fuel {
				h.fuel = ls.resume.Fuel
			}
			leases = append(leases, h)
		}
		cn.mu.Unlock()
	}
	ctx := r.Context()
	for _, h := range leases {
		j, err := v.job(ctx, h.job)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			c.storeError(w, err)
			return
		}
		out.Running = append(out.Running, api.RunningTask{JobID: h.job, Owner: j.Owner, Part: int(h.part) + 1, Parts: j.TaskCount,
			Fuel: h.fuel, FuelLimit: h.limit, Resumed: h.resumed})
	}
	sort.Slice(out.Running, func(i, j int) bool {
		a, b := out.Running[i], out.Running[j]
		if a.JobID != b.JobID {
			return a.JobID < b.JobID
		}
		return a.Part < b.Part
	})
	b, err := v.get(ctx)
	if err != nil {
		c.storeError(w, err)
		return
	}
	out.Credit = b.byAcct[out.Account]
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, &out)
}

// The connections are indexed by worker name for /v1/contribute/me, so
// that a visitor's ask costs a map lookup, not a walk over every
// connection under the coordinator's lock: the index is made again when it
// is indexEvery old, or indexMiss old when a name is not in it (a worker
// that has just connected asks right away: its page asks as its first
// lease arrives).
const (
	indexEvery = time.Second
	indexMiss  = 100 * time.Millisecond
)

// connsOf returns the connections of a worker name, as of at most
// indexEvery ago (indexMiss for a name not found).
func (v *volunteers) connsOf(name string) []*conn {
	v.imu.Lock()
	defer v.imu.Unlock()
	age := time.Since(v.indexAt)
	if cs, ok := v.byWorker[name]; ok && age < indexEvery {
		return cs
	}
	if v.byWorker == nil || age >= indexMiss {
		idx := map[string][]*conn{}
		v.c.mu.Lock()
		for _, cn := range v.c.conns {
			idx[cn.session.Worker] = append(idx[cn.session.Worker], cn)
		}
		v.c.mu.Unlock()
		v.byWorker, v.indexAt = idx, time.Now()
	}
	return v.byWorker[name]
}

// maxCachedJobs bounds v.jobs: past it the cache starts afresh.
const maxCachedJobs = 1024

// job returns a job's owner and task count, which never change, from a
// small cache.
func (v *volunteers) job(ctx context.Context, id int64) (*store.Job, error) {
	v.jmu.Lock()
	j := v.jobs[id]
	v.jmu.Unlock()
	if j != nil {
		return j, nil
	}
	j, err := v.c.store.JobGet(ctx, &store.JobGetParams{ID: id})
	if err != nil {
		return nil, err
	}
	v.jmu.Lock()
	if len(v.jobs) >= maxCachedJobs {
		clear(v.jobs)
	}
	v.jobs[id] = &store.Job{ID: j.ID, Owner: j.Owner, TaskCount: j.TaskCount}
	v.jmu.Unlock()
	return j, nil
}

// The volunteer's page: like the leaderboard, its own script and style
// inlined and allowed by hash; uPlot comes from /leaderboard/assets/
// (package uplot), so 'self' is allowed for scripts and styles too.
var (
	//go:embed volunteer.html
	volunteerTemplate string
	//go:embed volunteer.js
	volunteerJS string

	volunteerHTML = strings.NewReplacer("{{style}}", leaderboardCSS, "{{script}}", volunteerJS).Replace(volunteerTemplate)
	volunteerCSP  = fmt.Sprintf("default-src 'none'; script-src 'self' '%s'; style-src 'self' '%s'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		cspHash(volunteerJS), cspHash(leaderboardCSS))
)

func serveVolunteerPage(w http.ResponseWriter, r *http.Request) {
	if a := r.PathValue("account"); a == "" || len(a) > 256 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "account must be an account name of 1 to 256 bytes")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", volunteerCSP)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write([]byte(volunteerHTML))
}

// boardAssets are the files /leaderboard/assets/ serves: uPlot's script
// and style, as vendored (the dashboard serves its own copy under its own
// path).
var boardAssets = map[string]bool{"uPlot.iife.min.js": true, "uPlot.min.css": true}

func serveBoardAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !boardAssets[name] {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such file")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// uPlot's version is in the binary: a day's cache is safe enough.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	serveFile(w, r, uplot.Files, name)
}
