// Package protocol is the versioned message protocol between the coordinator
// and its workers over WebSocket (docs/protocol.md). Every message is one
// JSON text frame: an object with a "type", a sender-chosen "id" (> 0,
// increasing per sender) and, for replies, the "reply_to" id it answers.
// Decode is the only way bytes from the network become messages; it is
// fuzzed and refuses anything malformed with an *Error.
package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Version is the protocol version; it is also the WebSocket subprotocol
// "crowdrun.v1". A coordinator refuses a hello with another version.
const (
	Version     = 1
	Subprotocol = "crowdrun.v1"
)

// Size limits. A frame larger than MaxMessage is refused by the reader
// before it is decoded (WebSocket close 1009).
const (
	MaxMessage    = 16 << 20 // any frame
	MaxSlots      = 256      // parallel runs per worker
	MaxLeaseBatch = 256
	maxName       = 128
	maxLeaseID    = 64
	maxMessageStr = 4096
	// MaxFuel bounds every fuel figure a worker sends (results, checkpoints,
	// progress): 2^62 instructions is decades of one core, and the stores
	// keep fuel in signed 64-bit columns.
	MaxFuel = 1 << 62
	// maxWallMS bounds a result's wall time (about 35 years).
	maxWallMS = 1 << 40
	// MaxCheckpoint caps a checkpoint message's snapshot delta plus output
	// (raw bytes; base64 makes them 4/3 larger, within MaxMessage). The
	// coordinator answers a larger one with too_large (the connection stays
	// open); a worker whose checkpoint would be larger does not send it, and
	// the replica goes on without that checkpoint.
	MaxCheckpoint = 11 << 20
	maxFeatures   = 16
)

// Features a worker may declare in hello.
const (
	// FeatureCheckpoint: the worker honours Lease.CheckpointEvery (sending
	// checkpoint messages) and Lease.Resume.
	FeatureCheckpoint = "checkpoint"
	// FeatureRerun: the worker can re-run a link (Rerun). It is what the
	// worker can do, not whether it is trusted: only a session whose token
	// is of kind trusted in the coordinator's store is asked.
	FeatureRerun = "rerun"
)

// Message types.
const (
	TypeHello        = "hello"         // worker → coordinator, first message
	TypeWelcome      = "welcome"       // coordinator → worker, reply to hello
	TypeLeaseRequest = "lease_request" // worker → coordinator: I have free slots
	TypeLeases       = "leases"        // coordinator → worker, reply to lease_request
	TypeHeartbeat    = "heartbeat"     // worker → coordinator
	TypeHeartbeatAck = "heartbeat_ack" // coordinator → worker
	TypeResult       = "result"        // worker → coordinator
	TypeAck          = "ack"           // coordinator → worker, reply to result/release
	TypeRelease      = "release"       // worker → coordinator: give leases back unrun
	TypeRevoke       = "revoke"        // coordinator → worker: stop these runs
	TypeError        = "error"         // either way
	TypeBye          = "bye"           // worker → coordinator: leaving
	TypeCheckpoint   = "checkpoint"    // worker → coordinator: a replica's checkpoint
	TypeProgress     = "progress"      // worker → coordinator: fuel reached, no reply
	TypeRerun        = "rerun"         // coordinator → trusted worker: re-run one link
	TypeRerunResult  = "rerun_result"  // trusted worker → coordinator: what it gave
)

// Error codes carried by Error messages.
const (
	CodeBadMessage    = "bad_message" // not a valid message; the connection is closed
	CodeVersion       = "unsupported_version"
	CodeNotReady      = "not_ready"      // a message before hello
	CodeLeaseNotHeld  = "lease_not_held" // result for a lease not held, or reported twice
	CodeTooLarge      = "too_large"      // a result over the job's output limit, a checkpoint over MaxCheckpoint
	CodeBadCheckpoint = "bad_checkpoint" // a checkpoint refused: wrong base, corrupt, state hash mismatch, out of order
	CodeInternal      = "internal"
	CodeUnauthorized  = "unauthorized" // hello: an unknown or revoked token; the connection is closed
	// CodeSlotsFull: a lease_request while the session holds as many
	// leases as its hello's slots; refused, the connection stays open.
	CodeSlotsFull = "slots_full"
)

// Header is common to every message.
type Header struct {
	Type    string `json:"type"`
	ID      uint64 `json:"id"`
	ReplyTo uint64 `json:"reply_to,omitempty"`
}

