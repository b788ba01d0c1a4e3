package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

func TestReadTasks(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "in.txt")
	os.WriteFile(data, []byte("file content"), 0o644)
	m := &Main{Stdin: strings.NewReader("12\n\n  \n34\n"), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	tasks, err := readLineTasks(m, "-")
	if err != nil || len(tasks) != 2 || string(tasks[0].Stdin) != "12\n" || string(tasks[1].Stdin) != "34\n" {
		t.Fatalf("lines: %+v %v", tasks, err)
	}
	nd := `{"stdin": "a b\n", "args": ["-x"], "env": ["K=V"], "seed": 3}
{"stdin_b64": "AAEC", "files": [{"name": "in.txt", "path": "` + data + `"}]}
`
	m.Stdin = strings.NewReader(nd)
	tasks, err = readNDJSONTasks(m, "-")
	if err != nil || len(tasks) != 2 {
		t.Fatalf("ndjson: %v %v", tasks, err)
	}
	if string(tasks[0].Stdin) != "a b\n" || tasks[0].Args[0] != "-x" || tasks[0].Seed != 3 || !bytes.Equal(tasks[1].Stdin, []byte{0, 1, 2}) ||
		string(tasks[1].Files[0].Data) != "file content" {
		t.Fatalf("ndjson: %+v", tasks)
	}
	for _, bad := range []string{`{"stdin": "x", "stdin_b64": "AA=="}`, `{"stdn": "x"}`, `not json`, `{"files": [{"name": "a", "path": "/no/such/file"}]}`,
		// A second value on a line was silently dropped, and a non-object
		// line was an empty task (FuzzNDJSONTasks).
		`{}0`, `{"stdin": "a"} {"stdin": "b"}`, `null`, `[]`} {
		m.Stdin = strings.NewReader(bad + "\n")
		if _, err := readNDJSONTasks(m, "-"); err == nil || !strings.Contains(err.Error(), "-:1") {
			t.Errorf("%s: %v, want an error naming the line", bad, err)
		}
	}
}

func TestCheckFactors(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		line string
		ok   bool
	}{
		{12, "12: 2 2 3\n", true},
		{1, "1:\n", true},
		{97, "97: 97\n", true},
		{12, "12: 2 6\n", true}, // ascending and multiplies back; primality is checked by comparison
		{12, "12: 3 2 2\n", false},
		{12, "12: 2 2\n", false},
		{12, "13: 13\n", false},
		{12, "garbage", false},
	} {
		if err := checkFactors(tc.n, tc.line); (err == nil) != tc.ok {
			t.Errorf("checkFactors(%d, %q) = %v", tc.n, tc.line, err)
		}
	}
}

func TestProgressLine(t *testing.T) {
	j := &api.Job{ID: 3, State: "running", Tasks: api.Counts{Total: 100, Done: 40, Pending: 60, Running: 4, Queued: 56}}
	p := newProgress()
	p.observe(j)
	p.times[0] = p.times[0].Add(-2 * time.Second)
	j.Tasks.Done, j.Tasks.Pending = 60, 40
	rate, eta := p.observe(j)
	if rate < 9 || rate > 11 || eta < 3*time.Second || eta > 5*time.Second {
		t.Fatalf("rate %v eta %v", rate, eta)
	}
	got := progressLine(j, rate, eta, 10)
	for _, want := range []string{"job 3 running", "[######....]", "60/100 done", "4 running", "56 queued", "tasks/s", "ETA 4s"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
