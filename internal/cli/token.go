package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/store"
	"github.com/crowdrun/crowdrun/internal/store/postgres"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

const tokenSynopsis = `create|list|revoke [flags]

  crowdrun token create [--data DIR] [--kind owner|volunteer|trusted] [--owner NAME] [--name LABEL] [--create]
  crowdrun token list   [--data DIR]
  crowdrun token revoke [--data DIR] ID|NAME`

const tokenNotes = "Manages the API tokens in a coordinator's store, on the coordinator's host (beside a running\n" +
	"coordinator too: it checks every request against the store). create prints a new token once; only\n" +
	"its hash is kept. list shows each token's id, name, owner, kind and dates, never a secret. revoke\n" +
	"ID|NAME revokes a token at once (a NAME that is all digits is taken for an ID).\n\n" + tokenKinds

// tokenKinds is said in token's and token create's help.
const tokenKinds = "Kinds: an owner token (the default) submits and reads its owner's jobs through the API. A\n" +
	"volunteer token authenticates workers (crowdrun worker --token): their work is credited to, and\n" +
	"checked against, the account named by --owner. A trusted token is a volunteer token whose workers\n" +
	"may settle disputes. Volunteer and trusted tokens are refused by the API."

// tokenCmd is `crowdrun token create|list|revoke`.
func (m *Main) tokenCmd(ctx context.Context, args []string) error {
	// The verb may come after flags (`token --data DIR list`): it is the
	// first argument of a flag set that knows every verb's flags.
	all := m.newFlagSet("token", tokenSynopsis, tokenNotes, flagsAnywhere)
	all.String("data", "crowdrun-data", "the coordinator's store `DIR`")
	storeFlag(all)
	all.String("owner", "default", "create: the `OWNER` the token acts for: jobs are visible to their owner only; a volunteer token's account")
	all.String("kind", store.TokenOwner, "create: the token's `KIND`: owner, volunteer or trusted")
	all.String("name", "", "create: a `LABEL` to recognise the token by")
	all.Bool("create", false, "create: create the store in DIR if there is none yet (otherwise start 'crowdrun serve --data DIR' once first)")
	_, pos, _ := splitArgs(all, args, false)
	if len(pos) == 0 || args[pos[0]] == "help" {
		// Only the help flag, or nothing: parse, for --help or a bad flag.
		if err := parseFlags(all, args); err != nil {
			return err
		}
		if len(pos) > 0 { // `token help`
			all.SetOutput(m.Stdout)
			all.Usage()
			return flag.ErrHelp
		}
		all.Usage()
		return usageError("create, list or revoke?")
	}
	verb := args[pos[0]]
	rest := append(args[:pos[0]:pos[0]], args[pos[0]+1:]...)
	switch verb {
	case "create":
		return m.tokenCreate(ctx, rest)
	case "list":
		return m.tokenList(ctx, rest)
	case "revoke":
		return m.tokenRevoke(ctx, rest)
	}
	all.Usage()
	return usageError("unknown token command %q: want create, list or revoke", verb)
}

// openTokenStore opens the coordinator's store: the PostgreSQL database at
// storeURL if one is given, else SQLite in dir, which must exist unless
// create.
func openTokenStore(ctx context.Context, dir, storeURL string, create bool) (store.Store, error) {
	if err := checkStoreURL(storeURL); err != nil {
		return nil, err
	}
	if storeURL != "" {
		return postgres.Open(ctx, storeURL)
	}
	path := filepath.Join(dir, sqlite.FileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, usageError("there is no store in %s (no %s): give the --data DIR of the coordinator, start `crowdrun serve --data %s` once to create it, or pass --create", dir, path, dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, usageError("%v", err)
	}
	return sqlite.OpenDir(ctx, dir)
}

// storeFlag is --store of the token verbs, as serve's.
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", os.Getenv(envStore), "the coordinator's PostgreSQL store `URL` (default $"+envStore+"), instead of --data")
}