// Message is any protocol message.
type Message interface{ header() *Header }

func (h *Header) header() *Header { return h }

// Hdr returns m's header.
func Hdr(m Message) *Header { return m.header() }

type Hello struct {
	Header
	Protocol int    `json:"protocol"`
	Worker   string `json:"worker"`  // a stable name; never two replicas of one task to one name
	Slots    int    `json:"slots"`   // runs in parallel
	Runtime  string `json:"runtime"` // e.g. "go/wazero"
	// Features the worker supports (FeatureCheckpoint).
	Features []string `json:"features,omitempty"`
	// Token is a volunteer account token (crowdrun token create --kind
	// volunteer): the session's work is credited to, and checked against,
	// its account. Without one the account is "anon:<worker>", a fresh
	// identity with no credibility.
	Token string `json:"token,omitempty"`
	// Site is the web site the session's work is done for (the embed
	// widget's data-site, /contribute?site=): a DNS host name, lower-cased
	// by Decode (ParseSite). It is a claim nobody can check, so it is
	// credit attribution only — the site's credit shows the verified work
	// done under its name — and never an identity: the session is checked
	// and credited as its account (Token's owner, or anon:<worker>).
	Site string `json:"site,omitempty"`
}

// Has reports whether the hello declares feature f.
func (h *Hello) Has(f string) bool {
	for _, x := range h.Features {
		if x == f {
			return true
		}
	}
	return false
}

type Welcome struct {
	Header
	SessionID   int64 `json:"session_id"`
	HeartbeatMS int64 `json:"heartbeat_ms"` // send a heartbeat at least this often
	LeaseMS     int64 `json:"lease_ms"`     // a lease lapses this long after the last heartbeat
	MaxMessage  int64 `json:"max_message"`
	// SessionToken authenticates the session's HTTP requests (snapshot
	// downloads): Authorization: Session <session_id>:<token>.
	SessionToken string `json:"session_token,omitempty"`
}

type LeaseRequest struct {
	Header
	Max int `json:"max"` // free slots
}

type Limits struct {
	Fuel        uint64 `json:"fuel"`
	MemoryBytes uint64 `json:"memory_bytes"`
	MaxOutput   uint64 `json:"max_output"`
	TimeoutMS   int64  `json:"timeout_ms"`
}

type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"` // base64 in JSON
}

// Lease is one replica to run.
type Lease struct {
	LeaseID    string   `json:"lease_id"`
	JobID      int64    `json:"job_id"`
	TaskID     int64    `json:"task_id"`
	TaskIndex  int      `json:"task_index"`
	ModuleHash string   `json:"module_hash"` // GET /v1/modules/{hash}; check the hash
	Stdin      []byte   `json:"stdin"`
	Args       []string `json:"args"`
	Env        []string `json:"env"`
	Files      []File   `json:"files"`
	Seed       uint64   `json:"seed"`
	Limits     Limits   `json:"limits"`
	DeadlineMS int64    `json:"deadline_ms"` // Unix ms; renewed by heartbeats

	// CheckpointEvery is the task's fuel grid: send checkpoint k at the
	// first fuel check where the fuel used exceeds k·CheckpointEvery. 0 (or
	// a worker without FeatureCheckpoint): none.
	CheckpointEvery uint64 `json:"checkpoint_every,omitempty"`
	// Resume: continue the replica from this checkpoint instead of starting
	// afresh. Only for workers with FeatureCheckpoint.
	Resume *Resume `json:"resume,omitempty"`
}

// Resume names the checkpoint a lease continues from. The snapshot is
// fetched with GET /v1/workers/snapshots/{snapshot} (session-authenticated,
// see Welcome.SessionToken); its state hash must be StateHash.
type Resume struct {
	Seq       uint64 `json:"seq"`
	Fuel      uint64 `json:"fuel"`
	StateHash string `json:"state_hash"` // hex
	Snapshot  string `json:"snapshot"`   // hex SHA-256 of the encoded snapshot
}

type Leases struct {
	Header
	Leases []Lease `json:"leases"`
}

type Heartbeat struct {
	Header
	Running []string `json:"running"` // lease ids being run
	// Progress is the fuel each running lease has reached, as far as the
	// worker knows (it counts the work lost if the worker leaves).
	Progress map[string]uint64 `json:"progress,omitempty"`
}

