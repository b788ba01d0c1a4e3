// Package pgtest gives tests a real PostgreSQL: the server named by
// CROWDRUN_TEST_POSTGRES, or else a throwaway cluster that scripts/pg.sh
// starts on first use and stops when the test binary ends. Tests skip only
// when there is no server to name and no PostgreSQL installed to start.
package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names a PostgreSQL server to test against (the database in it is
// used for scratch schemas, one per test).
const EnvDSN = "CROWDRUN_TEST_POSTGRES"

var (
	once    sync.Once
	baseDSN string
	dir     string // the cluster this process started, if it did
	skip    string // why there is no server: no binaries
	fail    error  // why starting one failed
)

func start() {
	if d := os.Getenv(EnvDSN); d != "" {
		baseDSN = d
		return
	}
	script, err := findScript()
	if err != nil {
		fail = err
		return
	}
	cmd := exec.Command(script, "start", "--watch", strconv.Itoa(os.Getpid()))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		skip = fmt.Sprintf("no PostgreSQL to test against: %s is unset and %s", EnvDSN, strings.TrimSpace(stderr.String()))
		return
	}
	if err != nil {
		fail = fmt.Errorf("%s start: %v\n%s", script, err, stderr.String())
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case EnvDSN:
			baseDSN = v
		case "CROWDRUN_TEST_PGDIR":
			dir = v
		}
	}
	if baseDSN == "" {
		fail = fmt.Errorf("%s start printed no %s: %q", script, EnvDSN, out)
	}
}

// findScript finds scripts/pg.sh above the working directory (a package's
// directory under go test).
func findScript() (string, error) {
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
			return "", fmt.Errorf("no scripts/pg.sh above the working directory, and %s is unset", EnvDSN)
		}
		d = up
	}
}

// DSN returns the server's connection string, starting a cluster if
// needed; it skips tb if PostgreSQL is not installed.
func DSN(tb testing.TB) string {
	tb.Helper()
	once.Do(start)
	if skip != "" {
		tb.Skip(skip)
	}
	if fail != nil {
		tb.Fatal(fail)
	}
	return baseDSN
}

// Stop stops the cluster this process started, if any. The cluster also
// stops by itself shortly after the process exits.
func Stop() {
	if dir == "" {
		return
	}
	if script, err := findScript(); err == nil {
		exec.Command(script, "stop", dir).Run()
	}
	dir = ""
}

// Main runs a package's tests and then stops the cluster: call it from
// TestMain as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Schema creates an empty schema, dropped when tb ends, and returns a
// connection string whose sessions use it: a fresh store for each test on
// one server.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := DSN(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: dropping schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			tb.Errorf("pgtest: dropping schema %s: %v", name, err)
		}
	})
	return WithSearchPath(base, name)
}

// WithSearchPath returns dsn with its sessions' search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema // key=value form
}
