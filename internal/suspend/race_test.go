//go:build race

package suspend

const raceEnabled = true
