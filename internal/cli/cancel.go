package cli

import (
	"context"
	"fmt"
)

func (m *Main) cancelCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("cancel", "[flags] JOB")
	client := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := jobArg(fs)
	if err != nil {
		return err
	}
	j, err := client().Cancel(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "job %d cancelled: %d done, %d disputed, %d cancelled of %d\n", j.ID, j.Tasks.Done, j.Tasks.Disputed, j.Tasks.Cancelled, j.Tasks.Total)
	return nil
}