// Progress reports the fuel running leases have reached, like a
// heartbeat's progress, between heartbeats. It has no reply (a worker
// reports it often, and a reply it has not read yet when it is killed would
// make its TCP connection reset, losing what it sent last).
type Progress struct {
	Header
	Progress map[string]uint64 `json:"progress"`
}

// Checkpoint is one checkpoint of a leased replica, answered by ack or by
// error (bad_checkpoint, lease_not_held, too_large).
type Checkpoint struct {
	Header
	LeaseID   string `json:"lease_id"`
	Seq       uint64 `json:"seq"`        // k ≥ 1: (fuel−1) / checkpoint_every
	Fuel      uint64 `json:"fuel"`       // fuel used since the replica's start
	StateHash string `json:"state_hash"` // hex state hash of the snapshot
	// Base is the state hash of the snapshot Snapshot is a delta against:
	// the replica's previous checkpoint (the one resumed from, or the last
	// one sent). Empty: Snapshot is a full snapshot.
	Base     string `json:"base,omitempty"`
	Snapshot []byte `json:"snapshot"` // internal/snapshot encoding, full or delta
	// Stdout and Stderr are the output since the previous checkpoint (or
	// since the start of the segment).
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	// CostMS is the worker's measured capture + hash + encode time.
	CostMS float64 `json:"cost_ms"`
}

type HeartbeatAck struct{ Header }

