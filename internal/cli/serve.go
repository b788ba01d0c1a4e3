package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/store/sqlite"
)

func (m *Main) serveCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("serve", "[--addr HOST:PORT] [--data DIR]")
	addr := fs.String("addr", "127.0.0.1:7070", "listen on `HOST:PORT` (port 0: any free port)")
	data := fs.String("data", "crowdrun-data", "keep the store in `DIR`")
	maxReq := uint64(coordinator.DefaultMaxRequestBytes)
	fs.Var(sizeFlag{&maxReq}, "max-request", "largest accepted submission")
	quiet := fs.Bool("quiet", false, "log warnings and errors only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("serve takes no arguments")
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	return serve(ctx, m, serveOptions{addr: *addr, data: *data, maxRequest: int64(maxReq), log: log})
}

type serveOptions struct {
	addr, data string
	maxRequest int64
	log        *slog.Logger
	ready      func(url string) // called once listening
}

// serve runs a coordinator until ctx is cancelled.
func serve(ctx context.Context, m *Main, o serveOptions) error {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return err
	}
	db, err := sqlite.OpenDir(ctx, o.data)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := coordinator.New(ctx, coordinator.Config{Store: db, Logger: o.log, MaxRequestBytes: o.maxRequest})
	if err != nil {
		return err
	}
	if err := c.Open(ctx); err != nil {
		return err
	}
	defer c.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(m.Stdout, "crowdrun: coordinator listening on %s (store %s)\n", url, o.data)
	if o.ready != nil {
		o.ready(url)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx) // worker connections are hijacked: c.Close ends them
	c.Close()
	<-errc
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
