package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process of the harness: a coordinator or a worker.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}

	mu      sync.Mutex
	tail    []byte // the last bytes of its stderr (and stdout after the first line)
	lines   int    // lines seen
	matches map[string]int
	match   []string // substrings counted in matches
}

const tailMax = 16 << 10

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.match {
		p.matches[m] += bytes.Count(b, []byte(m))
	}
	p.lines += bytes.Count(b, []byte{'\n'})
	p.tail = append(p.tail, b...)
	if len(p.tail) > tailMax {
		p.tail = append(p.tail[:0], p.tail[len(p.tail)-tailMax/2:]...)
	}
	return len(b), nil
}

func (p *proc) count(m string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.matches[m]
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.tail)
}

// lastLine is the last line of the log that contains s ("" if none is in
// the tail).
func (p *proc) lastLine(s string) string {
	lines := strings.Split(p.log(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// startProc starts a process that dies with the harness (Pdeathsig): a
// harness killed by a test's timeout leaves nothing behind. With
// firstLine, it returns the first line of stdout (a coordinator's
// address).
func startProc(name string, argv []string, env []string, match []string, firstLine bool) (*proc, string, error) {
	p := &proc{name: name, exited: make(chan struct{}), matches: map[string]int{}, match: match}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Env = env
	p.cmd.Stderr = p
	var stdout io.Reader
	if firstLine {
		var err error
		if stdout, err = p.cmd.StdoutPipe(); err != nil {
			return nil, "", err
		}
	} else {
		p.cmd.Stdout = p
	}
	if err := p.cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	if !firstLine {
		return p, "", nil
	}
	type read struct {
		line string
		err  error
	}
	ch := make(chan read, 1)
	br := bufio.NewReader(stdout)
	go func() {
		l, err := br.ReadString('\n')
		ch <- read{l, err}
	}()
	var r read
	select {
	case r = <-ch:
	case <-time.After(2 * time.Minute):
		p.kill()
		return nil, "", fmt.Errorf("%s printed nothing in 2 minutes\n%s", name, p.log())
	}
	if r.err != nil {
		p.kill()
		return nil, "", fmt.Errorf("%s: %v\n%s", name, r.err, p.log())
	}
	go io.Copy(p, br)
	return p, r.line, nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// stop asks for a graceful stop (SIGTERM) and waits, killing it after a
// minute.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.kill()
	}
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func lastNonEmpty(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
