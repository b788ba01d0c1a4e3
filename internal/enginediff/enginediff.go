// Package enginediff runs one module the way crowdrun's workers do — as the
// coordinator prepares it (instrumented: fuel, call-depth limit, memory cap,
// NaN canonicalisation; made suspendable) — in wazero through the Go host
// (internal/sandbox) and in V8 through the JavaScript host (js/runtime.js in
// a long-lived Node process), and says where the two runs differ: verdict,
// exit code, message, fuel, stdout, stderr, and the fuel, state hash and
// output position of every checkpoint. crowdrun's verification rests on
// replicas on different engines agreeing bit for bit; this is its
// differential test (docs/fuzzing.md, "Differential fuzzing of the
// engines"), fed with the random modules of internal/wasmgen.
package enginediff

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/jsruntime"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/worker"
)

//go:embed harness.mjs
var harness []byte

// Case is one run: a submitted module and the task's settings.
type Case struct {
	Wasm        []byte
	MemoryPages uint32 // the job's memory limit, in pages (also the instrumenter's cap)
	Fuel        uint64 // the budget; 0: none (then the module must end by itself)
	Every       uint64 // checkpoint interval in fuel; 0: none
	Args        []string
	Stdin       []byte
	Seed        uint64
	MaxOutput   int64 // 0: 64 KiB
	// Snapshots keeps each checkpoint's encoded snapshot (to explain a
	// differing state hash: ExplainSnapshots); KeepSnapshot keeps the one
	// of that checkpoint (to resume it in the other engine).
	Snapshots    bool
	KeepSnapshot uint64
	// Resume, an encoded snapshot, is resumed instead of starting afresh;
	// stdout then holds the output after it.
	Resume []byte
}

// Checkpoint is what a run says of one of its checkpoints.
type Checkpoint struct {
	Seq    uint64
	Fuel   uint64
	Hash   string // the state hash, hex
	Stdout int    // bytes of stdout written before it
	// Snapshot is the encoded snapshot, if the case asked for it.
	Snapshot string
}

// Outcome is how a run ended.
type Outcome struct {
	Status      string
	ExitCode    uint32
	Message     string
	Fuel        uint64
	Stdout      []byte
	Stderr      []byte
	Checkpoints []Checkpoint
}

func (c Case) maxOutput() int64 {
	if c.MaxOutput > 0 {
		return c.MaxOutput
	}
	return 64 << 10
}

// Prepare is the coordinator's rewrite of the case's module
// (coordinator.prepareModule): default instrumentation options with the
// memory cap at the job's memory limit, made suspendable where the suspend
// rewrite can.
func Prepare(c Case) (prepared []byte, suspendable bool, err error) {
	opts := instrument.DefaultOptions()
	opts.MemoryCapPages = c.MemoryPages
	return sandbox.Prepare(c.Wasm, opts, true)
}

// RunGo runs the prepared module on eng as a native worker does.
func RunGo(ctx context.Context, eng *sandbox.Engine, prepared []byte, c Case) (Outcome, error) {
	m, err := eng.CompileInstrumented(ctx, prepared)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			return Outcome{Status: string(se.Status), Message: se.Message}, nil
		}
		return Outcome{}, err
	}
	var out, errb bytes.Buffer
	var o Outcome
	var resume *snapshot.Snapshot
	if c.Resume != nil {
		if resume, _, err = snapshot.Decode(bytes.NewReader(c.Resume)); err != nil {
			return Outcome{}, fmt.Errorf("the snapshot to resume: %w", err)
		}
	}
	in := sandbox.Input{
		Resume: resume,
		Args:   append([]string{worker.Argv0}, c.Args...), Stdin: bytes.NewReader(c.Stdin), Seed: c.Seed,
		Stdout: &out, Stderr: &errb,
		OnCheckpoint: func(cp *sandbox.Checkpoint) error {
			k := Checkpoint{Seq: cp.Seq, Fuel: cp.Snapshot.Fuel, Hash: hex.EncodeToString(cp.Digest.State[:]), Stdout: out.Len()}
			if c.Snapshots || cp.Seq == c.KeepSnapshot {
				var b bytes.Buffer
				if err := snapshot.Encode(&b, cp.Snapshot, cp.Digest, snapshot.Options{}); err != nil {
					return err
				}
				k.Snapshot = b.String()
			}
			o.Checkpoints = append(o.Checkpoints, k)
			return nil
		},
	}
	rep := eng.Run(ctx, m, in, sandbox.Limits{MemoryBytes: uint64(c.MemoryPages) * 65536, MaxOutput: c.maxOutput(), Fuel: c.Fuel, CheckpointEvery: c.Every})
	o.Status, o.ExitCode, o.Message, o.Fuel = string(rep.Status), rep.ExitCode, rep.Message, rep.Fuel
	o.Stdout, o.Stderr = out.Bytes(), errb.Bytes()
	return o, nil
}

// Node is a long-lived Node process running the JavaScript host. Its
// methods may be called from several goroutines; runs are served one at a
// time.
type Node struct {
	mu   sync.Mutex
	dir  string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	errs bytes.Buffer
}

