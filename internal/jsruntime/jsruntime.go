// Package jsruntime gives Go programs crowdrun's JavaScript host runtime —
// the same deterministic host interface and fuel contract as internal/sandbox,
// written as plain ES modules for browser and Node workers — and holds the
// tests that prove the two hosts answer every guest alike.
package jsruntime

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crowdrun/crowdrun/js"
)

// Files is the runtime: wasi.js, runtime.js, rewrite.js, snapshot.js,
// frames.js, protocol.js and guest-worker.js at the root (what browsers
// load, with the rest of the root's modules), and the Node command under
// node/ (run.mjs and the modules it loads).
func Files() fs.FS { return js.Files }

// NodeCommand is the Node command's path inside Files.
const NodeCommand = "node/run.mjs"

// Extract writes Files under dir, so that node can run them from disk.
func Extract(dir string) error {
	return fs.WalkDir(js.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(js.Files, p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("extracting the JS runtime: %w", err)
		}
		return nil
	})
}
