package coordinator

import "time"

// DashRounds counts the dashboard hub's rounds that fed open streams.
func (c *Coordinator) DashRounds() int64 { return c.dash.rounds.Load() }

// SetDashKeepalive changes how often streams check their token, until the
// test ends.
func SetDashKeepalive(t interface{ Cleanup(func()) }, d time.Duration) {
	old := dashKeepalive
	dashKeepalive = d
	t.Cleanup(func() { dashKeepalive = old })
}

// SetMaxDashSubscribers bounds the open streams, until the test ends.
func SetMaxDashSubscribers(t interface{ Cleanup(func()) }, n int) {
	old := maxDashSubscribers
	maxDashSubscribers = n
	t.Cleanup(func() { maxDashSubscribers = old })
}
