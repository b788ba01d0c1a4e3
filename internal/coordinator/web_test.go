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
// only as the jobs' settings make it true, in plain words: one replica
// with max error 1, accepted unchecked; one replica with a max error below
// 1 (the default), spot-checked by other volunteers (audits, docs/trust.md),
// disagreements settled on the coordinator; several replicas, computed by
// that many different volunteers and compared, disagreements settled on
// the coordinator whatever the max error.
func TestContributeSaysOnlyWhatIsTrue(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	unchecked, err := e.alice.Submit(ctx, echoJob(t, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	spot := echoJob(t, 3, 1)
	spot.MaxError = 0 // the default, 1e-6
	if _, err := e.alice.Submit(ctx, spot); err != nil {
		t.Fatal(err)
	}
	three, err := e.bob.Submit(ctx, echoJob(t, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	two := echoJob(t, 1, 2)
	two.MaxError = 1e-3
	if _, err := e.bob.Submit(ctx, two); err != nil {
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
	// One group per owner, module and way of checking, each saying what
	// is true of its jobs.
	const settled = "; any disagreement is settled by this server running that part itself"
	want := map[[2]string]int{ // owner, verification → tasks pending
		{"alice", "results are accepted unchecked: each is what one volunteer's computer reported"}: 2,
		{"alice", "results are spot-checked by other volunteers" + settled}:                         3,
		{"bob", "each result is computed by 3 different volunteers and compared" + settled}:         2,
		{"bob", "each result is computed by 2 different volunteers and compared" + settled}:         1,
	}
	if len(s.Jobs) != len(want) {
		t.Fatalf("groups %+v", s.Jobs)
	}
	for _, g := range s.Jobs {
		n, ok := want[[2]string{g.Owner, g.Verification}]
		if !ok || g.TasksPending != n || g.Jobs != 1 || (g.Owner == "alice" && g.ModuleHash != unchecked.ModuleHash) || (g.Owner == "bob" && g.ModuleHash != three.ModuleHash) {
			t.Errorf("group %+v", g)
		}
		delete(want, [2]string{g.Owner, g.Verification})
	}
	if len(want) != 0 {
		t.Errorf("missing groups %v", want)
	}
	// The page and its script claim nothing themselves: what they say of
	// checking is the summary's verification, shown as it is.
	_, page := httpDo(t, http.MethodGet, e.srv.URL+"/contribute")
	_, script := httpDo(t, http.MethodGet, e.srv.URL+"/js/browser/contribute.js")
	for name, text := range map[string]string{"contribute.html": string(page), "contribute.js": string(script)} {
		// verified_links is a field of GET /v1/contribute/me the script
		// reads (an account's links re-run by others), not a claim shown.
		text = strings.ReplaceAll(text, "verified_links", "")
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
