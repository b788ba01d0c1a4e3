package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
)

// idleCmd measures what idle worker connections cost the coordinator: its
// resident memory and goroutines per connection (docs/coordinator-speed.md).
//
// One host's loopback runs out of two things first: ephemeral ports, about
// 28,000 per source address (net.ipv4.ip_local_port_range) towards the one
// coordinator address, so the connections come from 127.0.0.2, 127.0.0.3,
// … (-per-addr each); and file descriptors, one per connection on either
// side, so the tool raises RLIMIT_NOFILE (past the hard limit when it may:
// root), which the coordinator it starts inherits.
func idleCmd(ctx context.Context, bin string, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	n := fs.Int("conns", 10000, "idle worker connections")
	perAddr := fs.Int("per-addr", 20000, "connections per loopback source address (127.0.0.2, 127.0.0.3, …)")
	parallel := fs.Int("dial", 64, "connections being opened at once")
	hb := fs.Duration("heartbeat", 0, "the coordinator's heartbeat interval (serve --heartbeat; 0: its default, 2s)")
	settle := fs.Duration("settle", 6*time.Second, "wait this long once all are up (a few heartbeat rounds) before measuring")
	heapFile := fs.String("heapprofile", "", "write the coordinator's heap profile (after a GC) to `FILE` once all are up")
	goroFile := fs.String("goroutines", "", "write the coordinator's goroutine stacks (debug=1) to `FILE` once all are up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	interval := *hb
	if interval <= 0 {
		interval = 2 * time.Second
	}
	limit, err := raiseNofile(uint64(*n) + 4096)
	if err != nil {
		return err
	}
	// This process holds one descriptor per connection, and so does the
	// coordinator, which inherits the limit: beyond it, connections fail.
	if limit < uint64(*n)+64 {
		fmt.Fprintf(os.Stderr, "crowdrun-load: RLIMIT_NOFILE is %d and cannot be raised (the hard limit, ulimit -Hn; raising it takes CAP_SYS_RESOURCE): -conns %d lowered to %d\n",
			limit, *n, limit-64)
		*n = int(limit - 64)
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return err
	}
	// The coordinator inherits the environment and, since Setrlimit was
	// called here, the raised RLIMIT_NOFILE.
	os.Setenv(envPprofAddr, pprofAddr)
	var serveArgs []string
	if *hb > 0 {
		serveArgs = append(serveArgs, "--heartbeat", hb.String())
	}
	srv, err := startServer(ctx, bin, serveArgs...)
	if err != nil {
		return err
	}
	defer srv.stop()
	prof := "http://" + pprofAddr + "/debug/pprof/"
	fmt.Printf("coordinator pid %d on %s; %d CPUs; %s; RLIMIT_NOFILE %d; heartbeat %v; load average %s\n",
		srv.cmd.Process.Pid, srv.url, runtime.NumCPU(), runtime.Version(), limit, interval, loadAvg())

	var base, up idleSample
	if err := base.take(srv, prof); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dctx, stopDialing := context.WithCancel(ctx)
	defer stopDialing()
	var connected, failed, dropped atomic.Int64
	var firstErr sync.Once
	hbs := newHeartbeaters(wctx, 8, interval)
	var readers, dialers sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	clients := map[int]*http.Client{}
	t0 := time.Now()
	wsURL := "ws" + strings.TrimPrefix(srv.url, "http") + "/v1/workers/ws"
dial:
	for i := 0; i < *n; i++ {
		a := i / *perAddr
		if a > 250 {
			return fmt.Errorf("-conns %d / -per-addr %d: more source addresses than 127.0.0.2-252", *n, *perAddr)
		}
		hc := clients[a]
		if hc == nil {
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+a))}
			hc = &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
			clients[a] = hc
		}
		select {
		case sem <- struct{}{}:
		case <-dctx.Done():
			break dial
		}
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			ws, err := idleDial(wctx, hc, wsURL, i)
			<-sem
			if err != nil {
				if failed.Add(1) == 100 {
					fmt.Fprintf(os.Stderr, "crowdrun-load: 100 connections failed: no more are opened\n")
					stopDialing()
				}
				firstErr.Do(func() { fmt.Fprintf(os.Stderr, "crowdrun-load: connection %d: %v\n", i, err) })
				return
			}
			connected.Add(1)
			hbs.add(ws)
			readers.Add(1)
			go func() {
				defer readers.Done()
				defer ws.CloseNow()
				for { // heartbeat acks, and whatever else comes
					_, r, err := ws.Reader(wctx)
					if err != nil {
						if wctx.Err() == nil && dropped.Add(1) <= 3 {
							fmt.Fprintf(os.Stderr, "crowdrun-load: connection %d dropped after %v: %v\n", i, time.Since(t0).Round(time.Millisecond), err)
						}
						return
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						return
					}
				}
			}()
		}()
	}
	dialers.Wait()
	upIn := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Printf("idle: %d connections up in %v (%d failed); waiting %v\n", connected.Load(), upIn.Round(time.Millisecond), failed.Load(), *settle)
	cpu0, _ := cpuTime(srv.cmd.Process.Pid)
	select {
	case <-time.After(*settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	cpu1, _ := cpuTime(srv.cmd.Process.Pid)
	if err := up.take(srv, prof); err != nil {
		return err
	}
	loadNow := loadAvg()
	selfRSS, _ := rss(os.Getpid())
	selfGo := runtime.NumGoroutine()
	ws, _ := (&api.Client{Server: srv.url, Token: srv.token}).Workers(ctx)
	open := 0
	for _, w := range ws {
		if w.Connected {
			open++
		}
	}
	k := float64(max(connected.Load(), 1))
	fmt.Printf("idle: %d connections, %d sessions open per the coordinator (%d dropped), load average %s\n", connected.Load(), open, dropped.Load(), loadNow)
	fmt.Printf("  coordinator RSS %.1f MiB (%.1f MiB before): %.1f KiB per connection\n",
		mib(up.rss), mib(base.rss), float64(up.rss-base.rss)/1024/k)
	fmt.Printf("  coordinator goroutines %d (%d before): %.2f per connection\n", up.goroutines, base.goroutines, float64(up.goroutines-base.goroutines)/k)
	fmt.Printf("  coordinator Go memory per connection, after a GC: live heap %.1f KiB, heap spans in use %.1f KiB, stacks %.1f KiB (HeapAlloc %.1f MiB, HeapInuse %.1f MiB, stacks %.1f MiB, Sys %.1f MiB)\n",
		float64(up.heapAlloc-base.heapAlloc)/1024/k, float64(up.heapInuse-base.heapInuse)/1024/k, float64(up.stackInuse-base.stackInuse)/1024/k,
		mib(up.heapAlloc), mib(up.heapInuse), mib(up.stackInuse), mib(up.sys))
	fmt.Printf("  coordinator CPU while idle: %.2f s in %v (%.1f %% of one core; %.1f µs per heartbeat)\n",
		(cpu1 - cpu0).Seconds(), *settle, 100*(cpu1-cpu0).Seconds()/settle.Seconds(),
		float64((cpu1-cpu0).Microseconds())/(k*settle.Seconds()/interval.Seconds()))
	fmt.Printf("  load tool: RSS %.1f MiB (%.1f KiB per connection), %d goroutines\n", mib(selfRSS), float64(selfRSS)/1024/k, selfGo)
	if *heapFile != "" {
		if err := fetchTo(prof+"heap?gc=1", *heapFile); err != nil {
			return err
		}
	}
	if *goroFile != "" {
		if err := fetchTo(prof+"goroutine?debug=1", *goroFile); err != nil {
			return err
		}
	}
	cancel()
	readers.Wait()
	hbs.wait()
	if failed.Load() > 0 {
		return fmt.Errorf("%d of %d connections failed", failed.Load(), *n)
	}
	return nil
}

// envPprofAddr is serve's --pprof-addr default (internal/cli).
const envPprofAddr = "CROWDRUN_PPROF_ADDR"

// idleDial opens one worker connection: hello, welcome, lease_request.
func idleDial(ctx context.Context, hc *http.Client, url string, i int) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	for id, m := range []protocol.Message{&protocol.Hello{Protocol: protocol.Version, Worker: fmt.Sprintf("idle-%d", i), Slots: 1}, &protocol.LeaseRequest{Max: 1}} {
		protocol.Hdr(m).ID = uint64(id + 1)
		b, _ := protocol.Encode(m)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			ws.CloseNow()
			return nil, err
		}
		if id == 0 {
			if _, _, err := ws.Read(ctx); err != nil { // welcome
				ws.CloseNow()
				return nil, err
			}
		}
	}
	return ws, nil
}

