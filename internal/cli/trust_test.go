package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

// token create --kind makes owner, volunteer and trusted tokens; list shows
// each one's kind; a volunteer's token is refused by the API; an unknown
// kind is a usage error that stores nothing.
func TestTokenKinds(t *testing.T) {
	c := startCoordinator(t)
	owner := c.token(t, "alice", "laptop")
	code, vol, errOut := runCLI(t, "", "token", "create", "--data", c.data, "--kind", "volunteer", "--owner", "carol", "--name", "carol-pc")
	if code != 0 || !strings.HasPrefix(vol, "crt_") || !strings.Contains(errOut, `volunteer token for account "carol"`) || !strings.Contains(errOut, "crowdrun worker --token") {
		t.Fatalf("token create --kind volunteer: exit %d, stdout %q, stderr %q", code, vol, errOut)
	}
	if code, _, errOut := runCLI(t, "", "token", "create", "--data", c.data, "--kind", "trusted", "--owner", "lab", "--name", "lab"); code != 0 {
		t.Fatalf("token create --kind trusted: exit %d: %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "", "token", "create", "--data", c.data, "--kind", "admin"); code != exitUsage || out != "" || !strings.Contains(errOut, `--kind "admin": want owner, volunteer or trusted`) {
		t.Fatalf("token create --kind admin: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, out, _ := runCLI(t, "", "token", "list", "--data", c.data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !slices.Equal(strings.Fields(lines[0]), []string{"ID", "NAME", "OWNER", "KIND", "CREATED", "REVOKED"}) {
		t.Fatalf("token list:\n%s", out)
	}
	for i, want := range [][]string{{"1", "laptop", "alice", "owner"}, {"2", "carol-pc", "carol", "volunteer"}, {"3", "lab", "lab", "trusted"}} {
		if f := strings.Fields(lines[i+1]); len(f) < 4 || !slices.Equal(f[:4], want) {
			t.Errorf("token list line %q, want %v", lines[i+1], want)
		}
	}
	if code, _, errOut := runCLI(t, "", "status", "--server", c.url, "--token", owner); code != 0 {
		t.Fatalf("status with the owner token: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "status", "--server", c.url, "--token", strings.TrimSpace(vol)); code != exitInternal || !strings.Contains(errOut, "this is a volunteer token") {
		t.Fatalf("status with a volunteer token: exit %d: %s", code, errOut)
	}
	// The help says what the kinds are for.
	_, help, _ := runCLI(t, "", "token", "create", "--help")
	for _, want := range []string{"--kind KIND", "volunteer (authenticates workers)", "refused by the API"} {
		if !strings.Contains(help, want) {
			t.Errorf("token create --help lacks %q:\n%s", want, help)
		}
	}
}

// helloCatcher is a WebSocket endpoint that reads each worker's hello and
// closes the connection.
func helloCatcher(t *testing.T) (url string, hellos <-chan *protocol.Hello) {
	ch := make(chan *protocol.Hello, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		_, b, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		m, err := protocol.Decode(b)
		if h, ok := m.(*protocol.Hello); err == nil && ok {
			select {
			case ch <- h:
			default:
			}
		}
		ws.Close(websocket.StatusPolicyViolation, "test: hello caught")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

// runWorkerUntilHello runs `crowdrun worker` until the endpoint has read its
// first hello, then stops it.
func runWorkerUntilHello(t *testing.T, args ...string) *protocol.Hello {
	t.Helper()
	url, hellos := helloCatcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		m := &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr}
		done <- m.Run(ctx, append([]string{"worker", "--server", url, "--name", "w1", "--slots", "1", "--quiet"}, args...))
	}()
	var h *protocol.Hello
	select {
	case h = <-hellos:
	case code := <-done:
		cancel()
		t.Fatalf("worker %q exited %d before its hello: %s", args, code, stderr.String())
	}
	cancel()
	<-done
	return h
}

// worker --token sends the token in hello (its default is
// $CROWDRUN_TOKEN); without one, hello carries none.
func TestWorkerToken(t *testing.T) {
	t.Setenv("CROWDRUN_TOKEN", "")
	if h := runWorkerUntilHello(t, "--token", "crt_volunteer"); h.Token != "crt_volunteer" || h.Worker != "w1" {
		t.Errorf("--token: hello %+v", h)
	}
	if h := runWorkerUntilHello(t); h.Token != "" {
		t.Errorf("no token: hello carries %q", h.Token)
	}
	t.Setenv("CROWDRUN_TOKEN", "crt_from_env")
	if h := runWorkerUntilHello(t); h.Token != "crt_from_env" {
		t.Errorf("CROWDRUN_TOKEN: hello carries %q", h.Token)
	}
	if h := runWorkerUntilHello(t, "--token", "crt_flag"); h.Token != "crt_flag" {
		t.Errorf("--token over CROWDRUN_TOKEN: hello carries %q", h.Token)
	}
	// The help names the flag and does not show the secret.
	_, help, _ := runCLI(t, "", "worker", "--help")
	if !strings.Contains(help, "--token TOKEN") || strings.Contains(help, "crt_from_env") {
		t.Errorf("worker --help:\n%s", help)
	}
}

// submit --max-error sets the job's target; status shows it in the trust
// line, and status --json in the job's trust. Out of (0, 1] it is a usage
// error, checked before anything is sent.
func TestSubmitMaxErrorAndTrustStatus(t *testing.T) {
	c := startCoordinator(t)
	tok := c.token(t, "alice", "laptop")
	lines := filepath.Join(t.TempDir(), "numbers.txt")
	if err := os.WriteFile(lines, []byte("12\n97\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	submit := func(extra ...string) (int, string, string) {
		return runCLI(t, "", append([]string{"submit", "--server", c.url, "--token", tok, "--module", examplePath("factor.wasm"), "--lines", lines}, extra...)...)
	}
	for _, bad := range []string{"0", "-0.1", "1.5", "NaN"} {
		if code, _, errOut := submit("--max-error", bad); code != exitUsage || !strings.Contains(errOut, "--max-error") {
			t.Errorf("--max-error %s: exit %d, %q", bad, code, errOut)
		}
	}
	code, out, errOut := submit("--max-error", "0.001")
	if code != 0 || strings.TrimSpace(out) != "1" || !strings.Contains(errOut, "max error 0.001") {
		t.Fatalf("submit --max-error 0.001: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := submit(); code != 0 || strings.TrimSpace(out) != "2" || !strings.Contains(errOut, "max error 1e-06") {
		t.Fatalf("submit: exit %d, %q, %q", code, out, errOut)
	}
	_, status, _ := runCLI(t, "", "status", "--server", c.url, "--token", tok, "1")
	if !strings.Contains(status, "\ntrust: 0 verified · 0 verifying · 0 audits · 0 disputes settled · 0 lies caught · 0 unsettled (max error 0.001)\n") {
		t.Errorf("status 1:\n%s", status)
	}
	_, js, _ := runCLI(t, "", "status", "--server", c.url, "--token", tok, "--json", "2")
	var j api.Job
	if err := json.Unmarshal([]byte(js), &j); err != nil || j.Trust.MaxError != 1e-6 {
		t.Fatalf("status --json 2: %v\n%s", err, js)
	}
	if !strings.Contains(js, `"trust": {`) || !strings.Contains(js, `"lies_caught": 0`) {
		t.Errorf("status --json lacks the trust object:\n%s", js)
	}
}

func TestTrustLine(t *testing.T) {
	got := trustLine(&api.Trust{MaxError: 1e-6, Verified: 120, Verifying: 4, Audits: 1, Disputes: 1, LiesCaught: 1})
	if want := "trust: 120 verified · 4 verifying · 1 audit · 1 dispute settled · 1 lie caught · 0 unsettled (max error 1e-06)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got = trustLine(&api.Trust{MaxError: 0.01, Verified: 3, Audits: 7, Disputes: 2, LiesCaught: 2, Unsettled: 1, Reopened: 5, ExtraReplicas: 1})
	if want := "trust: 3 verified · 0 verifying · 7 audits · 2 disputes settled · 2 lies caught · 1 unsettled · 5 tasks re-verified · 1 replica added (max error 0.01)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// results prints each task's verification as the API gives it: method,
// the accounts that confirmed the result, the outcome, and a disputed
// task's note. The tasks are settled through the store (the coordinator's
// verifier has no result to decide: no worker connects).
func TestResultsShowVerification(t *testing.T) {
	c := startCoordinator(t)
	tok := c.token(t, "alice", "laptop")
	lines := filepath.Join(t.TempDir(), "numbers.txt")
	if err := os.WriteFile(lines, []byte("12\n97\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "submit", "--server", c.url, "--token", tok, "--module", examplePath("factor.wasm"), "--lines", lines); code != 0 {
		t.Fatalf("submit: %s", errOut)
	}
	ctx := context.Background()
	db, err := sqlite.OpenDir(ctx, c.data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out, err := db.BlobPut(ctx, &store.BlobPutParams{Data: []byte("12: 2 2 3\n")})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := db.BlobPut(ctx, &store.BlobPutParams{Data: []byte{}})
	if err != nil {
		t.Fatal(err)
	}
	res := store.Result{Status: "ok", StdoutHash: out, StderrHash: empty, Fuel: 99}
	for id, s := range map[int64]store.TaskSettleParams{
		1: {State: store.TaskDone, Verification: store.VerifyAudit, VerifiedBy: []string{"carol", "dave"}},
		2: {State: store.TaskDisputed, Verification: store.VerifyTrusted, Note: "the trusted re-run ran out of time"},
	} {
		s.TaskID, s.Result, s.Now = id, res, time.Now()
		if _, err := db.TaskSettle(ctx, &s); err != nil {
			t.Fatalf("settling task %d: %v", id, err)
		}
	}
	code, got, errOut := runCLI(t, "", "results", "--server", c.url, "--token", tok, "1")
	if code != 0 {
		t.Fatalf("results: exit %d: %s", code, errOut)
	}
	vs := map[int]api.Verification{}
	sc := bufio.NewScanner(strings.NewReader(got))
	for sc.Scan() {
		var l resultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		vs[l.Task] = l.Verification
	}
	if v := vs[0]; v.Method != "audit" || v.Outcome != "verified" || !slices.Equal(v.By, []string{"carol", "dave"}) {
		t.Errorf("task 0: %+v", v)
	}
	if v := vs[1]; v.Method != "trusted" || v.Outcome != "disputed" || v.Note != "the trusted re-run ran out of time" {
		t.Errorf("task 1: %+v", v)
	}
	if !strings.Contains(got, `"verification":{"method":"audit","replicas":1,"by":["carol","dave"],"outcome":"verified"}`) {
		t.Errorf("results lines:\n%s", got)
	}
	// --out writes the same in task-N.json.
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, "", "results", "--server", c.url, "--token", tok, "--out", dir, "1"); code != 0 {
		t.Fatalf("results --out: %s", errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "task-0.json"))
	if err != nil || !bytes.Contains(b, []byte(`"method": "audit"`)) || !bytes.Contains(b, []byte(`"carol"`)) {
		t.Errorf("task-0.json: %v\n%s", err, b)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Fatal("no task-0.json")
	}
}
