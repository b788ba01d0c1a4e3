//go:build race

package jsruntime_test

// raceEnabled: wazero's compiler is many times slower under the race
// detector, too slow for the largest example modules.
const raceEnabled = true
