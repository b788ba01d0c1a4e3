// Package e2e tests crowdrun end to end with real processes: a coordinator
// (`crowdrun serve`) and native workers (`crowdrun worker`) on loopback,
// driven through the CLI, killed with SIGKILL where the test says so.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	bin     string // the crowdrun binary
	factorW string // examples/factor.wasm, copied as main.wasm
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "crowdrun-e2e-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "crowdrun")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/crowdrun")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building crowdrun:", err)
		os.Exit(1)
	}
	// Workers name argv[0] "main.wasm"; so does `crowdrun run main.wasm`.
	b, err := os.ReadFile("../../examples/factor.wasm")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	factorW = filepath.Join(dir, "main.wasm")
	os.WriteFile(factorW, b, 0o644)
	// Workers keep compiled modules under the user's cache directory: a
	// throwaway one, shared by the worker processes of this run as by those
	// of one machine.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command is a crowdrun process that dies with the test binary, even when
// a hung test is killed by -timeout (it would otherwise outlive it).
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// proc is a crowdrun process the test owns.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	exited chan struct{}
	out    bytes.Buffer // stderr (and stdout after the first line)
	mu     sync.Mutex
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, args ...string) (*proc, io.Reader) {
	t.Helper()
	p := &proc{t: t, cmd: command(args...), exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill() })
	return p, stdout
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// stop asks for a graceful stop and waits.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.t.Errorf("%v did not stop on SIGTERM", p.cmd.Args)
		p.kill()
	}
}

type server struct {
	*proc
	url, data string
}

// startServer runs `crowdrun serve` and waits for its address.
func startServer(t *testing.T, data, addr string, flags ...string) *server {
	t.Helper()
	p, stdout := start(t, append([]string{"serve", "--addr", addr, "--data", data, "--quiet"}, flags...)...)
	return readServer(t, p, stdout, data)
}

// readServer waits for a starting coordinator's address.
func readServer(t *testing.T, p *proc, stdout io.Reader, data string) *server {
	t.Helper()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, p.log())
	}
	go io.Copy(p, stdout)
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("serve printed %q", line)
	}
	url := strings.Fields(line[i:])[0]
	return &server{proc: p, url: url, data: data}
}

func startWorker(t *testing.T, url, name string) *proc {
	p, stdout := start(t, "worker", "--server", url, "--name", name, "--slots", "1", "--quiet")
	go io.Copy(p, stdout)
	return p
}

