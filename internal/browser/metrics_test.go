package browser

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// kindCounts reads one family of GET /metrics by its kind label.
func kindCounts(t *testing.T, server, family string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(server + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, m := range fams[family].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" {
				out[l.GetValue()] += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// A browser tab and a Node worker run a job together: /metrics counts
// their sessions and leases under their kinds, browser and node.
func TestMetricsWorkerKinds(t *testing.T) {
	needChromium(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required (scripts/setup.sh installs nodejs)")
	}
	e := newEnv(t)
	b := newBrowser(t)
	openContribute(t, b, e.srv.URL, "")
	click(t, b)
	script, _ := filepath.Abs(filepath.Join("..", "..", "js", "node", "run.mjs"))
	cmd := exec.Command(node, script, "--server", e.srv.URL, "--name", "node-1", "--slots", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitUntil(t, "a browser and a node session", 2*time.Minute, func() bool {
		k := kindCounts(t, e.srv.URL, "crowdrun_worker_sessions")
		return k["browser"] == 1 && k["node"] == 1
	})

	job := e.submitFactor(factorInputs, 2) // two replicas: both workers run each task
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if got := e.results(ctx, job.ID); len(got) != len(factorInputs) {
		t.Fatalf("%d results", len(got))
	}
	leases := kindCounts(t, e.srv.URL, "crowdrun_leases_granted_total")
	if leases["browser"] < float64(len(factorInputs)) || leases["node"] < float64(len(factorInputs)) || leases["native"] != 0 {
		t.Fatalf("leases granted by kind %v: want each of browser and node to have run every task", leases)
	}
	started := kindCounts(t, e.srv.URL, "crowdrun_worker_sessions_started_total")
	if started["browser"] < 1 || started["node"] < 1 || started["native"] != 0 {
		t.Fatalf("sessions started by kind %v", started)
	}
}
