package trust

import "testing"

func TestAllowance(t *testing.T) {
	for _, c := range []struct {
		name                 string
		a                    Account
		own, ver, held, want int
		n                    int
		verifyOnly, limited  bool
	}{
		{"fresh, idle: one task of its own", Account{}, 0, 0, 0, 4, 1, false, true},
		{"fresh, one held: verification only", Account{}, 0, 0, 1, 4, 1, true, true},
		{"fresh, its task waiting: verification only", Account{}, 1, 0, 0, 4, 1, true, true},
		{"fresh, a task and a verification waiting: nothing", Account{}, 1, 1, 0, 4, 0, false, true},
		{"fresh, two verifications waiting: nothing", Account{}, 0, 2, 0, 4, 0, false, true},
		{"fresh, a verification waiting: its own task", Account{}, 0, 1, 0, 4, 1, false, true},
		{"ten verified, three waiting: eight of its own", Account{Verified: 10}, 3, 0, 0, 100, 8, false, true},
		{"ten verified, asks for two", Account{Verified: 10}, 3, 0, 0, 2, 2, false, true},
		{"ten verified, eleven own waiting: verification only", Account{Verified: 10}, 11, 5, 0, 100, 6, true, true},
		{"off probation", Account{Verified: ProbationEnd}, 1000, 1000, 1000, 7, 7, false, false},
		{"caught", Account{Verified: 1000, LiesCaught: 1}, 0, 0, 0, 7, 0, false, true},
		{"banned", Account{Blacklisted: true}, 0, 0, 0, 7, 0, false, true},
	} {
		n, vo, lim := Allowance(c.a, c.own, c.ver, c.held, c.want, false)
		if n != c.n || vo != c.verifyOnly || lim != c.limited {
			t.Errorf("%s: Allowance = %d, verifyOnly %v, limited %v; want %d, %v, %v", c.name, n, vo, lim, c.n, c.verifyOnly, c.limited)
		}
	}
}

// With an account off probation online, an account on probation has q
// claims in all, of any kind.
func TestAllowanceCredibleOnline(t *testing.T) {
	for _, c := range []struct {
		a                    Account
		own, ver, held, want int
		n                    int
	}{
		{Account{}, 0, 0, 0, 4, 1},
		{Account{}, 1, 0, 0, 4, 0},
		{Account{}, 0, 1, 0, 4, 0},
		{Account{}, 0, 0, 1, 4, 0},
		{Account{Verified: 10}, 3, 2, 1, 4, 4},
		{Account{Verified: 10}, 3, 2, 1, 100, 5},
		{Account{Verified: 10}, 9, 9, 9, 100, 0},
		{Account{Verified: ProbationEnd}, 9, 9, 9, 100, 100},
	} {
		n, vo, _ := Allowance(c.a, c.own, c.ver, c.held, c.want, true)
		if n != c.n || vo {
			t.Errorf("%+v own %d verification %d held %d want %d: %d (verifyOnly %v), want %d", c.a, c.own, c.ver, c.held, c.want, n, vo, c.n)
		}
	}
}