// heartbeaters send every connection a heartbeat each interval from a few
// goroutines, not one per connection: the load tool's own cost stays small
// next to the coordinator's.
type heartbeaters struct {
	shards []*hbShard
	next   atomic.Uint64
	wg     sync.WaitGroup
}

type hbShard struct {
	mu    sync.Mutex
	conns []*websocket.Conn
}

func newHeartbeaters(ctx context.Context, n int, interval time.Duration) *heartbeaters {
	h := &heartbeaters{}
	for i := 0; i < n; i++ {
		s := &hbShard{}
		h.shards = append(h.shards, s)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			id := uint64(100)
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				s.mu.Lock()
				conns := s.conns[:len(s.conns):len(s.conns)]
				s.mu.Unlock()
				id++
				b, _ := protocol.Encode(&protocol.Heartbeat{Header: protocol.Header{ID: id}})
				for _, ws := range conns {
					wctx, cancel := context.WithTimeout(ctx, time.Second)
					ws.Write(wctx, websocket.MessageText, b) // a failure ends the connection; its reader sees it
					cancel()
				}
			}
		}()
	}
	return h
}

func (h *heartbeaters) add(ws *websocket.Conn) {
	s := h.shards[h.next.Add(1)%uint64(len(h.shards))]
	s.mu.Lock()
	s.conns = append(s.conns, ws)
	s.mu.Unlock()
}

