// Package pgscript runs scripts/pg.sh, which starts and stops throwaway
// PostgreSQL clusters: for the tests (pgtest), the load tool and the chaos
// harness alike.
package pgscript

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotInstalled: pg.sh found no PostgreSQL binaries (its exit status 3).
var ErrNotInstalled = errors.New("no PostgreSQL installed")

// Cluster is a cluster pg.sh started.
type Cluster struct {
	Script string // pg.sh
	DSN    string // postgres://… of its database
	Dir    string // its directory, for Stop
}

// Find finds scripts/pg.sh in the working directory or above it (a
// package's directory under go test, or the repository's root).
func Find() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(d, "scripts", "pg.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("no scripts/pg.sh in the working directory or above it")
		}
		d = up
	}
}

// Start runs `script start --watch PID args...`: the cluster also stops by
// itself once this process has exited. An error carries what the script
// wrote on stderr; it is ErrNotInstalled when there is no PostgreSQL.
func Start(ctx context.Context, script string, args ...string) (*Cluster, error) {
	cmd := exec.CommandContext(ctx, script, append([]string{"start", "--watch", strconv.Itoa(os.Getpid())}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		return nil, fmt.Errorf("%w: %s", ErrNotInstalled, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("%s start %s: %w\n%s", script, strings.Join(args, " "), err, stderr.String())
	}
	c := &Cluster{Script: script}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "CROWDRUN_TEST_POSTGRES":
			c.DSN = v
		case "CROWDRUN_TEST_PGDIR":
			c.Dir = v
		}
	}
	if c.DSN == "" || c.Dir == "" {
		return nil, fmt.Errorf("%s start printed %q", script, out)
	}
	return c, nil
}

// Stop stops the cluster and removes its directory (unmounting its tmpfs,
// if it has one).
func (c *Cluster) Stop() error {
	if out, err := exec.Command(c.Script, "stop", c.Dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s stop %s: %w\n%s", c.Script, c.Dir, err, out)
	}
	return nil
}
