package coordinator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/worker"
)

// fuzzRoutes are the routes FuzzAPI sends requests to: every route of the
// API and its pages but the WebSocket endpoint (its handshake errors are
// the WebSocket library's, and its messages are fuzzed by protocol's
// FuzzDecode). A path parameter is what the fuzzer gives.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/jobs"},
	{"GET", "/v1/jobs"},
	{"GET", "/v1/jobs/{id}"},
	{"GET", "/v1/jobs/{id}/results"},
	{"POST", "/v1/jobs/{id}/cancel"},
	{"GET", "/v1/jobs/{id}/segments"},
	{"GET", "/v1/workers"},
	{"GET", "/v1/credit"},
	{"GET", "/v1/workers/snapshots/{hash}"},
	{"GET", "/v1/modules/{hash}"},
	{"GET", "/v1/contribute/summary"},
	{"GET", "/v1/contribute/credit"},
	{"GET", "/js/{file...}"},
	{"GET", "/"},
	{"GET", "/healthz"},
	{"GET", "/contribute"},
	{"GET", "/leaderboard"},
}

var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"}

// knownCodes are the error codes the API documents (api.Code*, and the
// sandbox verdicts a refused module gets with 422).
var knownCodes = map[string]bool{api.CodeBadRequest: true, api.CodeTooLarge: true, api.CodeUnauthorized: true, api.CodeNotFound: true,
	api.CodeMethodNotAllowed: true, api.CodeConflict: true, api.CodeInvalidModule: true, api.CodeForbiddenImport: true,
	api.CodeQuotaExceeded: true, api.CodeRateLimited: true}

