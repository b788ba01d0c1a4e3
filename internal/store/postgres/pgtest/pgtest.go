// Package pgtest gives tests a real PostgreSQL: the server named by
// CROWDRUN_TEST_POSTGRES, or else a throwaway cluster that scripts/pg.sh
// starts on first use and stops when the test binary ends. Tests skip only
// when there is no server to name and no PostgreSQL installed to start.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store/postgres/pgscript"
)

// EnvDSN names a PostgreSQL server to test against (the database in it is
// used for scratch schemas, one per test).
const EnvDSN = "CROWDRUN_TEST_POSTGRES"

var (
	once    sync.Once
	baseDSN string
	cluster *pgscript.Cluster // the cluster this process started, if it did
	skip    string            // why there is no server: no binaries
	fail    error             // why starting one failed
)

func start() {
	if d := os.Getenv(EnvDSN); d != "" {
		baseDSN = d
		return
	}
	script, err := pgscript.Find()
	if err != nil {
		fail = fmt.Errorf("%w, and %s is unset", err, EnvDSN)
		return
	}
	c, err := pgscript.Start(context.Background(), script)
	if errors.Is(err, pgscript.ErrNotInstalled) {
		skip = fmt.Sprintf("no PostgreSQL to test against: %s is unset and %v", EnvDSN, err)
		return
	}
	if err != nil {
		fail = err
		return
	}
	cluster, baseDSN = c, c.DSN
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
	if cluster == nil {
		return
	}
	cluster.Stop()
	cluster = nil
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