// crowdrun runs a CLI command to completion.
func crowdrun(t *testing.T, env []string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := command(args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func must(t *testing.T, env []string, stdin []byte, args ...string) string {
	t.Helper()
	out, errs, code := crowdrun(t, env, stdin, args...)
	if code != 0 {
		t.Fatalf("crowdrun %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// setup starts a coordinator and returns it with the env of a submitter.
func setup(t *testing.T) (*server, []string) {
	data := t.TempDir()
	tok := strings.TrimSpace(must(t, nil, nil, "token", "create", "--create", "--data", data, "--owner", "alice"))
	s := startServer(t, data, "127.0.0.1:0")
	return s, []string{"CROWDRUN_SERVER=" + s.url, "CROWDRUN_TOKEN=" + tok}
}

type result struct {
	Task     int    `json:"task"`
	State    string `json:"state"`
	Status   string `json:"status"`
	ExitCode uint32 `json:"exit_code"`
	Fuel     uint64 `json:"fuel"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// results reads every result of a job, failing on a duplicate.
func results(t *testing.T, env []string, job string) map[int]result {
	t.Helper()
	out := must(t, env, nil, "results", "--follow", job)
	got := map[int]result{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("results line %q: %v", line, err)
		}
		if _, dup := got[r.Task]; dup {
			t.Fatalf("task %d appears twice in the results", r.Task)
		}
		got[r.Task] = r
	}
	return got
}

// numbers writes n integers, one per line; every 7th is large.
func numbers(t *testing.T, n int, seed uint64) (string, []uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	nums := make([]uint64, n)
	for i := range nums {
		nums[i] = 2 + rng.Uint64N(1e9)
		if i%7 == 3 {
			nums[i] = 1e14 + rng.Uint64N(1e14)
		}
		fmt.Fprintln(&b, nums[i])
	}
	path := filepath.Join(t.TempDir(), "numbers.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, nums
}

func checkFactored(t *testing.T, got map[int]result, nums []uint64) {
	t.Helper()
	if len(got) != len(nums) {
		t.Fatalf("%d results for %d tasks", len(got), len(nums))
	}
	for i, n := range nums {
		r := got[i]
		if r.State != "done" || r.Status != "ok" || !strings.HasPrefix(r.Stdout, strconv.FormatUint(n, 10)+":") {
			t.Fatalf("task %d (%d): %+v", i, n, r)
		}
	}
}

// Results are identical to `crowdrun run` of each task: output, verdict,
// exit status and fuel, with and without a fuel limit.
func TestResultsMatchRun(t *testing.T) {
	s, env := setup(t)
	startWorker(t, s.url, "w1")
	startWorker(t, s.url, "w2")
	path, nums := numbers(t, 8, 1)
	// Add a task the module refuses: stderr and exit status 1 must match too.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("12x\n")
	f.Close()
	lines, _ := os.ReadFile(path)
	for _, fuel := range []string{"0", "200000"} {
		job := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--lines", path, "--fuel", fuel))
		got := results(t, env, job)
		if len(got) != len(nums)+1 {
			t.Fatalf("%d results", len(got))
		}
		verdicts := map[string]int{}
		for i, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
			report := filepath.Join(t.TempDir(), "report.json")
			out, errs, _ := crowdrun(t, nil, []byte(line+"\n"), "run", "--fuel", fuel, "--report", report, factorW)
			var rep struct {
				Status   string `json:"status"`
				ExitCode uint32 `json:"exit_code"`
				Fuel     uint64 `json:"fuel"`
			}
			b, _ := os.ReadFile(report)
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("crowdrun run --report: %v", err)
			}
			r := got[i]
			verdicts[r.Status]++
			if rep.Status != "ok" && rep.Status != "exit" {
				errs = "" // crowdrun run explains a verdict on its own stderr
			}
			if r.Stdout != out || r.Stderr != errs || r.Status != rep.Status || r.ExitCode != rep.ExitCode || r.Fuel != rep.Fuel || r.Fuel == 0 {
				t.Errorf("--fuel %s, task %d (%q):\ncoordinator: %+v\ncrowdrun run: stdout %q stderr %q %+v", fuel, i, line, r, out, errs, rep)
			}
		}
		t.Logf("--fuel %s: verdicts %v", fuel, verdicts)
	}
}

// Workers SIGKILLed mid-task: every task completes, exactly once.
func TestWorkersKilled(t *testing.T) {
	s, env := setup(t)
	workers := map[string]*proc{}
	for _, n := range []string{"w1", "w2", "w3"} {
		workers[n] = startWorker(t, s.url, n)
	}
	path, nums := numbers(t, 60, 2)
	id := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--lines", path))
	kills := 0
	for i := 0; kills < 12; i++ {
		j := job(t, env, id)
		if j.State != "running" {
			break
		}
		// Kill a worker while some lease is held, then bring it back; a
		// dozen times, then let the job finish. Between kills the job must
		// make progress (a task done), whatever the machine's speed.
		if j.Tasks.Running == 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		name := []string{"w1", "w2", "w3"}[i%3]
		workers[name].kill()
		kills++
		workers[name] = startWorker(t, s.url, name)
		waitUntil(t, "progress after a kill", func() bool {
			k := job(t, env, id)
			return k.State != "running" || k.Tasks.Done > j.Tasks.Done
		})
	}
	if kills == 0 {
		t.Fatal("no worker was killed")
	}
	checkFactored(t, results(t, env, id), nums)
	t.Logf("%d workers killed", kills)
}

// The coordinator SIGKILLed and restarted mid-job: the job completes with
// nothing lost or duplicated, and results recorded before the kill stay.
func TestCoordinatorKilled(t *testing.T) {
	s, env := setup(t)
	addr := strings.TrimPrefix(s.url, "http://")
	startWorker(t, s.url, "w1")
	startWorker(t, s.url, "w2")
	path, nums := numbers(t, 60, 3)
	job := strings.TrimSpace(must(t, env, nil, "submit", "--module", factorW, "--lines", path))
	// Wait for some results, then kill the coordinator.
	var before map[int]result
	for {
		out, _, _ := crowdrun(t, env, nil, "results", job)
		if n := strings.Count(out, "\n"); n >= 10 {
			before = map[int]result{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r result
				json.Unmarshal([]byte(line), &r)
				before[r.Task] = r
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	if len(before) == len(nums) {
		t.Fatal("the job finished before the coordinator was killed")
	}
	startServer(t, s.data, addr) // same address: the workers reconnect
	got := results(t, env, job)
	checkFactored(t, got, nums)
	for i, r := range before {
		if got[i] != r {
			t.Fatalf("task %d changed across the restart: %+v then %+v", i, r, got[i])
		}
	}
}

// A module with a forbidden import is refused at submission with its message.
func TestSubmitForbidden(t *testing.T) {
	_, env := setup(t)
	lines := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(lines, []byte("1\n"), 0o644)
	_, errs, code := crowdrun(t, env, nil, "submit", "--module", "../../examples/forbidden.wasm", "--lines", lines)
	if code == 0 || !strings.Contains(errs, "forbidden_import") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	_, errs, code = crowdrun(t, append(env, "CROWDRUN_TOKEN=wrong"), nil, "submit", "--module", factorW, "--lines", lines)
	if code == 0 || !strings.Contains(errs, "unauthorized") {
		t.Fatalf("bad token: exit %d, stderr %q", code, errs)
	}
	out := must(t, env, nil, "status")
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("a refused job was recorded:\n%s", out)
	}
}