// FuzzAPI sends fuzzed requests — route, method, path parameter, query and
// body — to a real coordinator's handler on a SQLite store and checks that
// it never answers 5xx, that every 4xx is the documented JSON error shape
// with a known code, that a refused submission stores nothing (no job, none
// of its blobs), that a documented query parameter with a value of the
// wrong type is refused with 400, and that every 2xx JSON body is JSON.
// Accepted jobs are cancelled at once, so that a results stream with
// follow=true ends. Seeded with real submissions (a valid one, each kind of
// refusal of TestBadSubmissions) and the documented queries; crashers are
// kept in testdata/fuzz/FuzzAPI.
func FuzzAPI(f *testing.F) {
	e := newEnv(f, nil)
	ctx := context.Background()
	if _, err := e.db.TokenInsert(ctx, &store.TokenInsertParams{Kind: store.TokenVolunteer, Owner: "vera", Name: "v", Hash: coordinator.HashToken("tok-vera"), Now: time.Now()}); err != nil {
		f.Fatal(err)
	}
	seed := func(n int) []byte {
		req := &api.SubmitRequest{Name: "echo", Module: readWasm(f, "echo.wasm"), MaxError: 1}
		for i := 0; i < n; i++ {
			req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(strconv.Itoa(i) + "\n")})
		}
		b, err := json.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	// Two jobs of alice's to read: job 1 run to the end by a worker (its
	// results stream has lines), job 2 cancelled.
	if code, body := fuzzDo(e, "POST", "/v1/jobs", "", seed(2), 1); code != http.StatusCreated {
		f.Fatalf("seed job: %d %s", code, body)
	}
	w := e.startConfigured(worker.Config{Name: "w1"})
	rctx, cancel := context.WithTimeout(ctx, hangGuard)
	if err := e.alice.Results(rctx, 1, 0, true, func(*api.TaskResult) error { return nil }); err != nil {
		f.Fatal(err)
	}
	cancel()
	w.stop()
	if code, body := fuzzDo(e, "POST", "/v1/jobs", "", seed(2), 1); code != http.StatusCreated {
		f.Fatalf("seed job: %d %s", code, body)
	}
	fuzzDo(e, "POST", "/v1/jobs/2/cancel", "", nil, 1)

	valid := seed(1)
	for _, s := range []struct {
		route  uint8
		arg    string
		query  string
		body   []byte
		auth   uint8
		method uint8
	}{
		{0, "", "", valid, 1, 0},
		{0, "", "", []byte(`{"module": "AAA`), 1, 0},
		{0, "", "", []byte(`{"modul": "AAAA"}`), 1, 0},
		{0, "", "", []byte(`{"module": "AGFzbQEAAAA=", "tasks":[{}], "replicas": 50}`), 1, 0},
		{0, "", "", []byte(`{"module": "aGVsbG8=", "tasks":[{"stdin":"eA==","files":[{"name":"a/b","data":""}]}]}`), 1, 0},
		{0, "", "", []byte(`{"module": "AGFzbQEAAAA=", "tasks":[{"env":["NOEQUALS"]}], "limits":{"fuel":1,"memory_bytes":65536,"max_output":10,"timeout_ms":5}, "max_error": 0.5, "priority": 3, "name": "n"}`), 1, 0},
		{0, "", "", valid, 3, 0},
		{0, "", "", valid, 0, 0},
		{0, "", "", valid, 2, 0},
		{1, "", "", nil, 1, 0},
		{2, "1", "", nil, 1, 0},
		{2, "-1", "", nil, 1, 0},
		{3, "1", "after=0&follow=true", nil, 1, 0},
		{3, "2", "after=x", nil, 1, 0},
		{3, "2", "follow=yes", nil, 1, 0},
		{4, "1", "", nil, 1, 0},
		{5, "1", "", nil, 1, 0},
		{6, "", "", nil, 1, 0},
		{7, "", "account=alice&site=Example.ORG&since=2026-01-02", nil, 0, 0},
		{7, "", "since=yesterday&x=1", nil, 0, 0},
		{8, strings.Repeat("a", 64), "", nil, 0, 0},
		{9, strings.Repeat("0", 64), "", nil, 0, 0},
		{10, "", "", nil, 0, 0},
		{11, "", "worker=w1", nil, 0, 0},
		{11, "", "worker=", nil, 0, 0},
		{12, "browser/client.js", "", nil, 0, 0},
		{12, "../go.mod", "", nil, 0, 0},
		{13, "", "", nil, 0, 1},
		{14, "", "", nil, 0, 0},
		{15, "", "embed=1", nil, 0, 0},
		{16, "", "", nil, 0, 0},
	} {
		f.Add(s.route, s.method, s.arg, s.query, s.body, s.auth)
	}

	f.Fuzz(func(t *testing.T, route, method uint8, arg, query string, body []byte, auth uint8) {
		// A watchdog: the fuzzer has no per-input timeout, and an input
		// that hangs would stall it silently instead of being recorded
		// (with every goroutine's stack, to see where it hangs).
		watchdog := time.AfterFunc(30*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("input stuck for 30s:\n%s", buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		m := rt.method
		if method%8 >= 6 { // now and then another method (405)
			m = fuzzMethods[int(method)%len(fuzzMethods)]
		}
		p := rt.path
		for _, param := range []string{"{id}", "{hash}", "{file...}"} {
			esc := url.PathEscape(arg)
			if param == "{file...}" {
				esc = strings.ReplaceAll(esc, "%2F", "/")
			}
			p = strings.Replace(p, param, esc, 1)
		}
		isSubmit := m == "POST" && p == "/v1/jobs"
		var sub api.SubmitRequest
		var blobsBefore map[string]bool
		jobsBefore := 0
		if isSubmit {
			jobsBefore = fuzzJobCount(t, e)
			if json.Unmarshal(body, &sub) == nil {
				blobsBefore = fuzzBlobs(t, e, &sub)
			}
		}

		code, resp, ctype := fuzzDoType(e, m, p, query, body, auth)
		if code == 0 {
			return // a request no server would parse
		}
		if code >= 500 {
			t.Fatalf("%s %s?%s: %d %s", m, p, query, code, resp)
		}
		if code >= 400 {
			checkErrorShape(t, code, ctype, resp)
		}
		if code >= 200 && code < 300 && strings.HasPrefix(ctype, "application/json") && !json.Valid(resp) {
			t.Fatalf("%s %s: %d with a body that is not JSON: %.200q", m, p, code, resp)
		}
		if code == 200 && strings.HasPrefix(ctype, "application/x-ndjson") {
			sc := bufio.NewScanner(bytes.NewReader(resp))
			sc.Buffer(nil, 1<<24)
			for sc.Scan() {
				if !json.Valid(sc.Bytes()) {
					t.Fatalf("results line is not JSON: %.200q", sc.Bytes())
				}
			}
		}
		if strings.HasSuffix(p, "/results") && m == "GET" && code != 401 {
			checkResultsQuery(t, query, code)
		}
		if !isSubmit {
			return
		}
		if code == http.StatusCreated {
			var j api.Job
			if err := json.Unmarshal(resp, &j); err != nil || j.ID <= 0 {
				t.Fatalf("201 without a job: %s", resp)
			}
			// Cancelled at once: every job in the store is finished, so
			// results?follow=true returns.
			if c, b := fuzzDo(e, "POST", "/v1/jobs/"+strconv.FormatInt(j.ID, 10)+"/cancel", "", nil, 1); c != 200 && c != 401 {
				t.Fatalf("cancel: %d %s", c, b)
			}
			return
		}
		if n := fuzzJobCount(t, e); n != jobsBefore {
			t.Fatalf("a refused submission (%d %s) changed the number of jobs from %d to %d", code, resp, jobsBefore, n)
		}
		for h, had := range blobsBefore {
			if !had && fuzzBlobExists(t, e, h) {
				t.Fatalf("a refused submission (%d %s) stored blob %s", code, resp, h)
			}
		}
	})
}

// fuzzDo sends one request to the coordinator's handler; auth: 0 none,
// 1 alice's owner token, 2 an unknown token, 3 a volunteer's token.
func fuzzDo(e *env, method, path, query string, body []byte, auth uint8) (int, []byte) {
	code, b, _ := fuzzDoType(e, method, path, query, body, auth)
	return code, b
}

func fuzzDoType(e *env, method, path, query string, body []byte, auth uint8) (int, []byte, string) {
	u := "http://coordinator" + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil || strings.ContainsAny(query, " \t\r\n#") || req.URL.Path != path && req.URL.RawPath != path {
		return 0, nil, ""
	}
	switch auth % 4 {
	case 1:
		req.Header.Set("Authorization", "Bearer tok-alice")
	case 2:
		req.Header.Set("Authorization", "Bearer tok-mallory")
	case 3:
		req.Header.Set("Authorization", "Bearer tok-vera")
	}
	// A guard, not a measure: no request of the fuzzer may wait long (a
	// results stream of a running job would, and every job is finished).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := httptest.NewRecorder()
	e.c.Handler().ServeHTTP(w, req.WithContext(ctx))
	return w.Code, w.Body.Bytes(), w.Header().Get("Content-Type")
}

// checkErrorShape holds a 4xx answer to the API's error shape:
// {"error": {"code": ..., "message": ...}} as JSON, nothing else.
func checkErrorShape(t *testing.T, code int, ctype string, body []byte) {
	t.Helper()
	if ctype != "application/json" {
		t.Fatalf("%d with Content-Type %q, not the API's JSON error: %.200q", code, ctype, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var ae api.Error
	if err := dec.Decode(&ae); err != nil {
		t.Fatalf("%d with a body that is not the API's error shape (%v): %.200q", code, err, body)
	}
	if !knownCodes[ae.Err.Code] && code != http.StatusUnprocessableEntity || ae.Err.Code == "" || ae.Err.Message == "" {
		t.Fatalf("%d with error code %q, message %q", code, ae.Err.Code, ae.Err.Message)
	}
}

// checkResultsQuery: /v1/jobs/{id}/results documents after (integer) and
// follow (boolean); a value of another type is refused, not read as the
// default.
func checkResultsQuery(t *testing.T, query string, code int) {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		return
	}
	bad := len(q["after"]) > 1 || len(q["follow"]) > 1
	if vs, ok := q["after"]; ok {
		for _, v := range vs {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil && v != "" {
				bad = true
			}
		}
	}
	if vs, ok := q["follow"]; ok {
		for _, v := range vs {
			if v != "true" && v != "false" && v != "" {
				bad = true
			}
		}
	}
	if bad && code == http.StatusOK {
		t.Fatalf("results?%s: %d, want 400 for a parameter of the wrong type", query, code)
	}
}

func fuzzJobCount(t *testing.T, e *env) int {
	js, err := e.db.JobList(context.Background(), &store.JobListParams{Owner: "alice", Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return len(js)
}

// fuzzBlobs: whether each blob a submission would store (stdins, files)
// is in the store already.
func fuzzBlobs(t *testing.T, e *env, s *api.SubmitRequest) map[string]bool {
	out := map[string]bool{}
	for i, tk := range s.Tasks {
		if i == 8 {
			break
		}
		for _, b := range append([][]byte{tk.Stdin}, fileData(tk.Files)...) {
			h := store.Hash(b)
			out[h] = fuzzBlobExists(t, e, h)
		}
	}
	return out
}

func fileData(fs []api.File) [][]byte {
	var out [][]byte
	for _, f := range fs {
		out = append(out, f.Data)
	}
	return out
}

func fuzzBlobExists(t *testing.T, e *env, h string) bool {
	_, err := e.db.BlobGet(context.Background(), h)
	return err == nil
}
