package verify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
	"github.com/crowdrun/crowdrun/internal/trust"
)

// TestPolicyMeasuresLieRate: the policy a job plans with is fitted from the
// store's account records. Before any liar is caught it plans with the
// guard; a caught liar whose record shows few lies among many verified
// segments lowers S below the guard (stricter), and accounts without
// evidence do not dilute F.
func TestPolicyMeasuresLieRate(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir()+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Unix(1_700_000_000, 0)
	v := New(Config{Store: db, Now: func() time.Time { return now }})
	add := func(p store.AccountAddParams) {
		t.Helper()
		p.Now = now
		if _, err := db.AccountAdd(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		add(store.AccountAddParams{ID: fmt.Sprint("fresh", i)}) // no evidence yet
	}
	for i := range 8 {
		add(store.AccountAddParams{ID: fmt.Sprint("honest", i), Verified: 40})
	}
	pol, err := v.policy(ctx, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Prior.S != trust.DefaultGuard {
		t.Fatalf("no liar caught: S = %v, want the guard %v", pol.Prior.S, trust.DefaultGuard)
	}
	if want := 1.0 / 10; pol.Prior.F != want { // (0+1)/(8+2): the fresh accounts are not counted
		t.Fatalf("F = %v, want %v", pol.Prior.F, want)
	}
	settleBefore, _ := pol.SettleAfter(10)

	// A patient liar is caught: 1 lie in 50 segments of its record.
	add(store.AccountAddParams{ID: "patient", Verified: 49})
	add(store.AccountAddParams{ID: "patient", LiesCaught: 1, Ban: true})
	// The estimate is cached for a second (catch clears it; here time does).
	now = now.Add(2 * time.Second)
	pol, err = v.policy(ctx, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1.0 / 50; pol.Prior.S != trust.DefaultGuard || pol.Prior.SLow != want {
		t.Fatalf("S = %v, SLow = %v: want the range from the measured rate %v to the guard", pol.Prior.S, pol.Prior.SLow, want)
	}
	if want := 2.0 / 11; pol.Prior.F != want {
		t.Fatalf("F = %v, want %v", pol.Prior.F, want)
	}
	settleAfter, _ := pol.SettleAfter(10)
	if settleAfter <= settleBefore {
		t.Fatalf("a lower measured lie rate must ask for more evidence: %d verified segments before, %d after", settleBefore, settleAfter)
	}
	// A negative guard plans for the worst case and ignores the measurement.
	w := New(Config{Store: db, Now: func() time.Time { return now }, Guard: -1})
	if pol, err := w.policy(ctx, 1e-6); err != nil || pol.Prior.S != 0 {
		t.Fatalf("worst case: %+v, %v", pol.Prior, err)
	}
}
