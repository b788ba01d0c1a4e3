package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/crowdrun/crowdrun/internal/checkpoint"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/store"
)

// Config configures a Coordinator. Zero fields take the defaults below;
// validate explains every constraint.
type Config struct {
	// Store is where everything durable lives. Required.
	Store store.Store
	// Engine validates (and later instruments) submitted modules. Nil: New
	// starts one and Close closes it.
	Engine *sandbox.Engine
	// Logger: nil logs nothing.
	Logger *slog.Logger
	// Now is the clock; tests may inject one.
	Now func() time.Time

	// HeartbeatInterval is how often workers must send a heartbeat. A
	// connection silent for 3 intervals is closed and its leases requeued.
	HeartbeatInterval time.Duration // default 2s
	// LeaseTTL is how long a lease lives after its last renewal. It must
	// exceed 2×HeartbeatInterval, or healthy workers would lose leases
	// between two heartbeats.
	LeaseTTL time.Duration // default 15s
	// RescueInterval is how often expired leases are looked for, the
	// coordinator's heartbeat written and dead coordinators looked for.
	RescueInterval time.Duration // default 1s

	// Several coordinators on one store (docs/store.md).
	//
	// Shared: other coordinators may use the store at the same time
	// (PostgreSQL). At start-up a coordinator then ends only the sessions
	// of coordinators found dead, not every open session.
	Shared bool
	// ID names this coordinator process in the store; "": a random one.
	ID string
	// CoordinatorTimeout: a coordinator whose heartbeat is older is dead;
	// a live one ends its sessions and requeues their replicas.
	CoordinatorTimeout time.Duration // default LeaseTTL
	// IdlePoll bounds how long a worker waiting for work can miss work
	// another coordinator made available when no notification came (a
	// store that is no store.Notifier, or a listening connection that
	// broke): while workers wait, the dispatcher looks again this often.
	IdlePoll time.Duration // default 2s when Shared, else off; negative: off
	// FollowPoll bounds how late a `results?follow=true` stream here
	// learns of a task another coordinator settled: a settlement sends no
	// notification across coordinators unless it may make work leasable
	// (one per task would cost the store a NOTIFY and every coordinator a
	// wake-up, docs/store.md), so while streams follow here they look again
	// this often.
	FollowPoll time.Duration // default 250ms when Shared, else off; negative: off
	// OrphanIdle: a task left undecided with nothing recorded for this
	// long is evaluated again, whoever recorded it last (an evaluation
	// lost with a coordinator that stopped or failed).
	OrphanIdle time.Duration // default 10×LeaseTTL

	// MaxRequestBytes caps an HTTP request body (a submission).
	MaxRequestBytes int64 // default 64 MiB
	// MaxTasks caps the tasks of one job.
	MaxTasks int // default 100,000
	// MaxTaskInput caps one task's stdin plus files, which travel in a
	// lease message.
	MaxTaskInput int64 // default 4 MiB

	// MaxMessage caps one WebSocket message from a worker; larger frames
	// close the connection (1009).
	MaxMessage int64 // default protocol.MaxMessage

	// Abuse limits (limits.go, docs/abuse.md).
	//
	// Quotas bound what one owner's running jobs hold; checked at
	// submission.
	Quotas Quotas
	// OwnerRate limits the API requests of each owner (all its tokens
	// together); IPRate the requests without a valid API token (pages,
	// worker connections, modules, failed authentications) per remote
	// address. Default DefaultOwnerRate and DefaultIPRate; PerSecond < 0:
	// no limit.
	OwnerRate, IPRate Rate
	// HelloTimeout is how long a new worker connection may take to send a
	// valid hello (default DefaultHelloTimeout); MaxHelloBytes the largest
	// message accepted before it (default DefaultMaxHelloBytes).
	HelloTimeout  time.Duration
	MaxHelloBytes int64
	// MaxPending caps the worker connections not yet welcomed (upgraded,
	// no valid hello yet), MaxPendingPerIP those of one remote address;
	// beyond them upgrades are refused (503 and 429, with Retry-After).
	// Default DefaultMaxPending and DefaultMaxPendingPerIP.
	MaxPending, MaxPendingPerIP int
	// A lease that saves nothing — no result, no accepted checkpoint — for
	// LeaseHoldFactor × its job's timeout_ms plus LeaseHoldGrace is taken
	// back and requeued, however its worker keeps renewing it: a run ends
	// by its timeout (a browser's stretched by its duty cycle, as low as
	// 1%: hence the default factor), and the grace covers fetching and
	// compiling the module. Defaults DefaultLeaseHoldFactor and
	// DefaultLeaseHoldGrace; a negative factor: never.
	LeaseHoldFactor float64
	LeaseHoldGrace  time.Duration
	// HeaderTimeout bounds reading a request's headers (Server), and
	// BodyTimeout reading a POST body (a submission); defaults
	// DefaultHeaderTimeout and DefaultBodyTimeout.
	HeaderTimeout, BodyTimeout time.Duration

	// MaxCheckpoint caps a checkpoint's snapshot delta plus output; larger
	// ones are refused (too_large) and the connection stays open.
	MaxCheckpoint int // default protocol.MaxCheckpoint

	// DefaultLimits apply to limits a submission leaves zero.
	DefaultLimits store.Limits

	// Checkpoints (docs/checkpointing.md).
	//
	// NoCheckpoints stores modules without the suspend rewrite: replicas
	// run whole, as before continuations.
	NoCheckpoints bool
	// CheckpointEvery fixes the fuel grid of new tasks instead of deriving
	// it from T* (tests, experiments). 0: the policy decides.
	CheckpointEvery uint64
	// SessionPrior is the prior of the mean session length estimate τ.
	SessionPrior checkpoint.Prior // default checkpoint.DefaultPrior
	// CheckpointCost is δ until workers have reported checkpoint costs.
	CheckpointCost time.Duration // default 50ms
	// FuelRate is the fuel per second assumed until segments have been
	// measured.
	FuelRate float64 // default 1e9

	// Blob garbage collection (blobgc.go, docs/store.md "Blobs").
	//
	// BlobGCInterval is how often blobs no row names are deleted; default
	// 1h, negative: never.
	BlobGCInterval time.Duration
	// BlobGCGrace is how old an unreferenced blob must be to be deleted:
	// it protects a blob stored ahead of the row that will name it (a
	// store.Blobs.BlobPut). Default 1h; 0 keeps the default (tests that
	// want none give a nanosecond).
	BlobGCGrace time.Duration

	// Verification (docs/trust.md).
	//
	// TrustedSlots is how many disputed links the coordinator re-runs at
	// once on its own CPU (its trusted ground, when no trusted worker
	// takes them); default 1.
	TrustedSlots int
	// TrustedCPU is the share of one core those in-process re-runs may use
	// over time, all slots together (a duty cycle: rerunbudget.go); in
	// (0, TrustedSlots]; default DefaultTrustedCPU. Re-runs beyond it wait
	// in line.
	TrustedCPU float64
	// TrustedTimeout is how long a re-run handed to a trusted worker may
	// take before the coordinator runs it itself; default
	// DefaultTrustedTimeout.
	TrustedTimeout time.Duration
	// TrustedFuel caps one trusted re-run's fuel beyond the link's grid
	// interval (a final link of a job without a fuel limit); default 2^40.
	TrustedFuel uint64
	// MinAudit is the share of links audited even for the most credible
	// account: what stops a patient liar (docs/trust.md §4). In (0, 0.5);
	// default 0.05.
	MinAudit float64
	// StrandedAfter is how long a finished task's checks (audits, a
	// partner) wait with no worker of another account connected before
	// its chain is confirmed on trusted ground instead (docs/trust.md §6);
	// default verify.DefaultStrandedAfter, negative: never.
	StrandedAfter time.Duration
	// Operators are the owners (API token owners) who may read the
	// operator's overview (GET /v1/overview, the dashboard's overview).
	Operators []string

	// Rand draws audits; nil: a random seed (tests and the sabotage
	// benchmark inject a seeded one).
	Rand *rand.Rand

	// MetricsElsewhere: Handler does not serve GET /metrics; the operator
	// serves MetricsHandler on a listener of its own (crowdrun serve
	// --metrics-addr), e.g. one only the monitoring network reaches.
	MetricsElsewhere bool
}

