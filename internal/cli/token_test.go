package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenCreateRefusesMissingStore: a token made in a store that no
// coordinator uses would be refused by the coordinator; a missing --data
// is refused, unless --create.
func TestTokenCreateRefusesMissingStore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-store")
	code, out, errOut := runCLI(t, "", "token", "create", "--data", missing, "--owner", "alice")
	if code != exitUsage || out != "" || !strings.Contains(errOut, missing) || !strings.Contains(errOut, "--create") || !strings.Contains(errOut, "crowdrun serve --data") {
		t.Fatalf("token create --data MISSING: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("token create --data MISSING made %s: %v", missing, err)
	}
	for _, args := range [][]string{{"token", "list", "--data", missing}, {"token", "revoke", "1", "--data", missing}} {
		if code, _, errOut := runCLI(t, "", args...); code != exitUsage || !strings.Contains(errOut, missing) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	code, out, errOut = runCLI(t, "", "token", "create", "--data", missing, "--create")
	if code != 0 || !strings.HasPrefix(out, "crt_") {
		t.Fatalf("token create --create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestTokenListRevoke: tokens are listed without their secrets, and a
// revoked token is refused by the running coordinator at once.
func TestTokenListRevoke(t *testing.T) {
	c := startCoordinator(t)
	laptop := c.token(t, "alice", "laptop")
	ci := c.token(t, "alice", "ci")
	bob := c.token(t, "bob", "")
	code, out, errOut := runCLI(t, "", "token", "--data", c.data, "list")
	if code != 0 {
		t.Fatalf("token list: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("token list:\n%s", out)
	}
	for i, want := range [][]string{{"1", "laptop", "alice"}, {"2", "ci", "alice"}, {"3", "-", "bob"}} {
		if f := strings.Fields(lines[i+1]); len(f) < 3 || f[0] != want[0] || f[1] != want[1] || f[2] != want[2] || !strings.HasSuffix(lines[i+1], " -") {
			t.Errorf("token list line %q, want %v, not revoked", lines[i+1], want)
		}
	}
	for _, secret := range []string{laptop, ci, bob} {
		if strings.Contains(out+errOut, secret) || strings.Contains(out, secret[4:12]) {
			t.Fatalf("token list shows a secret:\n%s", out)
		}
	}
	status := func(tok string) (int, string) {
		code, _, errOut := runCLI(t, "", "status", "--server", c.url, "--token", tok)
		return code, errOut
	}
	for _, tok := range []string{laptop, ci, bob} {
		if code, errOut := status(tok); code != 0 {
			t.Fatalf("status with a valid token: exit %d, %q", code, errOut)
		}
	}
	// By name (after the flags this time), then by id.
	if code, out, errOut := runCLI(t, "", "token", "revoke", "--data", c.data, "laptop"); code != 0 || !strings.Contains(out, "token 1 (laptop, owner alice) revoked") {
		t.Fatalf("token revoke laptop: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, errOut := status(laptop); code != exitInternal || !strings.Contains(errOut, "not valid") {
		t.Fatalf("status with a revoked token: exit %d, %q", code, errOut)
	}
	if code, errOut := status(ci); code != 0 {
		t.Fatalf("status with another token of the owner: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCLI(t, "", "token", "revoke", "3", "--data", c.data); code != 0 || !strings.Contains(out, "token 3 (-, owner bob) revoked") {
		t.Fatalf("token revoke 3: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, errOut := status(bob); code != exitInternal || !strings.Contains(errOut, "not valid") {
		t.Fatalf("status with a token revoked by id: exit %d, %q", code, errOut)
	}
	_, out, _ = runCLI(t, "", "token", "list", "--data", c.data)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || strings.HasSuffix(lines[1], " -") || !strings.HasSuffix(lines[2], " -") || strings.HasSuffix(lines[3], " -") {
		t.Fatalf("token list after revoking 1 and 3:\n%s", out)
	}
	c.token(t, "carol", "ci")
	for _, tc := range []struct {
		which, want string
	}{
		{"laptop", "already revoked"},
		{"nobody", `no token is named "nobody"`},
		{"ci", "2 tokens are named \"ci\" (ids 2, 4)"},
		{"99", "no token has id 99"},
	} {
		if code, _, errOut := runCLI(t, "", "token", "revoke", tc.which, "--data", c.data); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("token revoke %s: exit %d, stderr %q, want %q", tc.which, code, errOut, tc.want)
		}
	}
	if code, _, errOut := runCLI(t, "", "token", "revoke", "--data", c.data); code != exitUsage || !strings.Contains(errOut, "ID or NAME") {
		t.Errorf("token revoke: exit %d, stderr %q", code, errOut)
	}
}
