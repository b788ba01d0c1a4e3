package coordinator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/coordinator"
)

// The public summary and the contribute page say how results are checked
// only as the jobs' settings make it true: one replica, nothing said;
// several, that they are computed by that many volunteers and compared.
func TestContributeSaysOnlyWhatIsTrue(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	one, err := e.alice.Submit(ctx, echoJob(t, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	three, err := e.bob.Submit(ctx, echoJob(t, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := httpDo(t, http.MethodGet, e.srv.URL+"/v1/contribute/summary")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("summary: %d %s", resp.StatusCode, body)
	}
	checkSchema(t, loadOpenAPI(t, e.srv.URL), "PublicSummary", body)
	var s coordinator.PublicSummary
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	for _, claim := range []string{"replicat", "checked", "verified", "compared"} {
		if strings.Contains(strings.ToLower(s.Coordinator.Description), claim) {
			t.Errorf("the coordinator's description claims checking (%q): %q", claim, s.Coordinator.Description)
		}
	}
	if len(s.Jobs) != 2 {
		t.Fatalf("groups %+v", s.Jobs)
	}
	for _, g := range s.Jobs {
		switch g.Owner {
		case "alice":
			if g.ModuleHash != one.ModuleHash || g.Verification != "" || g.TasksPending != 2 {
				t.Errorf("one replica: %+v", g)
			}
		case "bob":
			if g.ModuleHash != three.ModuleHash || g.Verification != "each result is computed by 3 volunteers and compared" {
				t.Errorf("three replicas: %+v", g)
			}
		default:
			t.Errorf("group %+v", g)
		}
	}
	// The page and its script claim nothing themselves: what they say of
	// checking is the summary's verification, shown as it is.
	_, page := httpDo(t, http.MethodGet, e.srv.URL+"/contribute")
	_, script := httpDo(t, http.MethodGet, e.srv.URL+"/js/browser/contribute.js")
	for name, text := range map[string]string{"contribute.html": string(page), "contribute.js": string(script)} {
		for _, claim := range []string{"replicat", "checked", "verified", "compared"} {
			if strings.Contains(strings.ToLower(text), claim) {
				t.Errorf("%s says %q", name, claim)
			}
		}
	}
	if !strings.Contains(string(script), "g.verification") {
		t.Error("contribute.js does not show the groups' verification")
	}
	// The strings internal/browser's job test waits for are still there.
	if !strings.Contains(string(page), `id="jobs"`) {
		t.Error("contribute.html lost the jobs table")
	}
}
