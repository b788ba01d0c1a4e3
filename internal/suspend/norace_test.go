//go:build !race

package suspend

const raceEnabled = false
