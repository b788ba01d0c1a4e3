// Package cpuprofile starts a CPU profile of the whole process, for the
// commands' --cpuprofile flags (serve, crowdrun-sim, crowdrun-sabotage).
package cpuprofile

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
)

// Start profiles the process into file until stop; a %d in file is
// replaced by the process ID, so that one setting can name a file for
// each of several processes (crowdrun-load's coordinators).
func Start(file string) (stop func(), err error) {
	if strings.Contains(file, "%d") {
		file = fmt.Sprintf(file, os.Getpid())
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
