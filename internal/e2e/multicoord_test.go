package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/chaos"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/postgres/pgtest"
)

// Three coordinator processes on one PostgreSQL store, four native
// workers each given all three URLs (in different orders, so that every
// coordinator holds some), a job of a couple of thousand tasks with
// checkpoints: one coordinator is SIGKILLed once a quarter of the tasks
// are done, a second once half are. The survivor finishes the job, and
// the store shows every task done exactly once with the result of its one
// replica, no replica left queued or leased, and credit granted exactly
// once per link: per task, the standing grants add up to its verified
// fuel.
func TestCoordinatorsKilledJobFinishes(t *testing.T) {
	dsn := pgtest.Schema(t)
	const grid = 1 << 17
	const n = 2000
	serveOn := func() *server {
		p, stdout := start(t, "serve", "--addr", "127.0.0.1:0", "--store", dsn, "--quiet", "--checkpoint-every", strconv.Itoa(grid),
			"--heartbeat", "500ms", "--lease-ttl", "3s")
		return readServer(t, p, stdout, "")
	}
	a, b, c := serveOn(), serveOn(), serveOn()
	tok := strings.TrimSpace(must(t, nil, nil, "token", "create", "--store", dsn, "--owner", "alice"))
	envC := []string{"CROWDRUN_SERVER=" + c.url, "CROWDRUN_TOKEN=" + tok}

	// Mostly small numbers (a few thousand fuel); every tenth around 1e12,
	// around a million fuel: a few checkpoints each.
	rng := rand.New(rand.NewPCG(13, 1))
	var in strings.Builder
	nums := make([]uint64, n)
	for i := range nums {
		nums[i] = 2 + rng.Uint64N(1e8)
		if i%10 == 0 {
			nums[i] = 1e12 + rng.Uint64N(4e12)
		}
		fmt.Fprintln(&in, nums[i])
	}
	lines := filepath.Join(t.TempDir(), "numbers.txt")
	if err := os.WriteFile(lines, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(must(t, []string{"CROWDRUN_SERVER=" + a.url, "CROWDRUN_TOKEN=" + tok}, nil,
		"submit", "--module", factorW, "--lines", lines, "--max-error", "1"))
	urls := []string{a.url, b.url, c.url}
	for i := range 4 {
		list := []string{urls[i%3], urls[(i+1)%3], urls[(i+2)%3]}
		startWorker(t, strings.Join(list, ","), fmt.Sprintf("w%d", i+1))
	}
	done := func() int { return job(t, envC, id).Tasks.Done }
	waitUntil(t, "a quarter of the tasks done", func() bool { return done() >= n/4 })
	a.kill()
	t.Logf("killed A at %d tasks done", done())
	waitUntil(t, "half of the tasks done", func() bool { return done() >= n/2 })
	b.kill()
	t.Logf("killed B at %d tasks done", done())

	got := results(t, envC, id) // fails on a task listed twice
	checkFactored(t, got, nums)

	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jobID, _ := strconv.ParseInt(id, 10, 64)
	// Every task done once, its one replica done, nothing queued or
	// leased, no (replica, link) with two standing grants, and per task
	// standing credit = verified fuel.
	bad, f, err := chaos.CheckStore(ctx, db, jobID, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range bad {
		t.Error(v)
	}
	if t.Failed() {
		t.FailNow()
	}
	cnt := f.Counts
	if cnt.Checkpoints == 0 {
		t.Fatalf("no checkpoint: %+v", cnt)
	}
	// The survivor found both dead (a worker that reconnects in time takes
	// its leases along, so there may be no lost segment to show for it).
	waitUntil(t, "both killed coordinators found dead", func() bool {
		cs, err := db.CoordinatorList(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		dead := 0
		for _, co := range cs {
			if !co.EndedAt.IsZero() && co.EndReason == "heartbeat stale" {
				dead++
			}
		}
		if len(cs) != 3 || dead > 2 {
			t.Fatalf("coordinators in the store: %d, %d found dead; want 3, 2", len(cs), dead)
		}
		return dead == 2
	})
	t.Logf("%d tasks, %d checkpoints, %d resumes, %d lost segments; credit %d = verified fuel", n, cnt.Checkpoints, cnt.Resumes, cnt.LostSegments, f.Total)
}
