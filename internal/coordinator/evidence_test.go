package coordinator_test

import (
	"context"
	"fmt"
	"testing"
)

// dumpEvidence logs every replica of a job's tasks, for a failing test.
func dumpEvidence(t *testing.T, e *env, job int64, n int) {
	for _, tk := range jobTasks(t, e, job, n) {
		ev, err := e.db.TaskEvidence(context.Background(), tk.ID)
		if err != nil {
			t.Log(err)
			continue
		}
		t.Logf("task %d state %s", tk.ID, ev.Task.State)
		for _, r := range ev.Replicas {
			res := ""
			if r.Result != nil {
				res = fmt.Sprint(r.Result.Fuel)
			}
			t.Logf("  rep %d role %s of %d@%d state %s verdict %q acc %s accs %v ck %d res %s", r.ID, r.Role, r.AuditOf, r.AuditSeq, r.State, r.Verdict, r.Account, r.Accounts, len(r.Checkpoints), res)
		}
	}
}
