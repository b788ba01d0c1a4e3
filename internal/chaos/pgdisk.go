package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/crowdrun/crowdrun/internal/store/postgres/pgscript"
)

// OwnCluster as Config.DSN: Run starts a PostgreSQL cluster of its own
// (PGScript start --tmpfs), its data directory on a tmpfs of StoreCap
// bytes and its WAL outside it, so that a store-full episode can fill the
// cluster's disk. A full data directory makes table and index extension
// fail with disk_full (53100), which the store reports as store.ErrFull;
// the WAL, whose failed writes are a PANIC, is on the ordinary disk.
const OwnCluster = "own-cluster"

// startCluster starts OwnCluster's cluster; cleanup stops it and unmounts
// its tmpfs, as does pg.sh's watcher if the harness dies first.
func (h *harness) startCluster(ctx context.Context) error {
	c, err := pgscript.Start(ctx, h.cfg.PGScript, "--tmpfs", strconv.FormatInt(h.cfg.StoreCap, 10))
	if err != nil {
		return fmt.Errorf("starting a PostgreSQL cluster on a tmpfs: %w", err)
	}
	h.cluster, h.cfg.DSN = c, c.DSN
	return nil
}

// fillDisk fills OwnCluster's tmpfs with a file, as another program on
// the same disk would, until the kernel answers ENOSPC: nothing is left
// free. free removes the file.
func (h *harness) fillDisk(ctx context.Context) (filled int64, free func() error, err error) {
	// A checkpoint on a full data directory is a PANIC (scripts/pg.sh):
	// the cluster takes one only when asked or after 4GB of WAL, so one
	// now leaves none due while the disk is full.
	conn, err := pgx.Connect(ctx, h.cfg.DSN)
	if err != nil {
		return 0, nil, err
	}
	_, err = conn.Exec(ctx, `CHECKPOINT`)
	conn.Close(context.Background())
	if err != nil {
		return 0, nil, fmt.Errorf("checkpoint: %w", err)
	}
	path := filepath.Join(h.cluster.Dir, "data", "chaos_filler")
	f, err := os.Create(path)
	if err != nil {
		return 0, nil, err
	}
	free = func() error {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("removing the filler: %w", err)
		}
		return nil
	}
	chunk := make([]byte, 1<<20)
	for {
		n, err := f.Write(chunk)
		filled += int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			f.Close()
			free()
			return 0, nil, fmt.Errorf("filler: %w", err)
		}
	}
	f.Close()
	return filled, free, nil
}

// serverLog scans OwnCluster's server log: the disk-full errors the
// server logged, one of them, and the lines that say it crashed or
// restarted (a PANIC, a process killed by a signal, a crash recovery).
func (h *harness) serverLog() (full int, example string, crashes []string) {
	if h.cluster == nil {
		return 0, "", nil
	}
	b, err := os.ReadFile(filepath.Join(h.cluster.Dir, "server.log"))
	if err != nil {
		return 0, "", []string{err.Error()}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.Contains(l, "No space left on device"):
			full++
			if example == "" || strings.Contains(l, "could not extend") {
				example = l
			}
		case strings.Contains(l, "PANIC:"), strings.Contains(l, "terminated by signal"), strings.Contains(l, "automatic recovery in progress"):
			crashes = append(crashes, l)
		}
	}
	return full, example, crashes
}

// clusterCrashed: an error if OwnCluster's server crashed or restarted.
func (h *harness) clusterCrashed() error {
	if _, _, crashes := h.serverLog(); len(crashes) > 0 {
		return fmt.Errorf("the PostgreSQL server crashed:\n%s", strings.Join(crashes, "\n"))
	}
	return nil
}
