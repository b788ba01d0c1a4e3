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
