// Command crowdrun-load is the coordinator benchmark (not a test). It starts
// `crowdrun serve` as a separate process on loopback with a fresh store and
// measures, from this process:
//
//	crowdrun-load tasks  — tiny tasks end to end (dispatch → run → result
//	                        stored), in tasks/s, with real workers running
//	                        each task in the sandbox (-fake: workers answer
//	                        without running, to see the coordinator alone);
//	crowdrun-load idle   — the coordinator's resident memory with N idle
//	                        worker connections (hello + a pending
//	                        lease_request + heartbeats).
//
// Usage:
//
//	go build -o /tmp/crowdrun ./cmd/crowdrun
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun tasks -tasks 20000
//	go run ./cmd/crowdrun-load -crowdrun /tmp/crowdrun idle -conns 10000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
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
	"github.com/crowdrun/crowdrun/internal/sandbox"
	"github.com/crowdrun/crowdrun/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crowdrun-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("crowdrun-load", flag.ContinueOnError)
	bin := fs.String("crowdrun", "crowdrun", "the crowdrun binary to start the coordinator with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: crowdrun-load [-crowdrun BIN] tasks|idle [flags]")
	}
	srv, err := startServer(ctx, *bin)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("coordinator pid %d on %s; %d CPUs; %s\n", srv.cmd.Process.Pid, srv.url, runtime.NumCPU(), runtime.Version())
	switch fs.Arg(0) {
	case "tasks":
		return tasks(ctx, srv, fs.Args()[1:])
	case "idle":
		return idle(ctx, srv, fs.Args()[1:])
	}
	return fmt.Errorf("unknown benchmark %q", fs.Arg(0))
}

type server struct {
	cmd    *exec.Cmd
	url    string
	token  string
	dir    string
	exited chan struct{}
}

func startServer(ctx context.Context, bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "crowdrun-load-")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, bin, "token", "create", "--data", dir, "--owner", "load").Output()
	if err != nil {
		return nil, fmt.Errorf("token create: %w", err)
	}
	s := &server{dir: dir, token: strings.TrimSpace(string(out)), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--quiet")
	stdout, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("serve: %w", err)
	}
	go io.Copy(io.Discard, stdout)
	i := strings.Index(line, "http://")
	if i < 0 {
		s.stop()
		return nil, fmt.Errorf("serve printed %q", line)
	}
	s.url = strings.Fields(line[i:])[0]
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