// StartNode extracts the JavaScript host and starts node (the binary at
// nodeBin) on the harness.
func StartNode(nodeBin string) (*Node, error) {
	dir, err := os.MkdirTemp("", "crowdrun-enginediff-")
	if err != nil {
		return nil, err
	}
	n := &Node{dir: dir}
	if err := jsruntime.Extract(filepath.Join(dir, "js")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	script := filepath.Join(dir, "js", "node", "enginediff-harness.mjs")
	if err := os.WriteFile(script, harness, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n.cmd = exec.Command(nodeBin, script)
	n.cmd.Stderr = &n.errs
	if n.in, err = n.cmd.StdinPipe(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := n.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return n, nil
}

// Close ends the Node process and removes its files.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.in.Close()
	err := n.cmd.Wait()
	os.RemoveAll(n.dir)
	if err != nil {
		return fmt.Errorf("node: %w: %s", err, n.errs.String())
	}
	return nil
}

type request struct {
	Module    []byte   `json:"module"`
	Args      []string `json:"args"`
	Stdin     []byte   `json:"stdin"`
	Seed      string   `json:"seed"`
	Memory    uint64   `json:"memory"`
	MaxOutput int64    `json:"max_output"`
	Fuel      string   `json:"fuel"`
	Every     string   `json:"every"`
	Snapshots bool     `json:"snapshots"`
	Keep      string   `json:"keep"`
	Resume    []byte   `json:"resume"`
}

type answer struct {
	Status      string `json:"status"`
	ExitCode    uint32 `json:"exit_code"`
	Message     string `json:"message"`
	Fuel        string `json:"fuel"`
	Stdout      []byte `json:"stdout"`
	Stderr      []byte `json:"stderr"`
	Checkpoints []struct {
		Seq      string `json:"seq"`
		Fuel     string `json:"fuel"`
		Hash     string `json:"hash"`
		Stdout   int    `json:"stdout"`
		Snapshot []byte `json:"snapshot"`
	} `json:"checkpoints"`
}

// Run runs the prepared module in V8 as a Node worker does.
func (n *Node) Run(prepared []byte, c Case) (Outcome, error) {
	req, err := json.Marshal(request{
		Module: prepared, Args: append([]string{worker.Argv0}, c.Args...), Stdin: c.Stdin, Seed: strconv.FormatUint(c.Seed, 10),
		Memory: uint64(c.MemoryPages) * 65536, MaxOutput: c.maxOutput(), Fuel: strconv.FormatUint(c.Fuel, 10), Every: strconv.FormatUint(c.Every, 10),
		Snapshots: c.Snapshots, Keep: strconv.FormatUint(c.KeepSnapshot, 10), Resume: c.Resume,
	})
	if err != nil {
		return Outcome{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.in.Write(append(req, '\n')); err != nil {
		return Outcome{}, fmt.Errorf("node: %w: %s", err, n.errs.String())
	}
	line, err := n.out.ReadBytes('\n')
	if err != nil {
		return Outcome{}, fmt.Errorf("node: %w: %s", err, n.errs.String())
	}
	var a answer
	if err := json.Unmarshal(line, &a); err != nil {
		return Outcome{}, fmt.Errorf("node's answer: %w", err)
	}
	if a.Status == "host_error" {
		return Outcome{}, fmt.Errorf("the JavaScript host failed: %s", a.Message)
	}
	o := Outcome{Status: a.Status, ExitCode: a.ExitCode, Message: a.Message, Stdout: a.Stdout, Stderr: a.Stderr}
	if o.Fuel, err = strconv.ParseUint(a.Fuel, 10, 64); err != nil {
		return Outcome{}, fmt.Errorf("node's fuel: %w", err)
	}
	for _, cp := range a.Checkpoints {
		seq, err1 := strconv.ParseUint(cp.Seq, 10, 64)
		fuel, err2 := strconv.ParseUint(cp.Fuel, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return Outcome{}, fmt.Errorf("node's checkpoint: %w", err)
		}
		o.Checkpoints = append(o.Checkpoints, Checkpoint{Seq: seq, Fuel: fuel, Hash: cp.Hash, Stdout: cp.Stdout, Snapshot: string(cp.Snapshot)})
	}
	return o, nil
}

// Diff lists how b differs from a, the reference; none means the runs agree.
func Diff(a, b Outcome) []string {
	var d []string
	if a.Status != b.Status || a.ExitCode != b.ExitCode {
		d = append(d, fmt.Sprintf("verdict %s/%d, %s/%d", a.Status, a.ExitCode, b.Status, b.ExitCode))
	}
	if !SameMessage(a.Message, b.Message) {
		d = append(d, fmt.Sprintf("message %q, %q", a.Message, b.Message))
	}
	if a.Fuel != b.Fuel {
		d = append(d, fmt.Sprintf("fuel %d, %d", a.Fuel, b.Fuel))
	}
	if !bytes.Equal(a.Stdout, b.Stdout) {
		d = append(d, fmt.Sprintf("stdout %q, %q", clip(a.Stdout), clip(b.Stdout)))
	}
	if !bytes.Equal(a.Stderr, b.Stderr) {
		d = append(d, fmt.Sprintf("stderr %q, %q", clip(a.Stderr), clip(b.Stderr)))
	}
	for i := range max(len(a.Checkpoints), len(b.Checkpoints)) {
		switch {
		case i >= len(a.Checkpoints):
			d = append(d, fmt.Sprintf("checkpoint %d only in the second run: %+v", i, b.Checkpoints[i]))
		case i >= len(b.Checkpoints):
			d = append(d, fmt.Sprintf("checkpoint %d only in the first run: %+v", i, a.Checkpoints[i]))
		default:
			x, y := a.Checkpoints[i], b.Checkpoints[i]
			if x.Seq != y.Seq || x.Fuel != y.Fuel || x.Hash != y.Hash || x.Stdout != y.Stdout {
				d = append(d, fmt.Sprintf("checkpoint %d: seq %d fuel %d stdout %d hash %.16s, seq %d fuel %d stdout %d hash %.16s", i, x.Seq, x.Fuel, x.Stdout, x.Hash, y.Seq, y.Fuel, y.Stdout, y.Hash))
				if x.Snapshot != "" && y.Snapshot != "" {
					d = append(d, "  "+ExplainSnapshots([]byte(x.Snapshot), []byte(y.Snapshot)))
				}
			}
		}
	}
	return d
}

// V8 words two traps more coarsely than wazero, and the JavaScript host
// cannot tell which case it met once V8 has thrown: a float truncation out
// of range (wazero: integer overflow) and of a NaN (wazero: invalid
// conversion) are both "float unrepresentable in integer range" (which the
// JS host reports as invalid conversion to integer), and a call_indirect
// through a null slot (wazero: invalid table access) is "null function or
// function signature mismatch" (indirect call type mismatch). Verification
// compares verdicts, exit codes, output and fuel, never messages
// (store.Result.Agrees), so replicas still agree; only the report's message
// says less in the JS host (docs/fuzzing.md).
var v8Coarser = map[string]string{
	"wasm error: integer overflow":     "wasm error: invalid conversion to integer",
	"wasm error: invalid table access": "wasm error: indirect call type mismatch",
}

// SameMessage says whether V8's message b is what the JavaScript host says
// where wazero says a.
func SameMessage(a, b string) bool {
	if a == b {
		return true
	}
	for w, v := range v8Coarser {
		// as it stands, or inside a memory_limit's "(guest then: ...)"
		if strings.ReplaceAll(a, w, v) == b {
			return true
		}
	}
	return false
}

func clip(b []byte) string {
	const n = 400
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Summary is a one-line description of an outcome.
func (o Outcome) Summary() string {
	s := fmt.Sprintf("%s fuel=%d checkpoints=%d stdout=%dB", o.Status, o.Fuel, len(o.Checkpoints), len(o.Stdout))
	if o.Message != "" {
		s += " (" + strings.SplitN(o.Message, "\n", 2)[0] + ")"
	}
	return s
}

// ExplainSnapshots says where two encoded snapshots differ.
func ExplainSnapshots(a, b []byte) string {
	x, _, err := snapshot.Decode(bytes.NewReader(a))
	if err != nil {
		return "the first snapshot does not decode: " + err.Error()
	}
	y, _, err := snapshot.Decode(bytes.NewReader(b))
	if err != nil {
		return "the second snapshot does not decode: " + err.Error()
	}
	var d []string
	if x.ModuleHash != y.ModuleHash {
		d = append(d, "module hash")
	}
	if x.Fuel != y.Fuel {
		d = append(d, fmt.Sprintf("fuel %d, %d", x.Fuel, y.Fuel))
	}
	if len(x.Pages) != len(y.Pages) {
		d = append(d, fmt.Sprintf("%d pages, %d", len(x.Pages), len(y.Pages)))
	}
	for i := range min(len(x.Pages), len(y.Pages)) {
		p, q := x.Pages[i], y.Pages[i]
		if p == nil {
			p = make([]byte, snapshot.PageSize)
		}
		if q == nil {
			q = make([]byte, snapshot.PageSize)
		}
		for k := range p {
			if p[k] != q[k] {
				d = append(d, fmt.Sprintf("page %d first differs at byte %d", i, k))
				break
			}
		}
	}
	if len(x.Globals) != len(y.Globals) {
		d = append(d, fmt.Sprintf("%d globals, %d", len(x.Globals), len(y.Globals)))
	}
	for i := range min(len(x.Globals), len(y.Globals)) {
		if x.Globals[i] != y.Globals[i] {
			d = append(d, fmt.Sprintf("global %d: %+v, %+v", i, x.Globals[i], y.Globals[i]))
		}
	}
	if !bytes.Equal(x.Frames, y.Frames) {
		d = append(d, fmt.Sprintf("frames %x, %x", clip(x.Frames), clip(y.Frames)))
	}
	if !bytes.Equal(x.Host, y.Host) {
		d = append(d, fmt.Sprintf("host state %x, %x", clip(x.Host), clip(y.Host)))
	}
	if len(d) == 0 {
		return "the snapshots decode to the same state"
	}
	return strings.Join(d, "; ")
}
