package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
)

// What bounds the cost of abuse (docs/abuse.md): per-owner quotas checked
// at submission, token-bucket rate limits per owner and per remote address,
// and a cap on WebSocket connections that have not yet said hello.

// Quotas bound what one owner's running jobs hold at once; a submission
// that would pass one is refused whole (429 quota_exceeded). Zero fields
// take the defaults; a negative one means unlimited.
type Quotas struct {
	// Jobs: running jobs (neither done nor cancelled).
	Jobs int // default DefaultQuotaJobs
	// Tasks: their tasks not yet finished or cancelled, the new job's
	// included.
	Tasks int64 // default DefaultQuotaTasks
	// Bytes: what their submissions brought — module, stdin, files, args
	// and env of every task — counted as sent, before the store shares
	// identical blobs.
	Bytes int64 // default DefaultQuotaBytes
	// Fuel is the CPU quota: over the unfinished tasks, fuel limit ×
	// replicas, the most the owner's running jobs can still make workers
	// execute (extra replicas the verifier adds are the coordinator's
	// choice and not counted). A job without a fuel limit (none given and
	// no DefaultLimits.Fuel) cannot be counted and is refused while a Fuel
	// quota is set. Default: unlimited, since jobs need no fuel limit by
	// default.
	Fuel int64
}

// Quota defaults: generous for one person's work, small enough that one
// owner cannot fill the store or the queue for everyone.
const (
	DefaultQuotaJobs  = 100
	DefaultQuotaTasks = 1_000_000
	DefaultQuotaBytes = 1 << 30
)

// Rate is a token bucket: Burst requests at once, then PerSecond. Zero
// fields take a default; PerSecond < 0 turns the limit off.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Rate defaults. Owners: a CLI watching a few jobs and a dashboard make a
// few requests a second. Addresses: a volunteer's page loads a dozen
// assets, and a classroom or office behind one address starts many
// workers at once.
var (
	DefaultOwnerRate = Rate{PerSecond: 20, Burst: 200}
	DefaultIPRate    = Rate{PerSecond: 50, Burst: 500}
)

// WebSocket defaults (Config.HelloTimeout and the next).
const (
	DefaultHelloTimeout    = 10 * time.Second
	DefaultMaxHelloBytes   = 64 << 10
	DefaultMaxPending      = 1024
	DefaultMaxPendingPerIP = 16
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultBodyTimeout     = 10 * time.Minute
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultLeaseHoldFactor = 100
	DefaultLeaseHoldGrace  = 10 * time.Minute
)

// QuotaError is a submission refused by a quota.
type QuotaError struct {
	Quota      string // jobs, tasks, bytes or fuel
	Limit      uint64 // the quota
	Usage      uint64 // what the owner's running jobs hold now
	Requested  uint64 // what the submission adds
	Unlimited  bool   // fuel: the submission or a running job has no fuel limit
	Unfinished int64  // Unlimited because of running jobs: their unfinished tasks
}

func (e *QuotaError) Error() string {
	switch {
	case e.Unlimited && e.Unfinished > 0:
		return fmt.Sprintf("fuel quota (%d): %d unfinished tasks of your running jobs have no fuel limit and cannot be counted against it; cancel those jobs or wait for them to end", e.Limit, e.Unfinished)
	case e.Unlimited:
		return fmt.Sprintf(`fuel quota (%d): the job has no fuel limit, so its CPU cannot be counted against the quota; give "limits.fuel"`, e.Limit)
	}
	unit := map[string]string{"jobs": "running jobs", "tasks": "unfinished tasks", "bytes": "bytes of input held by running jobs", "fuel": "fuel committed (fuel limit × replicas over unfinished tasks)"}[e.Quota]
	return fmt.Sprintf("%s quota exceeded: %d %s allowed, %d in use, this job adds %d; wait for your jobs to finish or cancel some", e.Quota, e.Limit, unit, e.Usage, e.Requested)
}

func (q *Quotas) withDefaults() {
	if q.Jobs == 0 {
		q.Jobs = DefaultQuotaJobs
	}
	if q.Tasks == 0 {
		q.Tasks = DefaultQuotaTasks
	}
	if q.Bytes == 0 {
		q.Bytes = DefaultQuotaBytes
	}
	if q.Fuel == 0 {
		q.Fuel = -1
	}
}

