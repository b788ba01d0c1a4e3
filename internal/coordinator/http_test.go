package coordinator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

func httpDo(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// GET / is a page for a person who opened the coordinator's address: it
// links to what there is to see.
func TestIndex(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, link := range []string{`href="/contribute"`, `href="/v1/openapi.json"`, `href="/healthz"`} {
		if !strings.Contains(string(body), link) {
			t.Errorf("GET / does not link %s:\n%s", link, body)
		}
	}
	// Only / itself: an unknown path is still a JSON 404.
	resp, body = httpDo(t, http.MethodGet, e.srv.URL+"/nothing/here")
	var ae api.Error
	if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &ae) != nil || ae.Err.Code != api.CodeNotFound {
		t.Fatalf("GET /nothing/here: %d %q", resp.StatusCode, body)
	}
}

// A known path with a wrong method answers 405 with the methods it takes,
// in the API's JSON error shape; an unknown path answers 404.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        []string
	}{
		{http.MethodPost, "/v1/workers", 405, []string{"GET", "HEAD"}},
		{http.MethodDelete, "/v1/jobs", 405, []string{"GET", "HEAD", "POST"}},
		{http.MethodGet, "/v1/jobs/3/cancel", 405, []string{"POST"}},
		{http.MethodPut, "/healthz", 405, []string{"GET", "HEAD"}},
		{http.MethodPost, "/", 405, []string{"GET", "HEAD"}},
		{http.MethodPost, "/v1/nothing", 404, nil},
		{http.MethodGet, "/v1/jobs/3/nothing", 404, nil},
	} {
		resp, body := httpDo(t, tc.method, e.srv.URL+tc.path)
		var ae api.Error
		if resp.StatusCode != tc.status || json.Unmarshal(body, &ae) != nil || ae.Err.Message == "" {
			t.Errorf("%s %s: %d %q, want %d and a JSON error", tc.method, tc.path, resp.StatusCode, body, tc.status)
			continue
		}
		want := api.CodeNotFound
		if tc.status == 405 {
			want = api.CodeMethodNotAllowed
		}
		if ae.Err.Code != want {
			t.Errorf("%s %s: code %q, want %q", tc.method, tc.path, ae.Err.Code, want)
		}
		var allow []string
		for _, m := range strings.Split(resp.Header.Get("Allow"), ",") {
			if m = strings.TrimSpace(m); m != "" {
				allow = append(allow, m)
			}
		}
		sort.Strings(allow)
		if !slices.Equal(allow, tc.allow) {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, allow, tc.allow)
		}
	}
}

func loadOpenAPI(t *testing.T, url string) *openapi3.T {
	t.Helper()
	resp, body := httpDo(t, http.MethodGet, url+"/v1/openapi.json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	return doc
}

// The served document is a valid OpenAPI document.
func TestOpenAPIValid(t *testing.T) {
	e := newEnv(t, nil)
	doc := loadOpenAPI(t, e.srv.URL)
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation()); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
}

// The document describes exactly the routes the coordinator serves: every
// method and path Handler registers is in it, and nothing else.
func TestOpenAPIRoutes(t *testing.T) {
	e := newEnv(t, nil)
	doc := loadOpenAPI(t, e.srv.URL)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	var served []string
	for _, r := range e.c.Routes() {
		method, path, _ := strings.Cut(r, " ")
		// ServeMux's {name...} wildcard is an OpenAPI parameter {name}.
		path = strings.ReplaceAll(path, "...}", "}")
		path = strings.TrimSuffix(path, "{$}") // "/{$}" is "/" exactly
		served = append(served, method+" "+path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not in openapi.json: %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("in openapi.json but not served: %s", r)
		}
	}
	// Each route answers something other than the mux's 404/405 for its
	// documented method (a route table out of step with the mux).
	for _, r := range served {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{id}", "1", "{hash}", strings.Repeat("0", 64), "{file}", "browser/contribute.js").Replace(path)
		if method == http.MethodGet && (path == "/v1/workers/ws" || path == "/v1/credit/events") {
			continue // a WebSocket upgrade; an event stream (TestLeaderboardAPI reads it)
		}
		resp, body := httpDo(t, method, e.srv.URL+path)
		var ae api.Error
		if json.Unmarshal(body, &ae) == nil && (ae.Err.Code == api.CodeMethodNotAllowed || strings.HasPrefix(ae.Err.Message, "no such endpoint")) {
			t.Errorf("%s %s: %d %s: the mux does not serve it", method, path, resp.StatusCode, body)
		}
	}
}

// checkSchema validates a response body against a schema of openapi.json.
func checkSchema(t *testing.T, doc *openapi3.T, name string, body []byte) {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("openapi.json has no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s does not match the schema %s: %v", body, name, err)
	}
}
