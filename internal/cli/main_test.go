package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// testAsMain makes the test binary act as crowdrun: the demo starts its
// workers as processes of os.Executable, and the lock test starts a serve.
const testAsMain = "CROWDRUN_CLI_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(testAsMain) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := NewMain().Run(ctx, os.Args[1:])
		stop()
		os.Exit(code)
	}
	// Workers keep compiled modules under the user's cache directory: a
	// throwaway one, shared by the processes of this run.
	cache, err := os.MkdirTemp("", "crowdrun-cli-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	os.RemoveAll(cache)
	os.Exit(code)
}
