package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// envPprofAddr is --pprof-addr's default: set in the environment of a load
// run (crowdrun-load idle), it lets the load tool read the coordinator's
// heap and goroutine profiles.
const envPprofAddr = "CROWDRUN_PPROF_ADDR"

// servePprof serves net/http/pprof's /debug/pprof/ on addr, a listener of
// its own (never the public one: profiles show what the process holds),
// until stop.
func servePprof(m *Main, addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	fmt.Fprintf(m.Stderr, "crowdrun: profiles on %s (/debug/pprof/)\n", ln.Addr())
	return func() { srv.Close(); <-done }, nil
}