func (m *Main) tokenCreate(ctx context.Context, args []string) error {
	fs := m.newFlagSet("token create", "[--data DIR] [--kind owner|volunteer|trusted] [--owner NAME] [--name LABEL] [--create]",
		"Creates a token and prints it once; only its hash is stored.", tokenKinds, flagsAnywhere)
	data := fs.String("data", "crowdrun-data", "the coordinator's store `DIR`")
	storeURL := storeFlag(fs)
	owner := fs.String("owner", "default", "the `OWNER` the token acts for: jobs are visible to their owner only; for a volunteer or\ntrusted token, the account its workers' work is credited to")
	kind := fs.String("kind", store.TokenOwner, "the token's `KIND`: owner (submits and reads jobs), volunteer (authenticates workers) or\ntrusted (a volunteer whose workers settle disputes)")
	name := fs.String("name", "", "a `LABEL` to recognise the token by (token list, token revoke)")
	create := fs.Bool("create", false, "create the store in DIR if there is none yet (otherwise start 'crowdrun serve --data DIR' once first)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("token create takes no arguments (give a label with --name)")
	}
	if *owner == "" {
		return usageError("--owner must not be empty")
	}
	switch *kind {
	case store.TokenOwner, store.TokenVolunteer, store.TokenTrusted:
	default:
		return usageError("--kind %q: want owner, volunteer or trusted", *kind)
	}
	db, err := openTokenStore(ctx, *data, *storeURL, *create)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := createToken(ctx, db, *kind, *owner, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, secret)
	if *kind == store.TokenOwner {
		fmt.Fprintf(m.Stderr, "crowdrun: token for owner %q created in %s; it is shown once, only its hash is stored.\n  export CROWDRUN_TOKEN=%s\n", *owner, storeName(*data, *storeURL), secret)
	} else {
		fmt.Fprintf(m.Stderr, "crowdrun: %s token for account %q created in %s; it is shown once, only its hash is stored.\n  crowdrun worker --token %s ...\n", *kind, *owner, storeName(*data, *storeURL), secret)
	}
	return nil
}

func (m *Main) tokenList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("token list", "[--data DIR]", "Lists the tokens of a store: id, name, owner, kind, when created and revoked; never a secret.", flagsAnywhere)
	data := fs.String("data", "crowdrun-data", "the coordinator's store `DIR`")
	storeURL := storeFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("token list takes no arguments")
	}
	db, err := openTokenStore(ctx, *data, *storeURL, false)
	if err != nil {
		return err
	}
	defer db.Close()
	toks, err := db.TokenList(ctx, &store.TokenListParams{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tKIND\tCREATED\tREVOKED")
	for _, t := range toks {
		revoked := "-"
		if !t.RevokedAt.IsZero() {
			revoked = t.RevokedAt.Local().Format(time.DateTime)
		}
		kind := t.Kind
		if kind == "" {
			kind = store.TokenOwner
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, orDash(t.Name), t.Owner, kind, t.CreatedAt.Local().Format(time.DateTime), revoked)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (m *Main) tokenRevoke(ctx context.Context, args []string) error {
	fs := m.newFlagSet("token revoke", "[--data DIR] ID|NAME",
		"Revokes a token: the coordinator refuses it from the next request on. ID is the token's id in\n"+
			"`crowdrun token list`; NAME its --name, which must then be the name of one token not yet revoked.", flagsAnywhere)
	data := fs.String("data", "crowdrun-data", "the coordinator's store `DIR`")
	storeURL := storeFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("one token ID or NAME is required")
	}
	which := fs.Arg(0)
	db, err := openTokenStore(ctx, *data, *storeURL, false)
	if err != nil {
		return err
	}
	defer db.Close()
	id, err := strconv.ParseInt(which, 10, 64)
	if err != nil || id <= 0 {
		toks, err := db.TokenList(ctx, &store.TokenListParams{})
		if err != nil {
			return err
		}
		var match, active []string
		for _, t := range toks {
			if t.Name != which {
				continue
			}
			match = append(match, strconv.FormatInt(t.ID, 10))
			if t.RevokedAt.IsZero() {
				active = append(active, strconv.FormatInt(t.ID, 10))
				id = t.ID
			}
		}
		switch {
		case len(match) == 0:
			return usageError("no token is named %q in %s (see `crowdrun token list`)", which, *data)
		case len(active) == 0:
			return usageError("every token named %q (id %s) is already revoked", which, strings.Join(match, ", "))
		case len(active) > 1:
			return usageError("%d tokens are named %q (ids %s): revoke them by id", len(active), which, strings.Join(active, ", "))
		}
	}
	tok, err := db.TokenRevoke(ctx, &store.TokenRevokeParams{ID: id, Now: time.Now()})
	if errors.Is(err, store.ErrNotFound) {
		return usageError("no token has id %d in %s (see `crowdrun token list`)", id, *data)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "token %d (%s, owner %s) revoked at %s\n", tok.ID, orDash(tok.Name), tok.Owner, tok.RevokedAt.Local().Format(time.DateTime))
	return nil
}

// createToken makes a new random token of a kind (store.Token*) and
// stores its hash.
func createToken(ctx context.Context, s store.Store, kind, owner, name string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := "crt_" + base64.RawURLEncoding.EncodeToString(b)
	_, err := s.TokenInsert(ctx, &store.TokenInsertParams{Kind: kind, Owner: owner, Name: name, Hash: coordinator.HashToken(secret), Now: time.Now()})
	return secret, err
}
