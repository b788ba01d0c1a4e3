package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

// fuzzFiles are the only files a fuzzed --tasks line can name: the
// fuzzer must not read the machine's files (a path such as /dev/zero would
// never end).
var fuzzFiles = map[string][]byte{"in.txt": []byte("file content"), "empty": {}}

func fuzzReadFile(path string) ([]byte, error) {
	if b, ok := fuzzFiles[path]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
}

// FuzzNDJSONTasks checks the --tasks reader (parseNDJSONTasks): it never
// panics; an error names the line (NAME:N:); what it accepts is exactly one
// task per non-blank line, each line one JSON object, and each task written
// back as a line reads back as the same task. Seeded with the lines of
// docs/api.md and TestReadTasks; crashers are kept in
// testdata/fuzz/FuzzNDJSONTasks.
func FuzzNDJSONTasks(f *testing.F) {
	for _, s := range []string{
		`{"stdin": "a b\n", "args": ["-x"], "env": ["K=V"], "seed": 3}` + "\n" + `{"stdin_b64": "AAEC", "files": [{"name": "in.txt", "path": "in.txt"}]}` + "\n",
		`{"stdin": "text"}`,
		`{"stdin_b64": "aGVsbG8K", "seed": 18446744073709551615}` + "\n\n  \n" + `{"args": [], "env": null}`,
		`{"stdin": "x", "stdin_b64": "AA=="}`,
		`{"stdn": "x"}`,
		`not json`,
		`{"files": [{"name": "a", "path": "no-such-file"}]}`,
		`{"files": [{"name": "e", "path": "empty"}], "stdin": null}` + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tasks, err := parseNDJSONTasks(bytes.NewReader(data), "t.ndjson", fuzzReadFile)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "t.ndjson:") {
				t.Fatalf("error does not name the line: %v", err)
			}
			return
		}
		var lines [][]byte
		for _, l := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
			if l := bytes.TrimSpace([]byte(l)); len(l) > 0 {
				lines = append(lines, l)
			}
		}
		if len(tasks) != len(lines) {
			t.Fatalf("%d tasks from %d non-blank lines", len(tasks), len(lines))
		}
		for i, l := range lines {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(l, &obj); err != nil || obj == nil {
				t.Fatalf("line %d accepted but not one JSON object: %q (%v)", i+1, l, err)
			}
		}
		// Written back as lines, the tasks read back the same.
		var buf bytes.Buffer
		for _, tk := range tasks {
			buf.Write(taskLineOf(t, tk))
			buf.WriteByte('\n')
		}
		back, err := parseNDJSONTasks(&buf, "back", fuzzReadFile)
		if err != nil {
			t.Fatalf("tasks written back do not read: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(normTasks(back), normTasks(tasks)) {
			t.Fatalf("tasks written back read differently:\n%+v\n%+v", back, tasks)
		}
	})
}

// taskLineOf writes a task as a --tasks line, its files by their fuzzFiles
// names.
func taskLineOf(t *testing.T, tk api.TaskSpec) []byte {
	type file struct {
		Name string `json:"name"`
		Path string `json:"path"`
	}
	l := struct {
		StdinB64 []byte   `json:"stdin_b64"`
		Args     []string `json:"args"`
		Env      []string `json:"env"`
		Files    []file   `json:"files"`
		Seed     uint64   `json:"seed"`
	}{StdinB64: tk.Stdin, Args: tk.Args, Env: tk.Env, Seed: tk.Seed}
	for _, fl := range tk.Files {
		path := ""
		for p, b := range fuzzFiles {
			if bytes.Equal(b, fl.Data) {
				path = p
			}
		}
		if path == "" {
			t.Fatalf("file %q has content no fuzz file has", fl.Name)
		}
		l.Files = append(l.Files, file{fl.Name, path})
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// normTasks makes nil and empty slices alike, which JSON does not keep
// apart in every field.
func normTasks(ts []api.TaskSpec) []api.TaskSpec {
	out := make([]api.TaskSpec, len(ts))
	for i, tk := range ts {
		tk.Stdin = append([]byte{}, tk.Stdin...)
		tk.Args = append([]string{}, tk.Args...)
		tk.Env = append([]string{}, tk.Env...)
		tk.Files = append([]api.File{}, tk.Files...)
		for j := range tk.Files {
			tk.Files[j].Data = append([]byte{}, tk.Files[j].Data...)
		}
		out[i] = tk
	}
	return out
}
