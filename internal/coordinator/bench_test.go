package coordinator_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/crowdrun/crowdrun/internal/coordinator"
	"github.com/crowdrun/crowdrun/internal/coordinator/api"
	"github.com/crowdrun/crowdrun/internal/protocol"
)

// BenchmarkTinyTasks measures the coordinator alone, in process: b.N tiny
// tasks from dispatch to result stored, with 4 protocol-level workers of 8
// slots that answer every lease at once (no sandbox run). The end-to-end
// figure with real processes comes from cmd/crowdrun-load.
func BenchmarkTinyTasks(b *testing.B) { benchTinyTasks(b, false) }

// BenchmarkTinyTasksNoCheckpoints is the same with modules stored without
// the suspend rewrite (serve --no-checkpoints): what continuations cost the
// dispatch path (the task's grid is written at its first lease).
func BenchmarkTinyTasksNoCheckpoints(b *testing.B) { benchTinyTasks(b, true) }

func benchTinyTasks(b *testing.B, noCheckpoints bool) {
	e := newEnv(b, func(c *coordinator.Config) {
		c.HeartbeatInterval, c.LeaseTTL = 2*time.Second, 15*time.Second
		c.NoCheckpoints = noCheckpoints
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := &api.SubmitRequest{Module: readWasm(b, "echo.wasm"), MaxError: 1}
	for i := 0; i < b.N; i++ {
		req.Tasks = append(req.Tasks, api.TaskSpec{Stdin: []byte(strconv.Itoa(i))})
	}
	job, err := e.alice.Submit(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fakeWorker(ctx, e.srv.URL, "w"+strconv.Itoa(w), 8)
		}()
	}
	start := time.Now()
	for {
		j, err := e.alice.Job(ctx, job.ID)
		if err != nil {
			b.Fatal(err)
		}
		if j.State != "running" {
			break
		}
		if time.Since(start) > 2*time.Minute {
			b.Fatalf("stalled: %+v", j.Tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	cancel()
	wg.Wait()
}

func fakeWorker(ctx context.Context, url, name string, slots int) {
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/workers/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	var id uint64
	send := func(m protocol.Message) {
		id++
		protocol.Hdr(m).ID = id
		b, _ := protocol.Encode(m)
		ws.Write(ctx, websocket.MessageText, b)
	}
	send(&protocol.Hello{Protocol: protocol.Version, Worker: name, Slots: slots})
	send(&protocol.LeaseRequest{Max: slots})
	msgs := make(chan protocol.Message, 64)
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
	hb := time.NewTicker(time.Second)
	defer hb.Stop()
	for {
		var m protocol.Message
		select {
		case <-hb.C:
			send(&protocol.Heartbeat{})
			continue
		case mm, ok := <-msgs:
			if !ok {
				return
			}
			m = mm
		}
		if ls, ok := m.(*protocol.Leases); ok {
			for _, l := range ls.Leases {
				send(&protocol.Result{LeaseID: l.LeaseID, Status: "ok", Stdout: l.Stdin})
			}
			send(&protocol.LeaseRequest{Max: slots})
		}
	}
}
