package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// A checkpoint directory (README.md, "Checkpoints") holds everything `crowdrun resume`
// needs besides one snapshot:
//
//	run.json          the run's configuration (runConfig)
//	module.wasm       the module as it was given to `run`; resume instruments
//	                  it again with run.json's instrumentation and checks
//	                  the result against module_sha256 (docs/fuel.md)
//	stdin             the whole stdin
//	files/N           the N-th input file
//	stdout, stderr    the output, as the guest wrote it
//	NNNNNN.snap       checkpoint NNNNNN: a full snapshot, compressed
//	NNNNNN.json       its sidecar (checkpointInfo), written after it
//
// NNNNNN is the checkpoint's sequence number (the grid point just passed),
// zero-padded to six digits, so that the files sort in execution order.

const runConfigVersion = 2

type runConfig struct {
	Version         int          `json:"version"`
	Args            []string     `json:"args"`
	Env             []string     `json:"env"`
	Seed            uint64       `json:"seed"`
	Files           []string     `json:"files"` // guest names; data in files/N
	MemoryBytes     uint64       `json:"memory_bytes"`
	MaxOutput       int64        `json:"max_output"`
	Fuel            uint64       `json:"fuel"`
	CheckpointEvery uint64       `json:"checkpoint_every"`
	Module          string       `json:"module_sha256"`
	Instrumentation instrumentMD `json:"instrumentation"`
}

type instrumentMD = instrument.Metadata

type checkpointInfo struct {
	Seq         uint64 `json:"seq"`
	Fuel        uint64 `json:"fuel"`
	StateHash   string `json:"state_hash"`
	StdoutBytes int64  `json:"stdout_bytes"`
	StderrBytes int64  `json:"stderr_bytes"`
	CaptureMS   int64  `json:"capture_ms"`
	Bytes       int64  `json:"bytes"`
}

// teeWriter passes writes to w and to a log file, counting them.
type teeWriter struct {
	w   io.Writer
	log *bufio.Writer
	n   int64
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if _, err := t.log.Write(p); err != nil {
		return 0, err
	}
	t.n += int64(len(p))
	return t.w.Write(p)
}

// checkpointDir writes a run's checkpoints.
type checkpointDir struct {
	dir            string
	stdout, stderr *teeWriter
	files          []*os.File
	flush          func() error // the process's own stdout
}

