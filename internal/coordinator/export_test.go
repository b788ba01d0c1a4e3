package coordinator

// Routes lists every "METHOD /pattern" Handler serves, for the test that
// holds openapi.json to them.
func (c *Coordinator) Routes() []string {
	var out []string
	for _, r := range c.routes() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

// BackOff is how long a trusted session that failed fails re-runs in a
// row is passed over.
var BackOff = backOff
