package sandbox_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/snapshot"
)

// BenchmarkCheckpointGuest64MiB checkpoints a real guest with 64 MiB of
// live heap (examples/bigstate.c: 16 pages written between checkpoints) at
// every round, the way a worker does: unwind, capture, hash (Tracker),
// encode a compressed delta against the previous checkpoint. It reports
// per checkpoint the time of all that (ckpt-ms; goal ≤ 100), the bytes a
// worker would ship and the pages that changed; then the coordinator's
// side, applying each delta to the previous snapshot (apply-ms), and the
// restore of the last one in a fresh instance up to the end of the run
// (restore-ms: instantiate, grow, copy 64 MiB, rewind, the last round).
func BenchmarkCheckpointGuest64MiB(b *testing.B) {
	e := testEngine(b)
	m, err := e.CompileSuspendable(context.Background(), example(b, "bigstate.wasm"), instrument.DefaultOptions())
	if err != nil || !m.Suspendable() {
		b.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		name := "raw"
		if compress {
			name = "deflate"
		}
		b.Run(name, func(b *testing.B) { benchCheckpointGuest(b, e, m, compress) })
	}
}

func benchCheckpointGuest(b *testing.B, e *sandbox.Engine, m *sandbox.Module, compress bool) {
	args := []string{"bigstate", "64", "100", "16"}
	const every = 466_000 // about one round
	for b.Loop() {
		var (
			n, bytesShipped, pages int
			ckpt, apply            time.Duration
			prev                   *snapshot.Digest
			coord                  *snapshot.Snapshot
			coordDigest            *snapshot.Digest
		)
		var out bytes.Buffer
		rep := e.Run(context.Background(), m, sandbox.Input{Args: args, Stdout: &out, Stderr: &out,
			OnCheckpoint: func(cp *sandbox.Checkpoint) error {
				start := time.Now()
				var buf bytes.Buffer
				var err error
				if prev == nil {
					err = snapshot.Encode(&buf, cp.Snapshot, cp.Digest, snapshot.Options{Compress: compress})
				} else {
					err = snapshot.EncodeDelta(&buf, prev, cp.Snapshot, cp.Digest, snapshot.Options{Compress: compress})
				}
				if err != nil {
					return err
				}
				took := cp.Capture + time.Since(start)
				if prev != nil && cp.Snapshot.Fuel > 45_000_000 { // after the heap is filled
					n++
					ckpt += took
					bytesShipped += buf.Len()
					pages += len(snapshot.ChangedPages(prev, cp.Digest))
				}
				prev = cp.Digest
				start = time.Now()
				if coord == nil {
					coord, coordDigest, err = snapshot.Decode(&buf)
				} else {
					coord, coordDigest, err = snapshot.ApplyDelta(coord, coordDigest, &buf)
				}
				if prev != nil && cp.Snapshot.Fuel > 45_000_000 {
					apply += time.Since(start)
				}
				return err
			}}, sandbox.Limits{CheckpointEvery: every})
		if rep.Status != sandbox.StatusOK || n < 50 {
			b.Fatalf("%+v, %d checkpoints measured", rep, n)
		}
		start := time.Now()
		res := e.Run(context.Background(), m, sandbox.Input{Args: args, Stdout: io.Discard, Stderr: io.Discard, Resume: coord}, sandbox.Limits{})
		restore := time.Since(start)
		if res.Status != sandbox.StatusOK || res.Fuel != rep.Fuel {
			b.Fatalf("resume: %+v, want fuel %d", res, rep.Fuel)
		}
		b.ReportMetric(float64(ckpt.Microseconds())/1000/float64(n), "ckpt-ms")
		b.ReportMetric(float64(bytesShipped)/float64(n), "bytes/ckpt")
		b.ReportMetric(float64(pages)/float64(n), "pages/ckpt")
		b.ReportMetric(float64(apply.Microseconds())/1000/float64(n), "apply-ms")
		b.ReportMetric(float64(restore.Microseconds())/1000, "restore-ms")
	}
}

// BenchmarkRestoreGuest64MiB is a native worker resuming a lease from a
// checkpoint of examples/bigstate.c with 64 MiB of live heap, as the
// coordinator stores it (deflate) or raw: check the file's hash and decode
// it (inflate, hash every page, check the state hash: DecodeBytes), then
// instantiate the module, grow and fill its memory, rewind, and run until
// the guest executes again (decode-ms, resume-ms; ns/op is both).
func BenchmarkRestoreGuest64MiB(b *testing.B) {
	e := testEngine(b)
	m, err := e.CompileSuspendable(context.Background(), example(b, "bigstate.wasm"), instrument.DefaultOptions())
	if err != nil || !m.Suspendable() {
		b.Fatal(err)
	}
	files := map[bool][]byte{}
	rep := e.Run(context.Background(), m, sandbox.Input{Args: []string{"bigstate", "64", "100", "16"}, Stdout: io.Discard, Stderr: io.Discard,
		OnCheckpoint: func(cp *sandbox.Checkpoint) error {
			if cp.Snapshot.Fuel < 50_000_000 || len(files) > 0 { // after the heap is filled
				return nil
			}
			for _, compress := range []bool{false, true} {
				var buf bytes.Buffer
				if err := snapshot.Encode(&buf, cp.Snapshot, cp.Digest, snapshot.Options{Compress: compress}); err != nil {
					return err
				}
				files[compress] = buf.Bytes()
			}
			return nil
		}}, sandbox.Limits{CheckpointEvery: 466_000})
	if rep.Status != sandbox.StatusOK || len(files) != 2 {
		b.Fatalf("%+v", rep)
	}
	for _, compress := range []bool{false, true} {
		name := "raw"
		if compress {
			name = "deflate"
		}
		file := files[compress]
		b.Run(name, func(b *testing.B) {
			var decode, resume time.Duration
			var ru0 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				start := time.Now()
				var sum [32]byte
				var hashed sync.WaitGroup
				hashed.Go(func() { sum = sha256.Sum256(file) })
				s, _, err := snapshot.DefaultLimits.DecodeBytes(file)
				hashed.Wait()
				if err != nil || sum == [32]byte{} {
					b.Fatal(err)
				}
				decode += time.Since(start)
				start = time.Now()
				res := e.Run(context.Background(), m, sandbox.Input{Args: []string{"bigstate", "64", "100", "16"}, Stdout: io.Discard, Stderr: io.Discard, Resume: s},
					sandbox.Limits{Fuel: s.Fuel + 1})
				resume += time.Since(start)
				if res.Status != sandbox.StatusFuelExhausted {
					b.Fatalf("resume: %+v", res)
				}
			}
			var ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(len(file)), "file-bytes")
			b.ReportMetric(float64(decode.Microseconds())/1000/float64(b.N), "decode-ms")
			b.ReportMetric(float64(resume.Microseconds())/1000/float64(b.N), "resume-ms")
		})
	}
}
