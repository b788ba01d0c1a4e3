//go:build race

package enginediff

const raceEnabled = true