func (h *heartbeaters) wait() { h.wg.Wait() }

// idleSample is the coordinator's memory and goroutines at one moment.
type idleSample struct {
	rss, heapAlloc, heapInuse, stackInuse, sys uint64
	goroutines                                 int
}

func (s *idleSample) take(srv *server, prof string) error {
	var err error
	if s.rss, err = rss(srv.cmd.Process.Pid); err != nil {
		return err
	}
	b, err := fetch(prof + "goroutine?debug=1")
	if err != nil {
		return err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &s.goroutines); err != nil {
		return fmt.Errorf("goroutine profile: %q: %w", line, err)
	}
	// The heap profile's text form ends with runtime.MemStats; gc=1: after
	// a collection (RSS was read before it), so HeapAlloc is what is live.
	b, err = fetch(prof + "heap?gc=1&debug=1")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != "#" || f[2] != "=" {
			continue
		}
		v, _ := strconv.ParseUint(f[3], 10, 64)
		switch f[1] {
		case "HeapAlloc":
			s.heapAlloc = v
		case "HeapInuse":
			s.heapInuse = v
		case "Stack":
			s.stackInuse = v
		case "Sys":
			s.sys = v
		}
	}
	return sc.Err()
}

func fetch(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func fetchTo(url, file string) error {
	b, err := fetch(url)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// raiseNofile raises RLIMIT_NOFILE to want if it may: past the hard limit
// when privileged (up to fs.nr_open), else to the hard limit. It returns
// the soft limit now in force.
func raiseNofile(want uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && want > n {
			want = n
		}
	}
	if r.Cur >= want {
		return r.Cur, nil
	}
	n := syscall.Rlimit{Cur: want, Max: max(r.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n); err != nil {
		if !errors.Is(err, syscall.EPERM) {
			return 0, err
		}
		n = syscall.Rlimit{Cur: r.Max, Max: r.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n); err != nil {
			return 0, err
		}
	}
	return n.Cur, nil
}

// cpuTime is the user + system CPU time a process used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (in parentheses): utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
