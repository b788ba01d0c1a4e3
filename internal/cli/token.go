package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

func (m *Main) tokenCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("usage: crowdrun token create [--data DIR] [--owner NAME] [--name LABEL]")
	}
	fs := m.newFlagSet("token create", "[--data DIR] [--owner NAME] [--name LABEL]")
	data := fs.String("data", "crowdrun-data", "the coordinator's store `DIR`")
	owner := fs.String("owner", "default", "the account the token acts for: jobs are visible to their owner only")
	name := fs.String("name", "", "a label to recognise the token by")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *owner == "" {
		return usageError("--owner must not be empty")
	}
	// Tokens may be created before the coordinator first starts.
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	db, err := sqlite.OpenDir(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := createToken(ctx, db, *owner, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, secret)
	fmt.Fprintf(m.Stderr, "crowdrun: token for owner %q created; it is shown once, only its hash is stored.\n  export CROWDRUN_TOKEN=%s\n", *owner, secret)
	return nil
}

// createToken makes a new random API token and stores its hash.
func createToken(ctx context.Context, s store.Store, owner, name string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := "crt_" + base64.RawURLEncoding.EncodeToString(b)
	_, err := s.TokenInsert(ctx, &store.TokenInsertParams{Owner: owner, Name: name, Hash: coordinator.HashToken(secret), Now: time.Now()})
	return secret, err
}
