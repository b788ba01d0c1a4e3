package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

// syncBuffer is a bytes.Buffer the demo writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// chromiumPath finds Chromium as internal/browser's tests do.
func chromiumPath() string {
	for _, p := range []string{os.Getenv("CROWDRUN_CHROMIUM"), "/usr/lib/chromium/chromium"} {
		if st, err := os.Stat(p); p != "" && err == nil && !st.IsDir() {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

var stayLine = regexp.MustCompile(`dashboard (http://\S+)/dashboard#/jobs/(\d+) \(token (\S+)\)`)

// TestDemoDashboard: a job run through the demo as a user runs it (4 worker
// processes killed and restarted at random; its default 300 tasks when
// screenshots are asked for, 100 otherwise), then its dashboard page in headless Chromium,
// showing the job's figures as the coordinator's API gives them and its
// plots drawn from the store's records. With $CROWDRUN_SCREENSHOTS set it
// saves the page there (docs/screenshots/demo-job.png). Then the
// leaderboard, which lists the demo's workers with their verified credit.
func TestDemoDashboard(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is required in CI (scripts/setup.sh installs it)")
		}
		t.Skip("Chromium not found (scripts/setup.sh installs it, or set CROWDRUN_CHROMIUM)")
	}
	t.Chdir(t.TempDir())
	t.Setenv(testAsMain, "1") // for the worker processes
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// The demo's defaults when the picture is taken (300 tasks: enough for
	// checkpoints, resumes and churn to show); fewer tasks otherwise, for
	// the same checks at a third of the time.
	args := []string{"demo", "--verify", "5", "--stay"}
	if os.Getenv("CROWDRUN_SCREENSHOTS") == "" {
		args = append(args, "--tasks", "100")
	}
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
		done <- m.Run(ctx, args)
	}()
	var match []string
	for match == nil {
		select {
		case code := <-done:
			t.Fatalf("demo ended (exit %d) before staying up: stdout %q, stderr %q", code, out.String(), errOut.String())
		case <-time.After(100 * time.Millisecond):
			match = stayLine.FindStringSubmatch(out.String())
		}
	}
	base, id, token := match[1], match[2], match[3]
	if !strings.Contains(out.String(), fmt.Sprintf("dashboard: %s/dashboard#/jobs/%s", base, id)) {
		t.Errorf("the demo did not print the dashboard's address when it submitted the job: %q", out.String())
	}
	var job api.Job
	getAs(t, base+"/v1/jobs/"+id, token, &job)
	if job.State != "done" || job.Tasks.Done != job.Tasks.Total {
		t.Fatalf("the demo's job %+v", job)
	}

	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1100, 1450)}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	b, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(b, chromedp.Navigate(base+"/dashboard#/jobs/"+id)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.SetValue(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin-form button"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	ck := job.Checkpointing
	want := map[string]uint64{"stat-done": uint64(job.Tasks.Done), "stat-total": uint64(job.Tasks.Total), "stat-fuel": job.Tasks.Fuel,
		"stat-checkpoints": uint64(ck.Checkpoints), "stat-lost": uint64(ck.LostSegments), "stat-fuel-lost": ck.FuelLost,
		"stat-resumes": uint64(ck.Resumes), "stat-audits": uint64(job.Trust.Audits), "stat-disputes": uint64(job.Trust.Disputes)}
	deadline := time.Now().Add(time.Minute)
	for {
		var bad []string
		for id, w := range want {
			got, _ := chromedp.Run(b, chromedp.Evaluate[string](fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ''`, id)))
			if n, err := strconv.ParseUint(strings.ReplaceAll(got, ",", ""), 10, 64); err != nil || n != w {
				bad = append(bad, fmt.Sprintf("%s %q, want %d", id, got, w))
			}
		}
		plotted, _ := chromedp.Run(b, chromedp.Evaluate[bool](`['plot-tasks','plot-fuel','plot-workers','plot-checkpoints','plot-lost','plot-verify'].every(id => {
			const e = document.getElementById(id); return e && e.querySelector('canvas') && Number(e.dataset.points) > 1 })`))
		if len(bad) == 0 && plotted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's job page: %v (plots drawn: %v)", bad, plotted)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The plots' totals are the job's: tasks done, checkpoints, fuel lost.
	totals := func(id string) []float64 {
		s, err := chromedp.Run(b, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById(%q).dataset.totals`, id)))
		var v []float64
		if err != nil || json.Unmarshal([]byte(s), &v) != nil {
			t.Fatalf("totals of %s: %q %v", id, s, err)
		}
		return v
	}
	if got := totals("plot-tasks"); got[0] != float64(job.Tasks.Done) {
		t.Errorf("tasks plotted %v, want %d done", got, job.Tasks.Done)
	}
	if got := totals("plot-checkpoints"); got[0] != float64(ck.Checkpoints) {
		t.Errorf("checkpoints plotted %v, want %d", got, ck.Checkpoints)
	}
	if got := totals("plot-lost"); got[0] != float64(ck.FuelLost) {
		t.Errorf("fuel lost plotted %v, want %d", got, ck.FuelLost)
	}
	t.Logf("demo job %s: %d tasks, fuel %d, %d checkpoints, %d resumes, %d segments lost (%d fuel), %d audits, %d disputes",
		id, job.Tasks.Done, job.Tasks.Fuel, ck.Checkpoints, ck.Resumes, ck.LostSegments, ck.FuelLost, job.Trust.Audits, job.Trust.Disputes)
	// The leaderboard lists the demo's workers with their verified credit:
	// every account the ledger (GET /v1/credit) credits, with exactly that.
	var credit api.Credit
	getAs(t, base+"/v1/credit", token, &credit)
	ledger := map[string]string{}
	for _, a := range credit.Accounts {
		if a.Total > 0 {
			ledger[a.Account] = strconv.FormatUint(a.Total, 10)
		}
	}
	if len(ledger) == 0 {
		t.Fatalf("the demo's ledger credits nobody: %+v", credit)
	}
	lb, cancelLB := chromedp.NewContext(b)
	defer cancelLB()
	if err := chromedp.Do(lb, chromedp.Navigate(base+"/leaderboard")); err != nil {
		t.Fatal(err)
	}
	var rows map[string]string
	for deadline := time.Now().Add(time.Minute); ; {
		rows, _ = chromedp.Run(lb, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll('#rows-all tr')].map((tr) => [tr.dataset.account, tr.dataset.credit]))`))
		if maps.Equal(rows, ledger) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leaderboard lists %v; the ledger credits %v", rows, ledger)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("leaderboard: %v", rows)
	if dir := os.Getenv("CROWDRUN_SCREENSHOTS"); dir != "" {
		// The window: the figures and the plots, not the 300 tasks below.
		png, err := chromedp.Run(b, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "demo-job.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("demo: exit %d, stderr %q", code, errOut.String())
	}
}

func getAs(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