// Defaults.
const (
	// DefaultTrustedCPU: in-process re-runs use at most half a core over
	// time.
	DefaultTrustedCPU = 0.5
	// DefaultTrustedTimeout bounds a re-run on a trusted worker.
	DefaultTrustedTimeout  = 10 * time.Minute
	DefaultHeartbeat       = 2 * time.Second
	DefaultLeaseTTL        = 15 * time.Second
	DefaultMaxRequestBytes = 64 << 20
	DefaultMaxTasks        = 100_000
	DefaultMaxTaskInput    = 4 << 20
	// DefaultCheckpointCost is δ before any worker reported one: a small
	// module's capture, hash, delta and upload on loopback take a few ms; a
	// browser over the Internet tens.
	DefaultCheckpointCost = 50 * time.Millisecond
	// DefaultFuelRate is the fuel per second assumed before any segment was
	// measured: wazero's compiled code runs the kernels at 0.5–2·10⁹.
	DefaultFuelRate = 1e9
	// DefaultBlobGCInterval and DefaultBlobGCGrace: blobs no row names are
	// collected hourly once an hour old.
	DefaultBlobGCInterval = time.Hour
	DefaultBlobGCGrace    = time.Hour
	// MaxOutputLimit keeps a result, base64-encoded, within a protocol message.
	MaxOutputLimit = 8 << 20
)

