package chaos

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ProxyFaults are the odds of the proxy's faults, per chunk of bytes it
// forwards (a WebSocket frame is usually one chunk).
type ProxyFaults struct {
	Drop  float64 // close both sides of the connection
	Delay float64 // hold the chunk back for up to MaxDelay
	Stall float64 // hold the chunk back for StallFor: longer than the coordinator waits for a heartbeat
	// MaxDelay and StallFor: see Delay and Stall.
	MaxDelay, StallFor time.Duration
}

// ProxyCounts are what a proxy did.
type ProxyCounts struct {
	Conns, Refused, Drops, Delays, Stalls int64
}

// Proxy is a loopback TCP proxy between workers and coordinators: each
// connection it accepts goes to one of the addresses Upstream returns at
// that moment (a load balancer over the live coordinators), and on its way
// the proxy drops, delays and stalls at random with a seeded source.
type Proxy struct {
	ln       net.Listener
	upstream func() []string
	faults   ProxyFaults

	mu    sync.Mutex
	rng   *rand.Rand
	conns map[net.Conn]struct{}
	on    bool // faults injected (off while the job is checked)

	accepted, refused, drops, delays, stalls atomic.Int64
	wg                                       sync.WaitGroup
}

// NewProxy listens on a free port of loopback.
func NewProxy(upstream func() []string, f ProxyFaults, seed uint64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstream: upstream, faults: f, rng: rand.New(rand.NewPCG(seed, 2)), conns: map[net.Conn]struct{}{}, on: true}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// URL is the proxy's address as a worker's --server.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Counts reads the counters.
func (p *Proxy) Counts() ProxyCounts {
	return ProxyCounts{Conns: p.accepted.Load(), Refused: p.refused.Load(), Drops: p.drops.Load(), Delays: p.delays.Load(), Stalls: p.stalls.Load()}
}

// Faults turns the faults on or off.
func (p *Proxy) Faults(on bool) {
	p.mu.Lock()
	p.on = on
	p.mu.Unlock()
}

// DropAll closes every open connection (a network partition of an
// instant), counting each as a drop.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		c.Close()
		n++
	}
	p.drops.Add(int64(n))
	return n
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *Proxy) serve(c net.Conn) {
	defer c.Close()
	ups := p.upstream()
	if len(ups) == 0 {
		p.refused.Add(1)
		return // no coordinator up: the worker backs off and tries again
	}
	p.mu.Lock()
	first := p.rng.IntN(len(ups))
	p.mu.Unlock()
	var u net.Conn
	for i := range ups {
		var err error
		if u, err = net.DialTimeout("tcp", ups[(first+i)%len(ups)], 5*time.Second); err == nil {
			break
		}
	}
	if u == nil {
		p.refused.Add(1)
		return
	}
	defer u.Close()
	p.accepted.Add(1)
	p.track(c, true)
	p.track(u, true)
	defer p.track(c, false)
	defer p.track(u, false)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(ctx, u, c); cancel() }()
	go func() { defer wg.Done(); p.pipe(ctx, c, u); cancel() }()
	<-ctx.Done()
	c.Close()
	u.Close()
	wg.Wait()
}

// fault decides what happens to the next chunk.
func (p *Proxy) fault() (drop bool, hold time.Duration, kind *atomic.Int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return false, 0, nil
	}
	x := p.rng.Float64()
	f := p.faults
	switch {
	case x < f.Drop:
		return true, 0, &p.drops
	case x < f.Drop+f.Stall:
		return false, f.StallFor, &p.stalls
	case x < f.Drop+f.Stall+f.Delay && f.MaxDelay > 0:
		return false, time.Duration(p.rng.Int64N(int64(f.MaxDelay))), &p.delays
	}
	return false, 0, nil
}

// pipe copies from src to dst chunk by chunk, with the faults.
func (p *Proxy) pipe(ctx context.Context, dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			drop, hold, kind := p.fault()
			if kind != nil {
				kind.Add(1)
			}
			if drop {
				return
			}
			if hold > 0 {
				select {
				case <-time.After(hold):
				case <-ctx.Done():
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: the other side follows
		}
	}
}
