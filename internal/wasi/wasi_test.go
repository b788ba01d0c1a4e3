package wasi_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/wasi"
)

// These tests drive the host interface through examples/wasitest.wasm, a C
// program compiled with wasi-libc, so they check what real guests see.

var eng *sandbox.Engine

func TestMain(m *testing.M) {
	var err error
	eng, err = sandbox.NewEngine(context.Background())
	if err != nil {
		panic(err)
	}
	code := m.Run()
	eng.Close(context.Background())
	os.Exit(code)
}

type out struct {
	rep            sandbox.Report
	stdout, stderr string
}

func wasitest(t *testing.T, in sandbox.Input, args ...string) out {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", "wasitest.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := eng.Compile(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	in.Args = append([]string{"wasitest"}, args...)
	in.Stdout, in.Stderr = &stdout, &stderr
	rep := eng.Run(context.Background(), m, in, sandbox.Limits{})
	return out{rep, stdout.String(), stderr.String()}
}

func ok(t *testing.T, o out) out {
	t.Helper()
	if o.rep.Status != sandbox.StatusOK {
		t.Fatalf("status %s (%s), stderr %q", o.rep.Status, o.rep.Message, o.stderr)
	}
	return o
}

func TestArgs(t *testing.T) {
	o := ok(t, wasitest(t, sandbox.Input{}, "args", "", "two words", "ünïcode"))
	if want := "wasitest\nargs\n\ntwo words\nünïcode\n"; o.stdout != want {
		t.Fatalf("stdout %q, want %q", o.stdout, want)
	}
}

func TestEnv(t *testing.T) {
	o := ok(t, wasitest(t, sandbox.Input{Env: []string{"B=2", "A=1", "EMPTY="}}, "env"))
	if want := "B=2\nA=1\nEMPTY=\n"; o.stdout != want {
		t.Fatalf("stdout %q, want %q", o.stdout, want)
	}
	// Nothing of the host's environment leaks in.
	o = ok(t, wasitest(t, sandbox.Input{}, "env"))
	if o.stdout != "" {
		t.Fatalf("guest saw environment %q", o.stdout)
	}
}

func TestStdinPartialReads(t *testing.T) {
	input := strings.Repeat("0123456789", 100) + "tail"
	for _, size := range []int{1, 7, 64, 4096} {
		o := ok(t, wasitest(t, sandbox.Input{Stdin: strings.NewReader(input)}, "cat", strconv.Itoa(size)))
		if o.stdout != input {
			t.Fatalf("buffer %d: copied %d bytes, want %d", size, len(o.stdout), len(input))
		}
		// Reads fill their buffer unless input ends: ceil(n/size) reads
		// return data.
		reads := (len(input) + size - 1) / size
		if want := "reads=" + strconv.Itoa(reads) + " bytes=" + strconv.Itoa(len(input)); !strings.Contains(o.stderr, want) {
			t.Fatalf("buffer %d: stderr %q, want %q", size, o.stderr, want)
		}
	}
}

// A reader that hands out one byte at a time, like a slow pipe: the guest
// must see the same reads as with a fast one.
type trickle struct{ s string }

func (r *trickle) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

func TestStdinChunkingIsInvisible(t *testing.T) {
	input := strings.Repeat("abc", 50)
	fast := ok(t, wasitest(t, sandbox.Input{Stdin: strings.NewReader(input)}, "cat", "16"))
	slow := wasitest(t, sandbox.Input{Stdin: &trickle{input}}, "cat", "16")
	if slow.stdout != fast.stdout || !strings.Contains(fast.stderr, "reads=") || slow.stderr != fast.stderr {
		t.Fatalf("fast %q/%q, slow %q/%q", fast.stdout, fast.stderr, slow.stdout, slow.stderr)
	}
}

func TestInputFiles(t *testing.T) {
	in := sandbox.Input{Files: []wasi.File{
		{Name: "data.txt", Data: []byte("hello file\n")},
		{Name: "dir/b.txt", Data: []byte("b")},
		{Name: "dir/a.txt", Data: []byte("a")},
	}}
	for _, path := range []string{"data.txt", "/data.txt", "dir/../data.txt"} {
		if o := ok(t, wasitest(t, in, "file", path)); o.stdout != "hello file\n" {
			t.Fatalf("file %s: stdout %q", path, o.stdout)
		}
	}
	if o := ok(t, wasitest(t, in, "ls", "dir")); o.stdout != "a.txt\nb.txt\n" {
		t.Fatalf("ls dir: %q", o.stdout)
	}
	if o := ok(t, wasitest(t, in, "ls", "/")); o.stdout != "data.txt\ndir\n" {
		t.Fatalf("ls /: %q", o.stdout)
	}
	for _, tc := range []struct{ cmd, path, errno string }{
		{"file", "missing.txt", "errno=44"},   // ENOENT
		{"file", "../etc/passwd", "errno=76"}, // ENOTCAPABLE: no escaping the root
		{"file", "/etc/passwd", "errno=44"},   // the host's files do not exist
		{"write", "data.txt", "errno=69"},     // EROFS
		{"write", "new.txt", "errno=69"},
	} {
		o := wasitest(t, in, tc.cmd, tc.path)
		if o.rep.Status != sandbox.StatusExit || o.rep.ExitCode != 2 || !strings.Contains(o.stderr, tc.errno) {
			t.Fatalf("%s %s: %s %d, stderr %q, want exit 2 with %s", tc.cmd, tc.path, o.rep.Status, o.rep.ExitCode, o.stderr, tc.errno)
		}
	}
}

func TestClockIsVirtualAndDeterministic(t *testing.T) {
	a := ok(t, wasitest(t, sandbox.Input{}, "clock"))
	b := ok(t, wasitest(t, sandbox.Input{}, "clock"))
	if a.stdout != b.stdout {
		t.Fatalf("two runs saw different clocks:\n%s\n%s", a.stdout, b.stdout)
	}
	var prev [2]uint64
	lines := strings.Split(strings.TrimSpace(a.stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("clock output %q: want 6 lines", a.stdout)
	}
	for i, line := range lines {
		name, f, _ := strings.Cut(line, " ")
		if want := [2]string{"realtime", "monotonic"}[i%2]; name != want {
			t.Fatalf("clock line %q, want %s first", line, want)
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("clock output %q: %v", a.stdout, err)
		}
		k := i % 2 // realtime, monotonic interleaved
		if v <= prev[k] {
			t.Fatalf("clock %d went backwards or stood still: %s", k, a.stdout)
		}
		prev[k] = v
		if k == 0 && (v < wasi.RealtimeBaseNS || v > wasi.RealtimeBaseNS+1e12) {
			t.Fatalf("realtime %d is not near the virtual epoch", v)
		}
	}
}

func TestSleepAdvancesVirtualTimeInstantly(t *testing.T) {
	o := ok(t, wasitest(t, sandbox.Input{}, "sleep", "5000"))
	f := strings.Fields(o.stdout)
	if len(f) != 4 || f[0] != "before" || f[2] != "after" {
		t.Fatalf("sleep output %q", o.stdout)
	}
	before, _ := strconv.ParseUint(f[1], 10, 64)
	after, _ := strconv.ParseUint(f[3], 10, 64)
	if after-before < 5e9 || after-before > 5e9+1e6 {
		t.Fatalf("slept %d ns of virtual time, want about 5e9", after-before)
	}
	// A real sleep could not take less than the 5 s asked for, on any
	// machine however slow or busy.
	if o.rep.WallMS >= 5000 {
		t.Fatalf("a virtual 5 s sleep took %d ms of real time: it slept for real", o.rep.WallMS)
	}
}

func TestRandomFollowsSeed(t *testing.T) {
	a := ok(t, wasitest(t, sandbox.Input{Seed: 42}, "random", "32"))
	b := ok(t, wasitest(t, sandbox.Input{Seed: 42}, "random", "32"))
	c := ok(t, wasitest(t, sandbox.Input{Seed: 43}, "random", "32"))
	if a.stdout != b.stdout || a.stdout == c.stdout {
		t.Fatalf("seed 42: %q, %q; seed 43: %q", a.stdout, b.stdout, c.stdout)
	}
	got, err := hex.DecodeString(strings.TrimSpace(a.stdout))
	if err != nil || len(got) != 32 {
		t.Fatalf("random output %q is not 32 hex bytes", a.stdout)
	}
}

func TestExitCodes(t *testing.T) {
	for _, code := range []uint32{0, 1, 42, 255} {
		o := wasitest(t, sandbox.Input{}, "exit", strconv.Itoa(int(code)))
		want := sandbox.StatusExit
		if code == 0 {
			want = sandbox.StatusOK
		}
		if o.rep.Status != want || o.rep.ExitCode != code {
			t.Fatalf("exit %d: got %s %d", code, o.rep.Status, o.rep.ExitCode)
		}
	}
}

func TestStderr(t *testing.T) {
	o := ok(t, wasitest(t, sandbox.Input{}, "stderr", "to stderr"))
	if !strings.Contains(o.stderr, "to stderr") || o.stdout != "" {
		t.Fatalf("stdout %q, stderr %q", o.stdout, o.stderr)
	}
}
