package coordinator

// DashRounds counts the dashboard hub's rounds that fed open streams.
func (c *Coordinator) DashRounds() int64 { return c.dash.rounds.Load() }
