package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the lock a coordinator holds on its --data directory.
const lockFileName = "crowdrun.lock"

// errDataLocked: another coordinator holds the data directory.
var errDataLocked = errors.New("in use by another coordinator")

// lockDataDir takes an exclusive lock on dir for this process, so that a
// second `crowdrun serve` on the same store refuses to start instead of
// requeueing the first one's leases under it. It is an flock(2) on
// dir/crowdrun.lock: the kernel drops it when the process ends, however it
// ends (a SIGKILLed serve leaves no stale lock), and the file is never
// removed, so every serve locks the same inode. The file holds the pid of
// the holder, for the message.
func lockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // O_CLOEXEC: workers started by the demo do not inherit it
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				holder = fmt.Sprintf("another crowdrun serve (pid %d)", pid)
			}
		}
		return nil, fmt.Errorf("the store in %s is %w: %s holds %s; stop it, or give this one another --data", dir, errDataLocked, holder, path)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the lock
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
