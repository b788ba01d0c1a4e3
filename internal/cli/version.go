package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/crowdrun/crowdrun/internal/instrument"
)

// versionCmd is `crowdrun version` (and `crowdrun --version`).
func (m *Main) versionCmd(ctx context.Context, args []string) error {
	fs := m.newFlagSet("version", "", "Prints crowdrun's version, the Go version it was built with and the default fuel schedule.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("version takes no arguments")
	}
	version, revision := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version // "(devel)" unless built by `go install MODULE@VERSION` or from a VCS checkout
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				revision = s.Value + revision
			case s.Key == "vcs.modified" && s.Value == "true":
				revision += " (modified)"
			}
		}
	}
	fmt.Fprintf(m.Stdout, "crowdrun %s\n", version)
	if revision != "" {
		fmt.Fprintf(m.Stdout, "revision %s\n", revision)
	}
	fmt.Fprintf(m.Stdout, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(m.Stdout, "fuel schedule %s (default; also %s, %s)\n", instrument.DefaultSchedule, instrument.ScheduleV2, instrument.ScheduleV1)
	return nil
}
