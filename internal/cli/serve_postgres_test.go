package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
)

// startServeStore starts a serve on the PostgreSQL store at dsn, stopped
// when the test ends (or by the returned func).
func startServeStore(t *testing.T, dsn string) (url string, stop func()) {
	t.Helper()
	return startServeStoreWith(t, dsn, 0)
}

// startServeStoreWith is startServeStore with a fixed checkpoint grid.
func startServeStoreWith(t *testing.T, dsn string, every uint64) (url string, stop func()) {
	t.Helper()
	return startServeOpts(t, serveOptions{storeURL: dsn, checkpointEvery: every})
}

// startServeOpts starts a serve with o (its address, request limit and
// logger set here).
func startServeOpts(t *testing.T, o serveOptions) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		o.addr, o.maxRequest, o.log, o.ready = "127.0.0.1:0", 16<<20, slog.New(slog.DiscardHandler), func(u string) { urlc <- u }
		errc <- serve(ctx, &Main{Stdout: io.Discard, Stderr: io.Discard}, o)
	}()
	select {
	case url = <-urlc:
	case err := <-errc:
		cancel()
		t.Fatalf("serve --store: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve --store: %v", err)
		}
	}
	t.Cleanup(stop)
	return url, stop
}

// TestServePostgres: `crowdrun serve --store postgres://...` runs a job end
// to end with a native worker, and a second serve on the same database
// finds it after the first stopped.
func TestServePostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	url, stop := startServeStore(t, dsn)
	// A token in the same database, made by the CLI as an operator would.
	var out string
	code, tokOut, errOut := runCLI(t, "", "token", "create", "--store", dsn, "--owner", "alice", "--name", "pg")
	if code != 0 {
		t.Fatalf("token create --store: exit %d, stderr %q", code, errOut)
	}
	tok := strings.TrimSpace(tokOut)
	if code, out, errOut := runCLI(t, "", "token", "list", "--store", dsn); code != 0 || !strings.Contains(out, "pg") || strings.Contains(out, tok) {
		t.Fatalf("token list --store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	lines := filepath.Join(t.TempDir(), "numbers.txt")
	if err := os.WriteFile(lines, []byte("12\n97\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", url, "--token", tok}
	code, out, errOut = runCLI(t, "", append([]string{"submit", "--module", examplePath("factor.wasm"), "--lines", lines}, conn...)...)
	if code != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("submit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	(&testCoordinator{url: url}).startWorker(t)
	code, out, errOut = runCLI(t, "", append([]string{"results", "1", "--follow"}, conn...)...)
	if code != 0 {
		t.Fatalf("results 1 --follow: exit %d, stderr %q", code, errOut)
	}
	if got := sortedStdouts(t, out); got != "12: 2 2 3\n97: 97\n" {
		t.Fatalf("results 1 --follow: %q", out)
	}
	stop()

	url, _ = startServeStore(t, dsn)
	code, out, errOut = runCLI(t, "", "status", "1", "--server", url, "--token", tok)
	if code != 0 || !strings.Contains(out, "2/2 done") {
		t.Fatalf("status 1 after a restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Revoked in the database, refused by the running coordinator.
	if code, _, errOut := runCLI(t, "", "token", "revoke", "pg", "--store", dsn); code != 0 {
		t.Fatalf("token revoke --store: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "status", "1", "--server", url, "--token", tok); code == 0 {
		t.Fatal("a revoked token still works")
	}
}

// TestServeStoreFlag: --store and CROWDRUN_STORE take PostgreSQL URLs only,
// and an unreachable database is an error naming it without its password.
func TestServeStoreFlag(t *testing.T) {
	code, _, errOut := runCLI(t, "", "serve", "--store", "mysql://u:pw@h/db", "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(errOut, "postgres://") {
		t.Fatalf("serve --store mysql://: exit %d, stderr %q", code, errOut)
	}
	t.Setenv(envStore, "sqlite:///x")
	if code, _, errOut := runCLI(t, "", "serve", "--addr", "127.0.0.1:0"); code != exitUsage || !strings.Contains(errOut, "--store") {
		t.Fatalf("serve with %s=sqlite:///x: exit %d, stderr %q", envStore, code, errOut)
	}
	t.Setenv(envStore, "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5")
	code, _, errOut = runCLI(t, "", "serve", "--addr", "127.0.0.1:0")
	if code == 0 || strings.Contains(errOut, "secret") || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("serve on an unreachable database: exit %d, stderr %q", code, errOut)
	}
}

// TestDemoPostgres: `crowdrun demo --store postgres://…` runs the same job
// and checks on a PostgreSQL store.
func TestDemoPostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	t.Setenv(testAsMain, "1") // for the worker processes
	code, out, errOut := runCLI(t, "", "demo", "--store", dsn, "--tasks", "3", "--workers", "2", "--chaos=false", "--verify", "0", "--seed", "5")
	if code != 0 || !strings.Contains(out, "PostgreSQL store") || !strings.Contains(out, "3/3 tasks done") || !strings.Contains(out, "3 compared with a local run: 0 differ") {
		t.Fatalf("demo --store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "demo", "--store", "mysql://x/y"); code != exitUsage || !strings.Contains(errOut, "postgres://") {
		t.Fatalf("demo --store mysql://: exit %d, stderr %q", code, errOut)
	}
}

// TestWorkerFailsOver: a worker given two coordinators on one PostgreSQL
// store (--server A,B) goes on with B when A stops, and the replica A had
// leased resumes on B from the checkpoint A accepted: the result is that
// of an uninterrupted run.
func TestWorkerFailsOver(t *testing.T) { testWorkerFailsOver(t, "--max-error", "1") }

// TestWorkerFailsOverVerified is TestWorkerFailsOver with the default max
// error: the result is verified (audits or a partner) on B, whichever
// coordinator recorded the candidate or planned its checks.
func TestWorkerFailsOverVerified(t *testing.T) { testWorkerFailsOver(t) }

func testWorkerFailsOver(t *testing.T, submitArgs ...string) {
	dsn := pgtest.Schema(t)
	urlA, stopA := startServeStoreWith(t, dsn, 1<<22)
	urlB, _ := startServeStoreWith(t, dsn, 1<<22)
	code, tokOut, errOut := runCLI(t, "", "token", "create", "--store", dsn, "--owner", "alice")
	if code != 0 {
		t.Fatalf("token create --store: exit %d, stderr %q", code, errOut)
	}
	tok := strings.TrimSpace(tokOut)
	const in = "999999999999989 999999999999947 999999999999877\n"
	lines := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(lines, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", append([]string{"submit", "--module", examplePath("factor.wasm"), "--lines", lines, "--server", urlA, "--token", tok}, submitArgs...)...); code != 0 {
		t.Fatalf("submit: exit %d, stderr %q", code, errOut)
	}
	(&testCoordinator{url: urlA + "," + urlB}).startWorker(t)
	// Until A has accepted checkpoints of the replica; then A stops.
	job := func() map[string]any {
		code, out, errOut := runCLI(t, "", "status", "1", "--json", "--server", urlB, "--token", tok)
		if code != 0 {
			t.Fatalf("status --json: exit %d, stderr %q", code, errOut)
		}
		var j map[string]any
		if err := json.Unmarshal([]byte(out), &j); err != nil {
			t.Fatalf("status --json: %v: %q", err, out)
		}
		return j
	}
	ck := func(j map[string]any, k string) float64 {
		c, _ := j["checkpointing"].(map[string]any)
		f, _ := c[k].(float64)
		return f
	}
	for deadline := time.Now().Add(3 * time.Minute); ck(job(), "checkpoints") < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) { // a hang, not a timing
			t.Fatalf("no checkpoints: %v", job())
		}
	}
	stopA()
	code, out, errOut := runCLI(t, "", "results", "1", "--follow", "--server", urlB, "--token", tok)
	if code != 0 {
		t.Fatalf("results on B: exit %d, stderr %q", code, errOut)
	}
	var r resultLine
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("results: %v: %q", err, out)
	}
	code, want, _ := runCLI(t, in, "run", examplePath("factor.wasm"))
	if code != 0 || r.Stdout != want || r.Status != "ok" {
		t.Fatalf("result after the failover: %+v, want stdout %q", r, want)
	}
	if j := job(); ck(j, "resumes") < 1 {
		t.Fatalf("the replica did not resume from a checkpoint on B: %v", j["checkpointing"])
	}
}

// TestIdleWorkersWokenAcrossCoordinators: workers connected only to B,
// idle, run a job submitted on A. B does not poll (IdlePoll off): A's
// insert NOTIFYs every coordinator on the database, and B's dispatcher
// wakes.
func TestIdleWorkersWokenAcrossCoordinators(t *testing.T) {
	dsn := pgtest.Schema(t)
	urlA, _ := startServeStore(t, dsn)
	urlB, _ := startServeOpts(t, serveOptions{storeURL: dsn, idlePoll: -1})
	code, tokOut, errOut := runCLI(t, "", "token", "create", "--store", dsn, "--owner", "alice")
	if code != 0 {
		t.Fatalf("token create --store: exit %d, stderr %q", code, errOut)
	}
	tok := strings.TrimSpace(tokOut)
	(&testCoordinator{url: urlB}).startWorker(t)
	// Until the workers' sessions are open on B (they ask for work at once).
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		ss, err := db.SessionList(context.Background(), &store.SessionListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers not connected to B: %d sessions", len(ss))
		}
	}
	lines := filepath.Join(t.TempDir(), "numbers.txt")
	if err := os.WriteFile(lines, []byte("12\n97\n1001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", urlA, "--token", tok}
	start := time.Now()
	if code, out, errOut := runCLI(t, "", append([]string{"submit", "--module", examplePath("factor.wasm"), "--lines", lines, "--max-error", "1"}, conn...)...); code != 0 || strings.TrimSpace(out) != "1" {
		t.Fatalf("submit on A: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "", append([]string{"results", "1", "--follow"}, conn...)...)
	if code != 0 {
		t.Fatalf("results 1 --follow on A: exit %d, stderr %q", code, errOut)
	}
	if got := sortedStdouts(t, out); got != "1001: 7 11 13\n12: 2 2 3\n97: 97\n" {
		t.Fatalf("results: %q", got)
	}
	t.Logf("submitted on A, run by workers on B: %v", time.Since(start))
}
