package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/crowdrun/crowdrun/internal/coordinator/api"
)

// resultLine is one line of `crowdrun results`: outputs as text when they
// are valid UTF-8, as base64 (the _b64 fields) otherwise.
type resultLine struct {
	Task      int    `json:"task"`
	Seq       int64  `json:"seq"`
	State     string `json:"state"`
	Status    string `json:"status"`
	ExitCode  uint32 `json:"exit_code"`
	Message   string `json:"message,omitempty"`
	Fuel      uint64 `json:"fuel"`
	Stdout    string `json:"stdout,omitempty"`
	StdoutB64 []byte `json:"stdout_b64,omitempty"`
	Stderr    string `json:"stderr,omitempty"`
	StderrB64 []byte `json:"stderr_b64,omitempty"`
	// As the API says them (docs/api.md).
	Workers      []string         `json:"workers"`
	Verification api.Verification `json:"verification"`
}

func (m *Main) resultsCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("results", "[flags] JOB")
	client := clientFlags(fs)
	follow := fs.Bool("follow", false, "wait for results until the job ends")
	out := fs.String("out", "", "write a file per task into `DIR` (task-N.stdout, task-N.stderr, task-N.json) instead of NDJSON")
	after := fs.Int64("after", 0, "only results after sequence number `SEQ` (to resume)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := jobArg(fs)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(m.Stdout)
	n := 0
	err = client().Results(ctx, id, *after, *follow, func(r *api.TaskResult) error {
		n++
		l := resultLine{Task: r.TaskIndex, Seq: r.Seq, State: r.State, Status: r.Status, ExitCode: r.ExitCode, Message: r.Message, Fuel: r.Fuel,
			Workers: r.Workers, Verification: r.Verification}
		if *out != "" {
			base := filepath.Join(*out, fmt.Sprintf("task-%d", r.TaskIndex))
			if err := os.WriteFile(base+".stdout", r.Stdout, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(base+".stderr", r.Stderr, 0o644); err != nil {
				return err
			}
			b, _ := json.MarshalIndent(l, "", "  ")
			return os.WriteFile(base+".json", append(b, '\n'), 0o644)
		}
		l.Stdout, l.StdoutB64 = textOrB64(r.Stdout)
		l.Stderr, l.StderrB64 = textOrB64(r.Stderr)
		return enc.Encode(&l)
	})
	if err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(m.Stderr, "crowdrun: %d results written to %s\n", n, *out)
	}
	return nil
}

func textOrB64(b []byte) (string, []byte) {
	if utf8.Valid(b) {
		return string(b), nil
	}
	return "", b
}
