package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

func (m *Main) statusCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("status", "[flags] [JOB]")
	client := clientFlags(fs)
	watch := fs.Bool("watch", false, "redraw a live progress bar until the job ends")
	asJSON := fs.Bool("json", false, "print the job (or, without JOB, the job list) as the API's JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *asJSON && *watch {
		return usageError("--json and --watch do not go together: --json prints the job once")
	}
	c := client()
	if fs.NArg() == 0 {
		jobs, err := c.Jobs(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(m.Stdout, &api.JobList{Jobs: jobs})
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tNAME\tSTATE\tDONE\tDISPUTED\tTOTAL\tFUEL\tCREATED")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", j.ID, j.Name, j.State, j.Tasks.Done, j.Tasks.Disputed, j.Tasks.Total, j.Tasks.Fuel, j.CreatedAt.Local().Format(time.DateTime))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(jobs) > 0 && jobs[0].Checkpointing != nil {
			fmt.Fprintln(m.Stdout, policyLine(&jobs[0].Checkpointing.Policy))
		}
		return nil
	}
	id, err := jobArg(fs)
	if err != nil {
		return err
	}
	if *watch {
		return watchJob(ctx, m, c, id)
	}
	j, err := c.Job(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(m.Stdout, j)
	}
	fmt.Fprintln(m.Stdout, progressLine(j, 0, 0, 40))
	fmt.Fprintln(m.Stdout, trustLine(&j.Trust))
	if ck := j.Checkpointing; ck != nil {
		fmt.Fprintln(m.Stdout, checkpointLine(ck))
		fmt.Fprintln(m.Stdout, policyLine(&ck.Policy))
	}
	return nil
}

// printJSON writes v indented, as the API's field names have it
// (docs/api.md).
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// trustLine renders a job's verification, e.g.
// trust: 120 verified · 4 verifying · 37 audits · 2 disputes settled · 1 lie caught · 0 unsettled (max error 1e-06)
// with the re-verified tasks and added replicas when there are any.
func trustLine(t *api.Trust) string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	s := fmt.Sprintf("trust: %d verified · %d verifying · %s · %s settled · %s caught · %d unsettled",
		t.Verified, t.Verifying, plural(t.Audits, "audit", "audits"), plural(t.Disputes, "dispute", "disputes"), plural(t.LiesCaught, "lie", "lies"), t.Unsettled)
	if t.Reopened > 0 {
		s += fmt.Sprintf(" · %s re-verified", plural(t.Reopened, "task", "tasks"))
	}
	if t.ExtraReplicas > 0 {
		s += fmt.Sprintf(" · %s added", plural(t.ExtraReplicas, "replica", "replicas"))
	}
	return s + fmt.Sprintf(" (max error %g)", t.MaxError)
}

// checkpointLine renders a job's continuations, e.g.
// checkpoints: 41 accepted · 3 resumes · 2 segments lost to churn, 1.3e+08 fuel lost
func checkpointLine(ck *api.Checkpointing) string {
	if !ck.Suspendable {
		return "checkpoints: none (" + ck.Note + ")"
	}
	s := fmt.Sprintf("checkpoints: %d accepted · %d resumes · %d segments lost to churn, %s fuel lost", ck.Checkpoints, ck.Resumes, ck.LostSegments, fuelStr(ck.FuelLost))
	if ck.Mismatches > 0 {
		s += fmt.Sprintf(" · %d state hash mismatches between replicas", ck.Mismatches)
	}
	return s
}