// newCheckpointDir creates dir (which must be empty or absent) with the
// run's configuration; prefixOut and prefixErr are output that came before
// (a resumed run's).
func newCheckpointDir(dir string, cfg *runConfig, module, stdin []byte, files []wasi.File, prefixOut, prefixErr []byte) (*checkpointDir, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, usageError("--checkpoint-dir %s is not empty", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	write := map[string][]byte{"run.json": append(b, '\n'), "module.wasm": module, "stdin": stdin}
	for i, f := range files {
		write[filepath.Join("files", strconv.Itoa(i))] = f.Data
	}
	for name, data := range write {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	d := &checkpointDir{dir: dir}
	for _, name := range []string{"stdout", "stderr"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			d.close()
			return nil, err
		}
		d.files = append(d.files, f)
	}
	if _, err := d.files[0].Write(prefixOut); err != nil {
		d.close()
		return nil, err
	}
	if _, err := d.files[1].Write(prefixErr); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *checkpointDir) wrap(stdout, stderr io.Writer, prefixOut, prefixErr int64) (io.Writer, io.Writer) {
	d.stdout = &teeWriter{w: stdout, log: bufio.NewWriter(d.files[0]), n: prefixOut}
	d.stderr = &teeWriter{w: stderr, log: bufio.NewWriter(d.files[1]), n: prefixErr}
	return d.stdout, d.stderr
}

func (d *checkpointDir) close() error {
	var errs []error
	if d.stdout != nil {
		errs = append(errs, d.stdout.log.Flush(), d.stderr.log.Flush())
	}
	for _, f := range d.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// save writes one checkpoint: the snapshot, then its sidecar, each through
// a temporary file, so a reader never sees half of one.
func (d *checkpointDir) save(cp *sandbox.Checkpoint) error {
	start := time.Now()
	if err := errors.Join(d.stdout.log.Flush(), d.stderr.log.Flush()); err != nil {
		return err
	}
	if d.flush != nil {
		if err := d.flush(); err != nil {
			return err
		}
	}
	base := filepath.Join(d.dir, fmt.Sprintf("%06d", cp.Seq))
	var buf bytes.Buffer
	if err := snapshot.Encode(&buf, cp.Snapshot, cp.Digest, snapshot.Options{Compress: true}); err != nil {
		return err
	}
	if err := writeAtomic(base+".snap", buf.Bytes()); err != nil {
		return err
	}
	info := checkpointInfo{Seq: cp.Seq, Fuel: cp.Snapshot.Fuel, StateHash: hex.EncodeToString(cp.Digest.State[:]),
		StdoutBytes: d.stdout.n, StderrBytes: d.stderr.n, CaptureMS: (cp.Capture + time.Since(start)).Milliseconds(), Bytes: int64(buf.Len())}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(base+".json", append(b, '\n'))
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// resumeCmd is `crowdrun resume [flags] SNAPSHOT`.
func (m *Main) resumeCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("resume", "[flags] DIR/NNNNNN.snap", "Continues the run of a checkpoint directory from one of its snapshots, to the end.", flagsAnywhere)
	report := fs.String("report", "", "write a JSON report to `FILE` ('-' for stderr)")
	timeout := fs.Duration("timeout", 0, "wall-clock limit `DURATION` for the rest of the run, e.g. 10s (0: none)")
	ckptDir := fs.String("checkpoint-dir", "", "go on writing checkpoints (at the run's interval) into this new `DIR`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("one snapshot is required")
	}
	if *timeout < 0 {
		return usageError("--timeout must not be negative")
	}
	snapPath := fs.Arg(0)
	dir := filepath.Dir(snapPath)
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, usageError("%s is not in a checkpoint directory: %v", snapPath, err)
		}
		return b, nil
	}
	var cfg runConfig
	b, err := read("run.json")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Version != runConfigVersion {
		return usageError("%s: unreadable run.json (version %d): %v", dir, cfg.Version, err)
	}
	var info checkpointInfo
	if b, err = read(strings.TrimSuffix(filepath.Base(snapPath), ".snap") + ".json"); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return usageError("%s: unreadable checkpoint sidecar: %v", snapPath, err)
	}
	module, err := read("module.wasm")
	if err != nil {
		return err
	}
	stdin, err := read("stdin")
	if err != nil {
		return err
	}
	in := sandbox.Input{Args: cfg.Args, Env: cfg.Env, Seed: cfg.Seed, Stdin: bytes.NewReader(stdin)}
	for i, name := range cfg.Files {
		data, err := read(filepath.Join("files", strconv.Itoa(i)))
		if err != nil {
			return err
		}
		in.Files = append(in.Files, wasi.File{Name: name, Data: data})
	}
	outLog, err := read("stdout")
	if err != nil {
		return err
	}
	errLog, err := read("stderr")
	if err != nil {
		return err
	}
	if info.StdoutBytes < 0 || info.StderrBytes < 0 || info.StdoutBytes > int64(len(outLog)) || info.StderrBytes > int64(len(errLog)) {
		return usageError("%s: the sidecar's output sizes do not match the directory's stdout and stderr", snapPath)
	}
	f, err := os.Open(snapPath)
	if err != nil {
		return usageError("%v", err)
	}
	defer f.Close()
	rf, err := openReport(m, *report)
	if err != nil {
		return err
	}
	defer rf.abandon()
	// A snapshot that does not fit is a verdict, with its report.
	invalidSnapshot := func(err error) error {
		return rf.verdict(m, "resume", sandbox.Report{Status: sandbox.StatusInvalidSnapshot, Message: err.Error()})
	}
	lim := snapshot.DefaultLimits
	lim.MaxPages = uint32(min(cfg.MemoryBytes/(64<<10), snapshot.MaxPages))
	snap, digest, err := lim.Decode(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return invalidSnapshot(fmt.Errorf("%s: %w", snapPath, err))
	}
	if hex.EncodeToString(digest.State[:]) != info.StateHash || snap.Fuel != info.Fuel {
		return invalidSnapshot(fmt.Errorf("%s: the snapshot does not match its sidecar", snapPath))
	}
	in.Resume = snap

	eng, err := sandbox.NewEngine(ctx)
	if err != nil {
		return err
	}
	defer eng.Close(context.WithoutCancel(ctx))
	// module.wasm is the submitted module, never a module that runs as it
	// is: it is instrumented here as `run` instrumented it, and must come out
	// as the module the snapshots belong to.
	md := cfg.Instrumentation
	opts := instrument.Options{Schedule: md.Schedule, StackLimit: md.StackLimit, MemoryCapPages: md.MemoryCapPages, CanonicalizeNaN: md.CanonicalizeNaN}
	mod, err := eng.CompileSuspendable(ctx, module, opts)
	if err == nil && (!mod.Suspendable() || hex.EncodeToString(mod.Hash[:]) != cfg.Module) {
		return invalidSnapshot(fmt.Errorf("%s: module.wasm instrumented as run.json says is not the module %.12s of the run", dir, cfg.Module))
	}
	var rep sandbox.Report
	if err != nil {
		var se *sandbox.Error
		if !errors.As(err, &se) {
			return err
		}
		rep = sandbox.Report{Status: se.Status, Message: se.Message}
	} else {
		out := bufio.NewWriterSize(m.Stdout, 64<<10)
		prefixOut, prefixErr := outLog[:info.StdoutBytes], errLog[:info.StderrBytes]
		if _, err := out.Write(prefixOut); err != nil {
			return err
		}
		if _, err := m.Stderr.Write(prefixErr); err != nil {
			return err
		}
		in.Stdout, in.Stderr = out, m.Stderr
		lim := sandbox.Limits{MemoryBytes: cfg.MemoryBytes, MaxOutput: cfg.MaxOutput, Fuel: cfg.Fuel, Timeout: *timeout}
		var cd *checkpointDir
		if *ckptDir != "" {
			if cd, err = newCheckpointDir(*ckptDir, &cfg, module, stdin, in.Files, prefixOut, prefixErr); err != nil {
				return err
			}
			in.Stdout, in.Stderr = cd.wrap(in.Stdout, in.Stderr, info.StdoutBytes, info.StderrBytes)
			cd.flush = out.Flush
			in.OnCheckpoint = cd.save
			lim.CheckpointEvery = cfg.CheckpointEvery
		}
		rep = eng.Run(ctx, mod, in, lim)
		if cd != nil {
			if err := cd.close(); err != nil {
				return err
			}
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing the guest's output: %w", err)
		}
	}
	return rf.verdict(m, "resume", rep)
}