// admit returns the check JobInsertParams.Admit runs for a job of tasks
// tasks, bytes bytes and fuel fuel per replica (0: no limit).
func (q Quotas) admit(tasks int64, replicas int, bytes int64, fuel uint64) func(*store.OwnerUsage) error {
	return func(u *store.OwnerUsage) error {
		if q.Jobs >= 0 && u.ActiveJobs+1 > q.Jobs {
			return &QuotaError{Quota: "jobs", Limit: uint64(q.Jobs), Usage: uint64(u.ActiveJobs), Requested: 1}
		}
		if q.Tasks >= 0 && u.UnfinishedTasks+tasks > q.Tasks {
			return &QuotaError{Quota: "tasks", Limit: uint64(q.Tasks), Usage: uint64(u.UnfinishedTasks), Requested: uint64(tasks)}
		}
		if q.Bytes >= 0 && u.InputBytes+bytes > q.Bytes {
			return &QuotaError{Quota: "bytes", Limit: uint64(q.Bytes), Usage: uint64(u.InputBytes), Requested: uint64(bytes)}
		}
		if q.Fuel >= 0 {
			if u.UnlimitedTasks > 0 {
				return &QuotaError{Quota: "fuel", Limit: uint64(q.Fuel), Unlimited: true, Unfinished: u.UnlimitedTasks}
			}
			if fuel == 0 {
				return &QuotaError{Quota: "fuel", Limit: uint64(q.Fuel), Unlimited: true}
			}
			add := saturatingMul(saturatingMul(uint64(tasks), uint64(replicas)), fuel)
			if add > uint64(q.Fuel) || u.Fuel > uint64(q.Fuel)-add {
				return &QuotaError{Quota: "fuel", Limit: uint64(q.Fuel), Usage: u.Fuel, Requested: add}
			}
		}
		return nil
	}
}

func saturatingMul(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}

// writeQuotaError answers a refused submission: 429 with the quota, its
// value and the usage, in the message and in details.
func writeQuotaError(w http.ResponseWriter, e *QuotaError) {
	var out api.Error
	out.Err.Code, out.Err.Message = api.CodeQuotaExceeded, e.Error()
	out.Err.Quota = &api.QuotaDetail{Name: e.Quota, Limit: e.Limit, Usage: e.Usage, Requested: e.Requested}
	writeJSON(w, http.StatusTooManyRequests, &out)
}

// limiter is a set of token buckets, one per key, at one rate. Buckets
// that have refilled are forgotten when the set grows, and the set never
// holds more than maxKeys: beyond it (a flood from more addresses than
// that, all active) new keys are refused until some bucket refills.
type limiter struct {
	rate    Rate
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // sweep when the set reaches this size
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(r Rate, now func() time.Time, maxKeys int) *limiter {
	if r.PerSecond < 0 {
		return nil
	}
	return &limiter{rate: r, now: now, maxKeys: maxKeys, buckets: map[string]*bucket{}, sweepAt: 1024}
}

// take spends one token of key's bucket; when there is none it returns how
// long until there will be.
func (l *limiter) take(key string) (ok bool, retry time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.sweepAt {
			l.sweep(now)
		}
		if len(l.buckets) >= l.maxKeys {
			return false, time.Duration(float64(time.Second) / l.rate.PerSecond)
		}
		b = &bucket{tokens: float64(l.rate.Burst), at: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(l.rate.Burst), b.tokens+d.Seconds()*l.rate.PerSecond)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second))
}

// sweep forgets buckets that are full again: they behave as new ones.
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.rate.Burst) / l.rate.PerSecond * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = max(1024, 2*len(l.buckets))
}

