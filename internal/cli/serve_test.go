package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeLocksDataDir: a second serve on the same --data refuses to
// start, naming the directory and the first one's pid; once the first stops
// the store is free again.
func TestServeLocksDataDir(t *testing.T) {
	first := startCoordinator(t)
	second, err := startServe(first.data)
	if err == nil {
		second.stop()
		t.Fatal("a second serve started on the same --data")
	}
	if !errors.Is(err, errDataLocked) || !strings.Contains(err.Error(), first.data) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second serve: %v", err)
	}
	code, _, errOut := runCLI(t, "", "serve", "--data", first.data, "--addr", "127.0.0.1:0")
	if code != exitInternal || !strings.Contains(errOut, first.data) {
		t.Fatalf("crowdrun serve on a store in use: exit %d, stderr %q", code, errOut)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	again, err := startServe(first.data)
	if err != nil {
		t.Fatalf("serve after the first stopped: %v", err)
	}
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestServeLockDiesWithProcess: the lock of a serve in another process is
// seen, and is released when that process is SIGKILLed.
func TestServeLockDiesWithProcess(t *testing.T) {
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--data", data, "--addr", "127.0.0.1:0", "--quiet")
	cmd.Env = append(os.Environ(), testAsMain+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening on") {
		t.Fatalf("child serve: %q %v", line, err)
	}
	_, err = startServe(data)
	if !errors.Is(err, errDataLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) || !strings.Contains(err.Error(), filepath.Join(data, lockFileName)) {
		t.Fatalf("serve beside the child's: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	killed = true
	c, err := startServe(data)
	if err != nil {
		t.Fatalf("serve after the child was killed: %v", err)
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
}
