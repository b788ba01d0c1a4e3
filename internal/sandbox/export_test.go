package sandbox

// Loaded reports whether m's machine code is loaded now, and how many of
// the modules the engine keeps have theirs loaded.
func Loaded(e *Engine, m *Module) (bool, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, k := range e.modules {
		if k.compiled != nil {
			n++
		}
	}
	return m.compiled != nil, n
}

// StartedLite reports whether a run started in its module's lite variant,
// and how many times it moved to the full module.
func StartedLite(r Report) (bool, int) { return r.lite, r.handoffs }

// HasLite reports whether m has a lite variant.
func HasLite(m *Module) bool { return m.lite != nil }

// NoPrefetch makes e compile a suspendable module's full code only when a
// run needs it, not in the background: a fresh run then starts in the lite
// variant for sure.
func NoPrefetch(e *Engine) { e.noPrefetch = true }