// writeRateLimited answers 429 with Retry-After (whole seconds, at least 1).
func writeRateLimited(w http.ResponseWriter, retry time.Duration, who string) {
	secs := max(1, int(math.Ceil(retry.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, api.CodeRateLimited, fmt.Sprintf("too many requests from %s: retry after %d s", who, secs))
}

// remoteKey is the key of a request's remote address for the per-address
// limits: the IP, or an IPv6 address's /64 (one host's usual share). The
// address is the TCP peer's: crowdrun trusts no X-Forwarded-For, so behind
// a reverse proxy every client shares the proxy's (docs/abuse.md).
func remoteKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// authResult is the API token of a request, looked up once by Handler
// (which charges the request to its owner's bucket) for auth to use.
type authResult struct {
	tok *store.Token
	err error // store.ErrNotFound: unknown or revoked
}

type authKey struct{}

// admitRequest charges a request to a rate limit: its owner's, when it
// carries a valid API token, else its remote address's. It answers 429
// and returns false when the bucket is empty.
func (c *Coordinator) admitRequest(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && secret != "" {
		tok, err := c.store.TokenLookup(r.Context(), &store.TokenLookupParams{Hash: HashToken(secret)})
		r = r.WithContext(context.WithValue(r.Context(), authKey{}, &authResult{tok: tok, err: err}))
		if err == nil {
			kind := tok.Kind
			if kind == "" {
				kind = store.TokenOwner
			}
			if ok, retry := c.ownerRate.take(kind + ":" + tok.Owner); !ok {
				c.metrics.refused("rate_owner")
				writeRateLimited(w, retry, "this token's owner")
				return r, false
			}
			return r, true
		}
		if !errors.Is(err, store.ErrNotFound) {
			return r, true // the handler reports the store's failure
		}
	}
	if ok, retry := c.ipRate.take(remoteKey(r)); !ok {
		c.metrics.refused("rate_ip")
		writeRateLimited(w, retry, "this address")
		return r, false
	}
	return r, true
}

// pendingConns counts WebSocket connections that have not yet been
// welcomed, in all and per remote address.
type pendingConns struct {
	max, perIP int
	mu         sync.Mutex
	total      int
	byIP       map[string]int
	peak       int
}

// enter admits one more pending connection from key, or says which cap
// it would pass.
func (p *pendingConns) enter(key string) (ok, perIP bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byIP[key] >= p.perIP {
		return false, true
	}
	if p.total >= p.max {
		return false, false
	}
	p.total++
	p.byIP[key]++
	p.peak = max(p.peak, p.total)
	return true, false
}

func (p *pendingConns) leave(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if p.byIP[key]--; p.byIP[key] <= 0 {
		delete(p.byIP, key)
	}
}

// Pending reports the WebSocket connections not yet welcomed now, and the
// most there have been at once.
func (c *Coordinator) Pending() (now, peak int) {
	c.pending.mu.Lock()
	defer c.pending.mu.Unlock()
	return c.pending.total, c.pending.peak
}

// Server returns an HTTP server for Handler with the limits that bound a
// slow or oversized request (docs/abuse.md): a deadline for the headers,
// a cap on their size, and idle keep-alive connections closed.
func (c *Coordinator) Server() *http.Server {
	return &http.Server{Handler: c.Handler(), ReadHeaderTimeout: c.cfg.HeaderTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes,
		IdleTimeout: 2 * time.Minute}
}

// reclaimHeld takes back the leases held past the hold limit
// (Config.LeaseHoldFactor) without a result or an accepted checkpoint:
// a worker that renews its leases but never reports holds each at most
// that long. They are released in the store (requeued) and revoked.
func (c *Coordinator) reclaimHeld(ctx context.Context) {
	if c.cfg.LeaseHoldFactor < 0 {
		return
	}
	now := c.cfg.Now()
	c.mu.Lock()
	conns := make([]*conn, 0, len(c.conns))
	for _, cn := range c.conns {
		conns = append(conns, cn)
	}
	c.mu.Unlock()
	for _, cn := range conns {
		var stale []string
		cn.mu.Lock()
		for id, ls := range cn.leases {
			limit := time.Duration(c.cfg.LeaseHoldFactor*float64(ls.timeout)) + c.cfg.LeaseHoldGrace
			if ls.timeout > 0 && now.Sub(ls.saved) > limit {
				stale = append(stale, id)
			}
		}
		cn.mu.Unlock()
		if len(stale) == 0 {
			continue
		}
		n, err := c.store.ReplicaRelease(ctx, &store.ReplicaReleaseParams{SessionID: cn.session.ID, LeaseIDs: stale, Progress: cn.progress(stale...), Now: now})
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.Logger.Error("taking back leases held too long", "session", cn.session.ID, "err", err)
			}
			continue
		}
		c.cfg.Logger.Warn("took back leases held without a result or checkpoint", "session", cn.session.ID, "worker", cn.session.Worker, "leases", len(stale))
		rs := make([]store.RevokedLease, len(stale))
		for i, id := range stale {
			rs[i] = store.RevokedLease{SessionID: cn.session.ID, LeaseID: id}
		}
		c.revoke(rs, "lease held too long without a result or checkpoint")
		if n > 0 {
			c.wake()
		}
	}
}
