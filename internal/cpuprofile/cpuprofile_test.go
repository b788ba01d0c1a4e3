package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The profile lands in the file named, its %d replaced by the process ID,
// and is not empty once stopped; a file that cannot be created is an error.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	stop, err := Start(filepath.Join(dir, "cpu-%d.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid())))
	if err != nil || fi.Size() == 0 {
		t.Fatalf("profile: %v, %v", fi, err)
	}
	if _, err := Start(filepath.Join(dir, "no", "such", "dir.pprof")); err == nil {
		t.Fatal("a profile in a missing directory started")
	}
}