// policyLine renders the checkpoint policy, e.g.
// interval: 8.6e+09 fuel ≈ 9.0s (T* 9.0s from τ 6m50s over 120 sessions, δ 100ms over 40 reports, 9.5e+08 fuel/s over 200 segments)
func policyLine(p *api.CheckpointPolicy) string {
	src := func(n int, what string) string {
		if n == 0 {
			return "default"
		}
		return fmt.Sprintf("over %d %s", n, what)
	}
	sec := func(f float64) string {
		return time.Duration(f * float64(time.Second)).Round(time.Millisecond).String()
	}
	how := fmt.Sprintf("T* %s from τ %s (%s), δ %s (%s), %s fuel/s (%s)", sec(p.OptimalSeconds), sec(p.TauSeconds), strings.Replace(src(p.TauSessions, "sessions"), "default", "prior", 1),
		sec(p.DeltaSeconds), src(p.DeltaReports, "reports"), fuelStr(uint64(p.FuelPerSecond)), src(p.RateSamples, "segments"))
	if p.MinSeconds > p.OptimalSeconds {
		how = fmt.Sprintf("floor %s so checkpoints take at most 5%% of the time, over ", sec(p.MinSeconds)) + how
	}
	if p.Fixed {
		how = "fixed by --checkpoint-every; " + how
	}
	return fmt.Sprintf("interval: %s fuel ≈ %s (%s)", fuelStr(p.IntervalFuel), sec(p.IntervalSeconds), how)
}

func fuelStr(f uint64) string {
	if f < 100000 {
		return fmt.Sprint(f)
	}
	return fmt.Sprintf("%.3g", float64(f))
}

// isTerminal reports whether w is a terminal, to redraw in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// watchJob redraws the job's progress until it ends.
func watchJob(ctx context.Context, m *Main, c *api.Client, id int64) error {
	p := newProgress()
	tty := isTerminal(m.Stdout)
	last := ""
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return err
		}
		rate, eta := p.observe(j)
		line := progressLine(j, rate, eta, 30)
		switch {
		case tty:
			fmt.Fprintf(m.Stdout, "\r\033[K%s", line)
		case line != last:
			fmt.Fprintln(m.Stdout, line)
		}
		last = line
		if j.State != "running" {
			if tty {
				fmt.Fprintln(m.Stdout)
			}
			return nil
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(m.Stdout)
			}
			return nil
		}
	}
}

// progress estimates throughput over a sliding window.
type progress struct {
	times []time.Time
	done  []int
}

func newProgress() *progress { return &progress{} }

func (p *progress) observe(j *api.Job) (rate float64, eta time.Duration) {
	now := time.Now()
	fin := j.Tasks.Done + j.Tasks.Disputed
	p.times = append(p.times, now)
	p.done = append(p.done, fin)
	for len(p.times) > 2 && now.Sub(p.times[0]) > 10*time.Second {
		p.times, p.done = p.times[1:], p.done[1:]
	}
	if dt := now.Sub(p.times[0]).Seconds(); dt > 0.2 {
		rate = float64(fin-p.done[0]) / dt
	}
	if rate > 0 {
		eta = time.Duration(float64(j.Tasks.Pending) / rate * float64(time.Second))
	}
	return rate, eta
}

// progressLine renders e.g.
// job 3 running [#######.......] 120/300 done · 4 running · 176 queued · 12.5 tasks/s · ETA 14s
//
// Counts are of tasks; a task is done when its result is accepted (with
// several replicas, when they agree). With one replica per task, running
// and queued count tasks too; with more they count replicas, and say so:
// job 3 running [#######.......] 120/300 done · 180 pending (replicas: 8 running · 352 queued)
func progressLine(j *api.Job, rate float64, eta time.Duration, width int) string {
	total := max(j.Tasks.Total, 1)
	fin := j.Tasks.Done + j.Tasks.Disputed + j.Tasks.Cancelled
	filled := fin * width / total
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	s := fmt.Sprintf("job %d %-9s [%s] %d/%d done", j.ID, j.State, bar, j.Tasks.Done, j.Tasks.Total)
	if j.Tasks.Disputed > 0 {
		s += fmt.Sprintf(" · %d disputed", j.Tasks.Disputed)
	}
	if j.Tasks.Cancelled > 0 {
		s += fmt.Sprintf(" · %d cancelled", j.Tasks.Cancelled)
	}
	if j.State == "running" {
		if j.Replicas > 1 {
			s += fmt.Sprintf(" · %d pending (replicas: %d running · %d queued)", j.Tasks.Pending, j.Tasks.Running, j.Tasks.Queued)
		} else {
			s += fmt.Sprintf(" · %d running · %d queued", j.Tasks.Running, j.Tasks.Queued)
		}
		if rate > 0 {
			s += fmt.Sprintf(" · %.1f tasks/s · ETA %s", rate, eta.Round(time.Second))
		}
	}
	return s
}
