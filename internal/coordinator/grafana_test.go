package coordinator_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// metricName finds the metric names a PromQL expression of the dashboard
// names: crowdrun's, the Go runtime's and the process's.
var metricName = regexp.MustCompile(`\b(?:crowdrun|go|process)_[a-zA-Z0-9_]+`)

// dashboardQueries walks the dashboard JSON for every PromQL expression:
// panel targets' expr and template variables' queries.
func dashboardQueries(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
				*out = append(*out, s)
				continue
			}
			dashboardQueries(x, out)
		}
	case []any:
		for _, x := range v {
			dashboardQueries(x, out)
		}
	}
}

// The Grafana dashboard in docs/grafana cannot rot: every metric its
// queries name is exported by a coordinator (a histogram's _bucket, _count
// and _sum series by its family), every crowdrun metric exported has a
// panel, and every panel queries something.
func TestGrafanaDashboard(t *testing.T) {
	e := newEnv(t, nil)
	fams := scrape(t, e.srv.URL)

	b, err := os.ReadFile("../../docs/grafana/crowdrun.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			ID      int
			Type    string
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("docs/grafana/crowdrun.json: %v", err)
	}
	var raw any
	json.Unmarshal(b, &raw)
	var queries []string
	dashboardQueries(raw, &queries)

	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
	}
	used := map[string]bool{}
	for _, q := range queries {
		if !balanced(q) {
			t.Errorf("query %q: brackets do not balance", q)
		}
		names := metricName.FindAllString(q, -1)
		if len(names) == 0 {
			t.Errorf("query %q names no metric", q)
		}
		for _, n := range names {
			fam := exportedFamily(fams, n)
			if fam == "" {
				t.Errorf("the dashboard queries %s, which /metrics does not export (in %q)", n, q)
				continue
			}
			used[fam] = true
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "crowdrun_") && !used[name] {
			t.Errorf("%s is exported but no panel of the dashboard shows it", name)
		}
	}
	if len(used) < 20 {
		t.Fatalf("the dashboard uses %d metrics: %v", len(used), used)
	}
}

// exportedFamily is the family a series name belongs to, "" if none.
func exportedFamily(fams families, series string) string {
	if _, ok := fams[series]; ok {
		return series
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(series, suffix)
		if f := fams[base]; ok && f != nil && slices.Contains([]dto.MetricType{dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY}, f.GetType()) {
			return base
		}
	}
	return ""
}

// balanced reports whether a query's (), [] and {} nest, outside quotes.
func balanced(q string) bool {
	var stack []rune
	quoted := false
	for _, r := range q {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case strings.ContainsRune("([{", r):
			stack = append(stack, r)
		case strings.ContainsRune(")]}", r):
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !quoted
}
