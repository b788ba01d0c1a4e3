package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeMetricsAddr: with --metrics-addr, GET /metrics is served on
// that listener, in the Prometheus text format, and no longer on --addr.
func TestServeMetricsAddr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urlc, metricsc := make(chan string, 1), make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, &Main{Stdout: io.Discard, Stderr: io.Discard}, serveOptions{addr: "127.0.0.1:0", metricsAddr: "127.0.0.1:0",
			data: t.TempDir(), maxRequest: 16 << 20, log: slog.New(slog.DiscardHandler),
			ready: func(u string) { urlc <- u }, metricsReady: func(u string) { metricsc <- u }})
	}()
	var url, metrics string
	for url == "" || metrics == "" {
		select {
		case url = <-urlc:
		case metrics = <-metricsc:
		case err := <-errc:
			cancel()
			t.Fatalf("serve: %v", err)
		}
	}
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on --addr: %s, want 404", resp.Status)
	}
	if url+"/metrics" == metrics {
		t.Fatalf("metrics on the same address: %s", metrics)
	}
	resp, err = http.Get(metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", metrics, resp.Status, err)
	}
	for _, name := range []string{"crowdrun_tasks", "crowdrun_store_seconds", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("%s has no %s", metrics, name)
		}
	}
}

// A --metrics-addr it cannot listen on stops serve with an error naming
// the flag.
func TestServeMetricsAddrRefused(t *testing.T) {
	code, _, errOut := runCLI(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:notaport")
	if code == 0 || !strings.Contains(errOut, "--metrics-addr") {
		t.Fatalf("serve --metrics-addr 127.0.0.1:notaport: exit %d, stderr %q", code, errOut)
	}
}
