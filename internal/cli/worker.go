package cli

import (
	"context"
	"log/slog"
	"os"
	"runtime"

	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/worker"
)

func (m *Main) workerCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("worker", "--server URL [--slots N] [--name NAME] [--token TOKEN] [--site HOST] [flags]")
	server := fs.String("server", envOr("CROWDRUN_SERVER", defaultServer), "coordinator `URL`, or several separated by commas (coordinators sharing one PostgreSQL store: the next is used when one fails) (env CROWDRUN_SERVER)")
	slots := fs.Int("slots", runtime.NumCPU(), "`N` tasks run in parallel")
	host, _ := os.Hostname()
	name := fs.String("name", host, "this worker's stable `NAME` (never given two replicas of one task)")
	grace := fs.Duration("grace", 0, "on shutdown, wait this long (`DURATION`) for running tasks (default 5s)")
	quiet := fs.Bool("quiet", false, "log warnings and errors only")
	ticks := fs.Int("progress-ticks", 8, "`N` progress reports per checkpoint interval (the fuel reached, for the work lost if this worker leaves)")
	noCk := fs.Bool("no-checkpoints", false, "do not offer to checkpoint or resume: replicas run whole")
	defCache, _ := sandbox.DefaultCacheDir()
	cacheDir := fs.String("compile-cache", defCache, "keep compiled modules in `DIR` (writable by this user only) for the next run of the worker; \"\": in memory only")
	// The token's default is not shown in --help: it is a secret.
	token := fs.String("token", "", "a volunteer `TOKEN` (crowdrun token create --kind volunteer): this worker's work is credited to,\nand checked against, its account; without one the account is anon:NAME, a fresh identity. A trusted\ntoken (--kind trusted) also lets the coordinator hand this worker disputed links to re-run (default: env\nCROWDRUN_TOKEN)")
	site := fs.String("site", "", "a web site's `HOST` name this work is done for: the site's credit (/v1/credit, /leaderboard) shows it;\nattribution only, the work is checked and credited as the account's")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("worker takes no arguments")
	}
	if *slots < 1 {
		return usageError("--slots must be at least 1")
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	if *ticks < 1 {
		return usageError("--progress-ticks must be at least 1")
	}
	if *token == "" {
		*token = os.Getenv("CROWDRUN_TOKEN")
	}
	w, err := worker.New(worker.Config{Server: *server, Name: *name, Slots: *slots, Grace: *grace, Ticks: *ticks, NoCheckpoints: *noCk, Token: *token, Site: *site,
		CacheDir: *cacheDir,
		Logger:   slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level})).With("worker", *name)})
	if err != nil {
		return usageError("%v", err)
	}
	return w.Run(ctx)
}