// rss reads a process's resident set size in bytes.
func rss(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func tasks(ctx context.Context, srv *server, args []string) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	n := fs.Int("tasks", 20000, "tasks in the job")
	workers := fs.Int("workers", 4, "worker connections")
	slots := fs.Int("slots", 8, "slots per worker")
	fake := fs.Bool("fake", false, "workers answer without running the module")
	module := fs.String("module", "examples/echo.wasm", "the tiny module")
	maxError := fs.Float64("max-error", 1, "the job's max error: 1 measures dispatch alone; below 1 adds verification (audits, quorum partners)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wasm, err := os.ReadFile(*module)
	if err != nil {
		return err
	}
	c := &api.Client{Server: srv.url, Token: srv.token}
	req := &api.SubmitRequest{Name: "load", Module: wasm, MaxError: *maxError}
	for i := 0; i < *n; i++ {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(strconv.Itoa(i) + "\n")})
	}
	t0 := time.Now()
	job, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	submitted := time.Since(t0)

	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var eng *sandbox.Engine
	if !*fake {
		if eng, err = sandbox.NewEngine(ctx); err != nil {
			cancel()
			return err
		}
		defer eng.Close(context.Background())
	}
	t1 := time.Now()
	for i := 0; i < *workers; i++ {
		wg.Add(1)
		name := fmt.Sprintf("load-%d", i)
		go func() {
			defer wg.Done()
			if *fake {
				fakeWorker(wctx, srv.url, name, *slots)
				return
			}
			w, err := worker.New(worker.Config{Server: srv.url, Name: name, Slots: *slots, Engine: eng, Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				w.Run(wctx)
			}
		}()
	}
	var j *api.Job
	for {
		j, err = c.Job(ctx, job.ID)
		if err != nil || j.State != "running" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(t1)
	mem, _ := rss(srv.cmd.Process.Pid)
	cancel()
	wg.Wait()
	if err != nil {
		return err
	}
	mode := "real workers (sandbox runs each task)"
	if *fake {
		mode = "fake workers (no sandbox run)"
	}
	fmt.Printf("submit: %d tasks accepted in %v (%.0f tasks/s)\n", *n, submitted.Round(time.Millisecond), float64(*n)/submitted.Seconds())
	fmt.Printf("end to end, %s, %d workers × %d slots: %d tasks done in %v = %.0f tasks/s; coordinator RSS %.1f MiB\n",
		mode, *workers, *slots, j.Tasks.Done, elapsed.Round(time.Millisecond), float64(j.Tasks.Done)/elapsed.Seconds(), float64(mem)/(1<<20))
	return nil
}

// fakeWorker speaks the protocol and answers every lease at once with the
// task's stdin as its stdout.
func fakeWorker(ctx context.Context, url, name string, slots int) {
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/workers/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(protocol.MaxMessage)
	var id uint64
	send := func(m protocol.Message) error {
		id++
		protocol.Hdr(m).ID = id
		b, _ := protocol.Encode(m)
		return ws.Write(ctx, websocket.MessageText, b)
	}
	send(&protocol.Hello{Protocol: protocol.Version, Worker: name, Slots: slots})
	send(&protocol.LeaseRequest{Max: slots})
	hb := time.NewTicker(time.Second)
	defer hb.Stop()
	msgs := make(chan protocol.Message, 16)
	go func() {
		defer close(msgs)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if m, err := protocol.Decode(b); err == nil {
				msgs <- m
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			send(&protocol.Heartbeat{})
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if ls, ok := m.(*protocol.Leases); ok {
				for _, l := range ls.Leases {
					send(&protocol.Result{LeaseID: l.LeaseID, Status: "ok", Stdout: l.Stdin})
				}
				send(&protocol.LeaseRequest{Max: slots})
			}
		}
	}
}

func idle(ctx context.Context, srv *server, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	n := fs.Int("conns", 10000, "idle worker connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base, _ := rss(srv.cmd.Process.Pid)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var connected atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // dial at most 64 at a time
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, _, err := websocket.Dial(wctx, "ws"+strings.TrimPrefix(srv.url, "http")+"/v1/workers/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
			<-sem
			if err != nil {
				fmt.Fprintln(os.Stderr, "dial:", err)
				return
			}
			defer ws.CloseNow()
			var id uint64
			send := func(m protocol.Message) error {
				id++
				protocol.Hdr(m).ID = id
				b, _ := protocol.Encode(m)
				return ws.Write(wctx, websocket.MessageText, b)
			}
			if send(&protocol.Hello{Protocol: protocol.Version, Worker: fmt.Sprintf("idle-%d", i), Slots: 1}) != nil {
				return
			}
			if _, _, err := ws.Read(wctx); err != nil { // welcome
				return
			}
			send(&protocol.LeaseRequest{Max: 1})
			connected.Add(1)
			go func() { // drain heartbeat acks
				for {
					if _, _, err := ws.Read(wctx); err != nil {
						return
					}
				}
			}()
			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-wctx.Done():
					return
				case <-t.C:
					if send(&protocol.Heartbeat{}) != nil {
						return
					}
				}
			}
		}()
	}
	for connected.Load() < int64(*n) && time.Since(t0) < 2*time.Minute {
		time.Sleep(100 * time.Millisecond)
	}
	up := time.Since(t0)
	time.Sleep(5 * time.Second) // a few heartbeat rounds
	mem, err := rss(srv.cmd.Process.Pid)
	if err != nil {
		return err
	}
	ws, _ := (&api.Client{Server: srv.url, Token: srv.token}).Workers(ctx)
	open := 0
	for _, w := range ws {
		if w.Connected {
			open++
		}
	}
	fmt.Printf("idle: %d connections up in %v (%d sessions open per the coordinator); coordinator RSS %.1f MiB (%.1f MiB before; %.1f KiB per connection)\n",
		connected.Load(), up.Round(time.Millisecond), open, float64(mem)/(1<<20), float64(base)/(1<<20), float64(mem-base)/1024/float64(max(connected.Load(), 1)))
	cancel()
	wg.Wait()
	return nil
}
