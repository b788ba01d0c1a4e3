package api

import "time"

// Leaderboard is the body of GET /v1/leaderboard: the accounts and the
// sites with standing credit in a period, ranked, the first Limit of each.
// It is a view of the same ledger as GET /v1/credit, computed once for
// every reader and served from memory (docs/volunteers.md).
type Leaderboard struct {
	// Period is "all" (all time) or "7d": the last 7 days, today (UTC, by
	// the coordinator's clock) included, from Since.
	Period string `json:"period"`
	Since  string `json:"since,omitempty"` // YYYY-MM-DD, UTC; "" for all time
	// Version is the ledger entry the board reflects (its sequence
	// number): it grows with every grant, revocation and ban.
	Version     int64     `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	// Accounts: every account with credit in the period, most first, at
	// most the query's limit of them; AccountsRanked is how many there are
	// in all. Banned accounts have no credit, so they are never listed.
	Accounts       []RankedAccount `json:"accounts"`
	AccountsRanked int             `json:"accounts_ranked"`
	Sites          []RankedSite    `json:"sites"`
	SitesRanked    int             `json:"sites_ranked"`
}

// RankedAccount is one row of the leaderboard. Equal credit, equal rank.
type RankedAccount struct {
	Rank         int    `json:"rank"`
	Account      string `json:"account"`
	Credit       uint64 `json:"credit"` // in the period
	Verified     int64  `json:"verified_links"`
	AuditsPassed int64  `json:"audits_passed"`
}

type RankedSite struct {
	Rank   int    `json:"rank"`
	Site   string `json:"site"`
	Credit uint64 `json:"credit"`
	// Accounts is how many accounts' work the credit is.
	Accounts int `json:"accounts"`
}

// Volunteer is the body of GET /v1/volunteers/{account}: one account's
// standing credit, its ranks, and what it earned each day.
type Volunteer struct {
	Account string `json:"account"`
	Credit  uint64 `json:"credit"`      // all time
	Week    uint64 `json:"last_7_days"` // since Since
	Since   string `json:"since"`
	Today   string `json:"today"`
	// RankAll and RankWeek are its places on the leaderboard's two
	// periods; 0: not on it (no credit in the period).
	RankAll      int   `json:"rank_all"`
	RankWeek     int   `json:"rank_7d"`
	Ranked       int   `json:"accounts_ranked"` // accounts ranked all time
	Verified     int64 `json:"verified_links"`
	AuditsPassed int64 `json:"audits_passed"`
	LiesCaught   int64 `json:"lies_caught"`
	Banned       bool  `json:"banned"`
	// Days: what it earned each day and still stands, oldest first.
	Days []DayCredit `json:"days"`
	// Sites: the sites its work was done for, each with its part.
	Sites   []VolunteerSite `json:"sites"`
	Version int64           `json:"version"`
}

type VolunteerSite struct {
	Site string `json:"site"`
	Fuel uint64 `json:"fuel"`
}

// Contributor is the body of GET /v1/contribute/me?worker=NAME: what the
// contribute page tells its visitor — the tasks this worker name runs now
// and the verified credit of the account its work is credited to.
type Contributor struct {
	Worker string `json:"worker"`
	// Account is who the work is credited to: the account of the worker's
	// open session (a volunteer token's owner, or anon:NAME), or anon:NAME
	// when it has none.
	Account   string `json:"account"`
	Connected bool   `json:"connected"`
	// Running: the tasks the worker's open sessions hold now.
	Running []RunningTask `json:"running"`
	// Credit: the account's standing credit; nil when it has none.
	Credit *Volunteer `json:"credit"`
}

// RunningTask is one lease a worker holds: part Part (1-based) of the
// Parts of job JobID of Owner, and how far it got.
type RunningTask struct {
	JobID int64  `json:"job_id"`
	Owner string `json:"owner"`
	Part  int    `json:"part"`
	Parts int    `json:"parts"`
	// Fuel: instructions run so far in the replica, as the worker's
	// heartbeats last reported (or where it resumed from); FuelLimit: the
	// most it may run (0: the job set no limit).
	Fuel      uint64 `json:"fuel"`
	FuelLimit uint64 `json:"fuel_limit"`
	// Resumed: the lease continues a checkpoint someone saved.
	Resumed bool `json:"resumed"`
}
