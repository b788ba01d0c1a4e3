package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSabotageSmall: one always-lying saboteur among four workers, over
// the real protocol against a real coordinator and SQLite store, gets no
// wrong result accepted and no credit, and is caught; the honest accounts
// are not banned and are credited exactly their verified fuel, recomputed
// from honest traced runs and the segments they ran.
func TestSabotageSmall(t *testing.T) {
	o := defaultOptions()
	o.Tasks, o.Workers = 50, 4
	// A backstop for a job that never settles (the failure it reports is
	// that, not a time).
	o.Timeout = 5 * time.Minute
	r, err := bench(context.Background(), o, "always", 0.25)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.print(&b, 0)
	t.Log(b.String())
	if r.Sabot != 1 || r.Honest != 3 {
		t.Fatalf("%d saboteurs, %d honest", r.Sabot, r.Honest)
	}
	if r.Lies == 0 {
		t.Fatal("the saboteur never lied: the test checked nothing")
	}
	if r.Wrong != 0 || r.WrongFinal != 0 {
		t.Errorf("%d wrong results accepted (%d at the end)", r.Wrong, r.WrongFinal)
	}
	if r.SabotCredit != 0 {
		t.Errorf("the saboteur was credited %d", r.SabotCredit)
	}
	if r.Caught != 1 || r.HonestBanned != 0 {
		t.Errorf("%d saboteurs caught, %d honest accounts banned", r.Caught, r.HonestBanned)
	}
	if r.HonestCredit == 0 || r.HonestCredit > r.HonestFuel {
		t.Errorf("honest credit %d for %d fuel executed", r.HonestCredit, r.HonestFuel)
	}
	// Credit recomputed from honest traces and the segments run: every
	// standing grant is a link's true fuel, of a right result, to the
	// account that ran it, once; the API says the same.
	if c := r.Credit; c == nil || !c.Clean() || c.Standing == 0 || r.HonestCredit != r.HonestVerified {
		t.Errorf("credit check %+v; honest credit %d, recomputed %d", c, r.HonestCredit, r.HonestVerified)
	}
	if r.Redundancy() < 1 || len(r.Curve) != 10 {
		t.Errorf("redundancy %.3f, curve %v", r.Redundancy(), r.Curve)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-f", "1.5"},
		{"-f", "x"},
		{"-strategy", "bogus"},
		{"-workers", "1"},
		{"-max-error", "0"},
		{"-tasks", "0"},
		{"extra"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("%q accepted", strings.Join(args, " "))
		}
	}
}
