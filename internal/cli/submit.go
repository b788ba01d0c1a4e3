package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

const defaultServer = "http://127.0.0.1:7070"

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// clientFlags adds --server and --token (env CROWDRUN_SERVER, CROWDRUN_TOKEN).
func clientFlags(fs *flag.FlagSet) func() *api.Client {
	server := fs.String("server", envOr("CROWDRUN_SERVER", defaultServer), "coordinator `URL` (env CROWDRUN_SERVER)")
	// The token's default is not shown in --help: it is a secret.
	token := fs.String("token", "", "API `TOKEN` (default: env CROWDRUN_TOKEN)")
	return func() *api.Client {
		if *token == "" {
			*token = os.Getenv("CROWDRUN_TOKEN")
		}
		return &api.Client{Server: *server, Token: *token}
	}
}

func jobArg(fs *flag.FlagSet) (int64, error) {
	switch fs.NArg() {
	case 0:
		return 0, usageError("a job id is required")
	case 1:
	default:
		return 0, usageError("one job id is required, got %d arguments %q", fs.NArg(), fs.Args())
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError("job id %q is not a positive integer", fs.Arg(0))
	}
	return id, nil
}

// taskLine is one line of a --tasks NDJSON file (docs/api.md).
type taskLine struct {
	Stdin    *string  `json:"stdin"`     // text
	StdinB64 []byte   `json:"stdin_b64"` // or bytes, base64
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	Files    []struct {
		Name string `json:"name"` // as the guest sees it
		Path string `json:"path"` // read on the submitter's machine
	} `json:"files"`
	Seed uint64 `json:"seed"`
}

func (m *Main) submitCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("submit", "--module M.wasm (--lines FILE | --tasks FILE.ndjson) [flags]")
	client := clientFlags(fs)
	module := fs.String("module", "", "the wasm32-wasi `MODULE` to run")
	lines := fs.String("lines", "", "one task per non-empty line of `FILE` ('-': stdin); the line, with its newline, is the task's stdin")
	tasks := fs.String("tasks", "", "one task per line of NDJSON `FILE` ('-': stdin): {\"stdin\":..., \"stdin_b64\":..., \"args\":[...], \"env\":[...], \"files\":[{\"name\":..., \"path\":...}], \"seed\":N}")
	name := fs.String("name", "", "a `NAME` for the job (default: the module's file name)")
	var limits api.Limits
	fs.Uint64Var(&limits.Fuel, "fuel", 0, "fuel (`N` instructions) per run (0: unlimited)")
	fs.Var(sizeFlag{&limits.MemoryBytes}, "memory", "guest memory limit `SIZE` per run (default 64MiB)")
	fs.Var(sizeFlag{&limits.MaxOutput}, "max-output", "stdout+stderr limit `SIZE` per run (default 1MiB)")
	timeout := fs.Duration("timeout", 0, "wall-clock limit `DURATION` per run (default 60s)")
	replicas := fs.Int("replicas", 1, "`N` independent runs per task, compared")
	maxError := fs.Float64("max-error", 0, "the highest acceptable probability `P` that an accepted result is wrong, 0 < P ≤ 1: results\nare checked (audits, a quorum, trusted re-runs) until each is below it (docs/trust.md); 1 accepts\nresults without requiring checks (default: the coordinator's, 1e-6)")
	priority := fs.Int("priority", 0, "`N`: higher runs first (-100..100)")
	watch := fs.Bool("watch", false, "then show progress until the job ends")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("submit takes no arguments (give the module with --module)")
	}
	if *module == "" {
		return usageError("--module is required")
	}
	maxErrorSet := false
	fs.Visit(func(f *flag.Flag) { maxErrorSet = maxErrorSet || f.Name == "max-error" })
	if maxErrorSet && !(*maxError > 0 && *maxError <= 1) {
		return usageError("--max-error %g: want a probability greater than 0 and at most 1, such as 1e-6", *maxError)
	}
	if (*lines == "") == (*tasks == "") {
		return usageError("give exactly one of --lines and --tasks")
	}
	wasm, err := os.ReadFile(*module)
	if err != nil {
		return usageError("%v", err)
	}
	limits.TimeoutMS = timeout.Milliseconds()
	req := &api.SubmitRequest{Name: *name, Module: wasm, Limits: limits, Replicas: *replicas, Priority: *priority, MaxError: *maxError}
	if *name == "" {
		req.Name = filepath.Base(*module)
	}
	if *lines != "" {
		req.Tasks, err = readLineTasks(m, *lines)
	} else {
		req.Tasks, err = readNDJSONTasks(m, *tasks)
	}
	if err != nil {
		return usageError("%v", err)
	}
	if len(req.Tasks) == 0 {
		return usageError("no tasks in the input")
	}
	c := client()
	job, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, job.ID)
	fmt.Fprintf(m.Stderr, "crowdrun: job %d submitted: %d tasks × %d replicas, max error %g (module %s)\n", job.ID, job.Tasks.Total, job.Replicas, job.Trust.MaxError, job.ModuleHash[:12])
	if *watch {
		return watchJob(ctx, m, c, job.ID)
	}
	return nil
}

func openInput(m *Main, path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(m.Stdin), nil
	}
	return os.Open(path)
}

func readLineTasks(m *Main, path string) ([]api.TaskSpec, error) {
	f, err := openInput(m, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []api.TaskSpec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		out = append(out, api.TaskSpec{Stdin: append(append([]byte{}, sc.Bytes()...), '\n')})
	}
	return out, sc.Err()
}

func readNDJSONTasks(m *Main, path string) ([]api.TaskSpec, error) {
	f, err := openInput(m, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseNDJSONTasks(f, path, os.ReadFile)
}

// maxNDJSONLine bounds one line of a --tasks file.
const maxNDJSONLine = 64 << 20

// parseNDJSONTasks reads one task per non-blank line of r, each exactly one
// JSON object (a second value on the line would be a task silently lost);
// errors name the line as name:N. readFile reads the files a task names.
func parseNDJSONTasks(r io.Reader, name string, readFile func(string) ([]byte, error)) ([]api.TaskSpec, error) {
	var out []api.TaskSpec
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxNDJSONLine)
	n := 1
	for ; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			return nil, fmt.Errorf("%s:%d: a task must be a JSON object {...}, one per line", name, n)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var tl taskLine
		if err := dec.Decode(&tl); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%s:%d: trailing data after the task's JSON object (one task per line)", name, n)
		}
		t := api.TaskSpec{Stdin: tl.StdinB64, Args: tl.Args, Env: tl.Env, Seed: tl.Seed}
		if tl.Stdin != nil {
			if tl.StdinB64 != nil {
				return nil, fmt.Errorf("%s:%d: give stdin or stdin_b64, not both", name, n)
			}
			t.Stdin = []byte(*tl.Stdin)
		}
		for _, fl := range tl.Files {
			data, err := readFile(fl.Path)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, n, err)
			}
			t.Files = append(t.Files, api.File{Name: fl.Name, Data: data})
		}
		out = append(out, t)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxNDJSONLine)
	}
	if sc.Err() != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n, sc.Err())
	}
	return out, nil
}