func (c *Config) withDefaults() Config {
	cfg := *c
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeat
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = max(DefaultLeaseTTL, 3*cfg.HeartbeatInterval)
	}
	if cfg.RescueInterval == 0 {
		cfg.RescueInterval = time.Second
	}
	if cfg.BlobGCInterval == 0 {
		cfg.BlobGCInterval = DefaultBlobGCInterval
	}
	if cfg.BlobGCGrace == 0 {
		cfg.BlobGCGrace = DefaultBlobGCGrace
	}
	if cfg.CoordinatorTimeout == 0 {
		cfg.CoordinatorTimeout = cfg.LeaseTTL
	}
	if cfg.IdlePoll == 0 && cfg.Shared {
		cfg.IdlePoll = 2 * time.Second
	}
	if cfg.FollowPoll == 0 && cfg.Shared {
		cfg.FollowPoll = 250 * time.Millisecond
	}
	if cfg.OrphanIdle == 0 {
		cfg.OrphanIdle = 10 * cfg.LeaseTTL
	}
	if cfg.TrustedFuel == 0 {
		cfg.TrustedFuel = 1 << 40
	}
	if cfg.TrustedSlots == 0 {
		cfg.TrustedSlots = 1
	}
	if cfg.TrustedCPU == 0 {
		cfg.TrustedCPU = min(DefaultTrustedCPU, float64(cfg.TrustedSlots))
	}
	if cfg.TrustedTimeout == 0 {
		cfg.TrustedTimeout = DefaultTrustedTimeout
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = protocol.MaxMessage
	}
	cfg.Quotas.withDefaults()
	if cfg.OwnerRate == (Rate{}) {
		cfg.OwnerRate = DefaultOwnerRate
	}
	if cfg.IPRate == (Rate{}) {
		cfg.IPRate = DefaultIPRate
	}
	if cfg.HelloTimeout == 0 {
		cfg.HelloTimeout = DefaultHelloTimeout
	}
	if cfg.MaxHelloBytes == 0 {
		cfg.MaxHelloBytes = DefaultMaxHelloBytes
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPendingPerIP == 0 {
		cfg.MaxPendingPerIP = DefaultMaxPendingPerIP
	}
	if cfg.LeaseHoldFactor == 0 {
		cfg.LeaseHoldFactor = DefaultLeaseHoldFactor
	}
	if cfg.LeaseHoldGrace == 0 {
		cfg.LeaseHoldGrace = DefaultLeaseHoldGrace
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.MaxCheckpoint == 0 {
		cfg.MaxCheckpoint = protocol.MaxCheckpoint
	}
	if cfg.MaxTasks == 0 {
		cfg.MaxTasks = DefaultMaxTasks
	}
	if cfg.MaxTaskInput == 0 {
		cfg.MaxTaskInput = DefaultMaxTaskInput
	}
	if cfg.SessionPrior == (checkpoint.Prior{}) {
		cfg.SessionPrior = checkpoint.DefaultPrior
	}
	if cfg.CheckpointCost == 0 {
		cfg.CheckpointCost = DefaultCheckpointCost
	}
	if cfg.FuelRate == 0 {
		cfg.FuelRate = DefaultFuelRate
	}
	d := &cfg.DefaultLimits
	if d.MemoryBytes == 0 {
		d.MemoryBytes = 64 << 20
	}
	if d.MaxOutput == 0 {
		d.MaxOutput = 1 << 20
	}
	if d.TimeoutMS == 0 {
		d.TimeoutMS = 60_000
	}
	return cfg
}

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("coordinator: Config.Store is required")
	}
	if !(c.MinAudit >= 0 && c.MinAudit < 0.5) {
		return fmt.Errorf("coordinator: MinAudit (%v) must be in (0, 0.5): at half the links or more a task is replicated instead", c.MinAudit)
	}
	if c.BlobGCGrace < 0 {
		return errors.New("coordinator: BlobGCGrace must not be negative")
	}
	if c.TrustedSlots < 0 {
		return errors.New("coordinator: TrustedSlots must not be negative")
	}
	if !(c.TrustedCPU > 0 && c.TrustedCPU <= float64(c.TrustedSlots)) {
		return fmt.Errorf("coordinator: TrustedCPU (%v) must be in (0, TrustedSlots = %d]: a share of one core for in-process re-runs, each slot running on one", c.TrustedCPU, c.TrustedSlots)
	}
	if c.TrustedTimeout < 0 {
		return errors.New("coordinator: TrustedTimeout must not be negative")
	}
	if c.LeaseTTL <= 2*c.HeartbeatInterval {
		return fmt.Errorf("coordinator: LeaseTTL (%v) must exceed 2×HeartbeatInterval (%v), or healthy workers lose leases between heartbeats", c.LeaseTTL, c.HeartbeatInterval)
	}
	if c.MaxMessage > protocol.MaxMessage {
		return fmt.Errorf("coordinator: MaxMessage must be at most %d", protocol.MaxMessage)
	}
	if c.MaxTaskInput*4/3+64<<10 > protocol.MaxMessage {
		return fmt.Errorf("coordinator: MaxTaskInput (%d) must fit, base64-encoded, in a protocol message (%d bytes)", c.MaxTaskInput, protocol.MaxMessage)
	}
	if c.CheckpointEvery != 0 && c.CheckpointEvery < 1024 {
		return fmt.Errorf("coordinator: CheckpointEvery (%d) must be 0 (the policy decides) or at least 1024 fuel", c.CheckpointEvery)
	}
	if c.SessionPrior.Mean <= 0 || c.SessionPrior.Weight < 0 {
		return errors.New("coordinator: SessionPrior needs a positive mean and a non-negative weight")
	}
	if c.CheckpointCost < 0 || !(c.FuelRate > 0) {
		return errors.New("coordinator: CheckpointCost must be non-negative and FuelRate positive")
	}
	for _, r := range []struct {
		name string
		r    Rate
	}{{"OwnerRate", c.OwnerRate}, {"IPRate", c.IPRate}} {
		if r.r.PerSecond >= 0 && !(r.r.PerSecond > 0 && r.r.Burst >= 1) {
			return fmt.Errorf("coordinator: %s (%v/s, burst %d) needs a positive rate and a burst of at least 1 (a negative rate: no limit)", r.name, r.r.PerSecond, r.r.Burst)
		}
	}
	if c.HelloTimeout < 0 || c.HeaderTimeout < 0 || c.BodyTimeout < 0 || c.LeaseHoldGrace < 0 {
		return errors.New("coordinator: HelloTimeout, HeaderTimeout, BodyTimeout and LeaseHoldGrace must not be negative")
	}
	if c.MaxHelloBytes < 1024 || c.MaxHelloBytes > c.MaxMessage {
		return fmt.Errorf("coordinator: MaxHelloBytes (%d) must be between 1024 (a hello with a token and a site) and MaxMessage (%d)", c.MaxHelloBytes, c.MaxMessage)
	}
	if c.MaxPending < 1 || c.MaxPendingPerIP < 1 {
		return errors.New("coordinator: MaxPending and MaxPendingPerIP must be at least 1: no worker could connect")
	}
	if c.DefaultLimits.Fuel > protocol.MaxFuel {
		return fmt.Errorf("coordinator: DefaultLimits.Fuel must be at most %d", uint64(protocol.MaxFuel))
	}
	if c.DefaultLimits.MaxOutput > MaxOutputLimit {
		return fmt.Errorf("coordinator: DefaultLimits.MaxOutput must be at most %d so results fit in a protocol message", MaxOutputLimit)
	}
	return nil
}