type Result struct {
	Header
	LeaseID  string `json:"lease_id"`
	Status   string `json:"status"` // sandbox verdict
	ExitCode uint32 `json:"exit_code"`
	Message  string `json:"message,omitempty"`
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`
	Fuel     uint64 `json:"fuel"`
	WallMS   int64  `json:"wall_ms"`
}

type Ack struct{ Header }

type Release struct {
	Header
	LeaseIDs []string `json:"lease_ids"`
}

type Revoke struct {
	Header
	LeaseIDs []string `json:"lease_ids"`
	Reason   string   `json:"reason"`
}

type ErrorMsg struct {
	Header
	Code    string `json:"code"`
	Message string `json:"message"`
}

type Bye struct{ Header }

// MaxTrace bounds the points of a traced re-run (a chain of more
// checkpoints is confirmed on the coordinator itself).
const MaxTrace = 1 << 16

// Rerun asks a trusted session (a worker whose hello carried a token of
// kind trusted) to re-execute one link of a task on its behalf
// (docs/trust.md §2, "Dispute"; internal/rerun): from checkpoint From (nil:
// the start of the run) to checkpoint Seq, or to the end of the run when
// Final; with Trace (and Final) recording every grid point passed. The
// task's input is inlined as in a Lease; the module is fetched by hash, and
// From's snapshot with the session's token, as for a resumed lease. It is
// answered by one RerunResult with the same RerunID.
type Rerun struct {
	Header
	RerunID    uint64   `json:"rerun_id"`
	JobID      int64    `json:"job_id"`
	TaskID     int64    `json:"task_id"`
	ModuleHash string   `json:"module_hash"`
	Stdin      []byte   `json:"stdin"`
	Args       []string `json:"args"`
	Env        []string `json:"env"`
	Files      []File   `json:"files"`
	Seed       uint64   `json:"seed"`
	// Limits are the job's; Fuel is set for a final link even when the
	// job has none (the coordinator's cap).
	Limits Limits  `json:"limits"`
	Grid   uint64  `json:"grid"`
	From   *Resume `json:"from,omitempty"`
	Seq    uint64  `json:"seq,omitempty"`
	Final  bool    `json:"final,omitempty"`
	Trace  bool    `json:"trace,omitempty"`
}

// RerunResult is a trusted worker's answer to a Rerun: either Error (the
// re-run could not be carried out: nothing is known about the link; the
// coordinator runs it itself), or the outcome. Missed: the run ended or
// passed the grid point before reaching checkpoint Seq (rerun.ErrEnded,
// ErrSkipped): no state there. Stdout and Stderr are the output of the
// link only (since From), so that the coordinator hashes a final link's
// output together with the chain's before it, exactly as it would its own.
// Trace points carry the length of their output chunk, consecutive slices
// of Stdout and Stderr.
type RerunResult struct {
	Header
	RerunID   uint64       `json:"rerun_id"`
	Error     string       `json:"error,omitempty"`
	Missed    bool         `json:"missed,omitempty"`
	Seq       uint64       `json:"seq,omitempty"`
	Fuel      uint64       `json:"fuel,omitempty"` // the end checkpoint's, or (final) the run's total
	StateHash string       `json:"state_hash,omitempty"`
	Stdout    []byte       `json:"stdout"`
	Stderr    []byte       `json:"stderr"`
	Status    string       `json:"status,omitempty"` // final: the sandbox verdict
	ExitCode  uint32       `json:"exit_code,omitempty"`
	Message   string       `json:"message,omitempty"`
	FuelUsed  uint64       `json:"fuel_used"` // what the re-run cost, from From
	Trace     []TracePoint `json:"trace,omitempty"`
}

// TracePoint is one grid point a traced re-run passed; StdoutLen and
// StderrLen are the output produced since the previous point (or From).
type TracePoint struct {
	Seq       uint64 `json:"seq"`
	Fuel      uint64 `json:"fuel"`
	StateHash string `json:"state_hash"`
	StdoutLen uint64 `json:"stdout_len"`
	StderrLen uint64 `json:"stderr_len"`
}

// Error is a message Decode refused.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// checkProgress bounds a progress map (lease id → fuel reached) of a
// heartbeat or progress message.
func checkProgress(kind string, progress map[string]uint64) error {
	for id, f := range progress {
		if len(id) > maxLeaseID {
			return bad("%s: lease id longer than %d bytes", kind, maxLeaseID)
		}
		if f > MaxFuel {
			return bad("%s: progress %d is above %d", kind, f, uint64(MaxFuel))
		}
	}
	return nil
}

func bad(format string, a ...any) error {
	return &Error{Code: CodeBadMessage, Message: fmt.Sprintf(format, a...)}
}

// Encode sets m's type and returns its JSON form.
func Encode(m Message) ([]byte, error) {
	h := m.header()
	h.Type = typeOf(m)
	if h.Type == "" {
		return nil, fmt.Errorf("protocol: cannot encode %T", m)
	}
	return json.Marshal(m)
}

func typeOf(m Message) string {
	switch m.(type) {
	case *Hello:
		return TypeHello
	case *Welcome:
		return TypeWelcome
	case *LeaseRequest:
		return TypeLeaseRequest
	case *Leases:
		return TypeLeases
	case *Heartbeat:
		return TypeHeartbeat
	case *HeartbeatAck:
		return TypeHeartbeatAck
	case *Result:
		return TypeResult
	case *Ack:
		return TypeAck
	case *Release:
		return TypeRelease
	case *Revoke:
		return TypeRevoke
	case *ErrorMsg:
		return TypeError
	case *Bye:
		return TypeBye
	case *Checkpoint:
		return TypeCheckpoint
	case *Progress:
		return TypeProgress
	case *Rerun:
		return TypeRerun
	case *RerunResult:
		return TypeRerunResult
	}
	return ""
}

// Decode parses and validates one message.
func Decode(b []byte) (Message, error) {
	if len(b) > MaxMessage {
		return nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("message of %d bytes exceeds the limit of %d", len(b), MaxMessage)}
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, bad("not a JSON message object: %v", err)
	}
	var m Message
	switch h.Type {
	case TypeHello:
		m = &Hello{}
	case TypeWelcome:
		m = &Welcome{}
	case TypeLeaseRequest:
		m = &LeaseRequest{}
	case TypeLeases:
		m = &Leases{}
	case TypeHeartbeat:
		m = &Heartbeat{}
	case TypeHeartbeatAck:
		m = &HeartbeatAck{}
	case TypeResult:
		m = &Result{}
	case TypeAck:
		m = &Ack{}
	case TypeRelease:
		m = &Release{}
	case TypeRevoke:
		m = &Revoke{}
	case TypeError:
		m = &ErrorMsg{}
	case TypeBye:
		m = &Bye{}
	case TypeCheckpoint:
		m = &Checkpoint{}
	case TypeProgress:
		m = &Progress{}
	case TypeRerun:
		m = &Rerun{}
	case TypeRerunResult:
		m = &RerunResult{}
	case "":
		return nil, bad(`message has no "type"`)
	default:
		return nil, bad("unknown message type %q", clip(h.Type))
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(m); err != nil {
		return nil, bad("%s: %v", h.Type, err)
	}
	if d.More() {
		return nil, bad("trailing data after the message")
	}
	if h.ID == 0 {
		return nil, bad(`%s: "id" must be a positive integer`, h.Type)
	}
	if err := validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func validate(m Message) error {
	switch m := m.(type) {
	case *Hello:
		if m.Protocol != Version {
			return &Error{Code: CodeVersion, Message: fmt.Sprintf("protocol version %d is not supported (this coordinator speaks %d)", m.Protocol, Version)}
		}
		if m.Worker == "" || len(m.Worker) > maxName {
			return bad("hello: worker name must be 1 to %d bytes", maxName)
		}
		if m.Slots < 1 || m.Slots > MaxSlots {
			return bad("hello: slots must be between 1 and %d", MaxSlots)
		}
		if len(m.Token) > 256 {
			return bad("hello: token longer than 256 bytes")
		}
		if len(m.Features) > maxFeatures {
			return bad("hello: more than %d features", maxFeatures)
		}
		for _, f := range m.Features {
			if len(f) > 64 {
				return bad("hello: feature name longer than 64 bytes")
			}
		}
		if m.Site != "" {
			site, err := ParseSite(m.Site)
			if err != nil {
				return bad("hello: %v", err)
			}
			m.Site = site
		}
	case *LeaseRequest:
		if m.Max < 1 || m.Max > MaxLeaseBatch {
			return bad("lease_request: max must be between 1 and %d", MaxLeaseBatch)
		}
	case *Heartbeat:
		if len(m.Running) > MaxSlots || len(m.Progress) > MaxSlots {
			return bad("heartbeat: more than %d running leases", MaxSlots)
		}
		if err := checkProgress("heartbeat", m.Progress); err != nil {
			return err
		}
	case *Progress:
		if len(m.Progress) > MaxSlots {
			return bad("progress: more than %d leases", MaxSlots)
		}
		if err := checkProgress("progress", m.Progress); err != nil {
			return err
		}
	case *Leases:
		for _, l := range m.Leases {
			if r := l.Resume; r != nil && (r.Seq == 0 || !isHash(r.StateHash) || !isHash(r.Snapshot)) {
				return bad("leases: resume needs seq ≥ 1, a hex state_hash and a hex snapshot hash")
			}
		}
	case *Checkpoint:
		if m.LeaseID == "" || len(m.LeaseID) > maxLeaseID {
			return bad("checkpoint: lease_id must be 1 to %d bytes", maxLeaseID)
		}
		if m.Seq == 0 || m.Fuel == 0 {
			return bad("checkpoint: seq and fuel must be positive")
		}
		if m.Fuel > MaxFuel {
			return bad("checkpoint: fuel %d is above %d", m.Fuel, uint64(MaxFuel))
		}
		if !isHash(m.StateHash) || (m.Base != "" && !isHash(m.Base)) {
			return bad("checkpoint: state_hash and base must be 64 lowercase hex digits")
		}
		if len(m.Snapshot) == 0 {
			return bad("checkpoint: snapshot is required")
		}
		if !(m.CostMS >= 0 && m.CostMS < 1e9) {
			return bad("checkpoint: cost_ms must be a non-negative number of milliseconds")
		}
	case *Result:
		if m.LeaseID == "" || len(m.LeaseID) > maxLeaseID {
			return bad("result: lease_id must be 1 to %d bytes", maxLeaseID)
		}
		if m.Status == "" || len(m.Status) > 32 {
			return bad("result: status is required")
		}
		if len(m.Message) > maxMessageStr {
			return bad("result: message longer than %d bytes", maxMessageStr)
		}
		if m.Fuel > MaxFuel {
			return bad("result: fuel %d is above %d", m.Fuel, uint64(MaxFuel))
		}
		if m.WallMS < 0 || m.WallMS > maxWallMS {
			return bad("result: wall_ms must be between 0 and %d", int64(maxWallMS))
		}
	case *Release:
		if len(m.LeaseIDs) > MaxLeaseBatch {
			return bad("release: more than %d leases", MaxLeaseBatch)
		}
	case *ErrorMsg:
		if m.Code == "" {
			return bad("error: code is required")
		}
	case *Rerun:
		return validateRerun(m)
	case *RerunResult:
		return validateRerunResult(m)
	}
	return nil
}

func validateRerun(m *Rerun) error {
	switch {
	case m.RerunID == 0:
		return bad("rerun: rerun_id must be positive")
	case !isHash(m.ModuleHash):
		return bad("rerun: module_hash must be 64 lowercase hex digits")
	case m.Grid == 0:
		return bad("rerun: grid must be positive")
	case m.Trace && !m.Final:
		return bad("rerun: a trace runs to the end (final)")
	case !m.Final && m.Seq == 0:
		return bad("rerun: a link that is not final needs its end checkpoint seq ≥ 1")
	}
	if r := m.From; r != nil {
		if r.Seq == 0 || r.Fuel == 0 || !isHash(r.StateHash) || !isHash(r.Snapshot) {
			return bad("rerun: from needs seq ≥ 1, fuel > 0, a hex state_hash and a hex snapshot hash")
		}
		if !m.Final && r.Seq >= m.Seq {
			return bad("rerun: from checkpoint %d is not before checkpoint %d", r.Seq, m.Seq)
		}
	}
	return nil
}

func validateRerunResult(m *RerunResult) error {
	switch {
	case m.RerunID == 0:
		return bad("rerun_result: rerun_id must be positive")
	case len(m.Error) > maxMessageStr || len(m.Message) > maxMessageStr:
		return bad("rerun_result: error and message must be at most %d bytes", maxMessageStr)
	case len(m.Status) > 32:
		return bad("rerun_result: status longer than 32 bytes")
	case m.Fuel > MaxFuel || m.FuelUsed > MaxFuel:
		return bad("rerun_result: fuel above %d", uint64(MaxFuel))
	case m.StateHash != "" && !isHash(m.StateHash):
		return bad("rerun_result: state_hash must be 64 lowercase hex digits")
	case len(m.Trace) > MaxTrace:
		return bad("rerun_result: more than %d trace points", MaxTrace)
	}
	if m.Error != "" {
		return nil
	}
	// Trace points in order, their output chunks within the link's output.
	var prev, out, errb uint64
	for i, p := range m.Trace {
		if p.Seq == 0 || (i > 0 && p.Seq <= prev) {
			return bad("rerun_result: trace point %d: seqs must be positive and increasing", i)
		}
		if p.Fuel == 0 || p.Fuel > MaxFuel || !isHash(p.StateHash) {
			return bad("rerun_result: trace point %d needs fuel in (0, %d] and a hex state_hash", i, uint64(MaxFuel))
		}
		prev = p.Seq
		out += p.StdoutLen
		errb += p.StderrLen
		if p.StdoutLen > uint64(len(m.Stdout)) || p.StderrLen > uint64(len(m.Stderr)) || out > uint64(len(m.Stdout)) || errb > uint64(len(m.Stderr)) {
			return bad("rerun_result: trace point %d: output beyond the link's", i)
		}
	}
	return nil
}

// MaxSite is the longest site name: a DNS name's text form.
const MaxSite = 253

// ParseSite checks that s names a web site as a DNS host name does —
// labels of 1 to 63 ASCII letters, digits and hyphens, neither starting
// nor ending with a hyphen, joined by dots, at most MaxSite bytes in all,
// no trailing dot — and returns it lower-cased (ASCII only: an
// internationalised name is given in its xn-- form). js/browser/wire.js
// siteName is the same rule; testdata/sites.json holds both to it.
func ParseSite(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("site must not be empty")
	}
	if len(s) > MaxSite {
		return "", fmt.Errorf("site is %d bytes, longer than a host name's %d", len(s), MaxSite)
	}
	b := []byte(s)
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != '.' {
			c := b[i]
			switch {
			case 'A' <= c && c <= 'Z':
				b[i] = c + ('a' - 'A')
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			default:
				return "", fmt.Errorf("site %q is not a host name: only letters, digits, hyphens and dots are allowed", clip(s))
			}
			continue
		}
		label := b[start:i]
		switch {
		case len(label) == 0:
			return "", fmt.Errorf("site %q is not a host name: an empty label", clip(s))
		case len(label) > 63:
			return "", fmt.Errorf("site %q is not a host name: a label longer than 63 bytes", clip(s))
		case label[0] == '-' || label[len(label)-1] == '-':
			return "", fmt.Errorf("site %q is not a host name: a label starts or ends with a hyphen", clip(s))
		}
		start = i + 1
	}
	return string(b), nil
}

// isHash reports whether s is a lowercase hex SHA-256.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
