package binary

import (
	"errors"
	"os"
	"testing"
)

// TestTruncated decodes every proper prefix of a sample of spec modules:
// each must fail with a malformed DecodeError, never panic.
func TestTruncated(t *testing.T) {
	_, mods := specModules(t)
	checked := 0
	for i, sm := range mods {
		if sm.cmd.Type != "module" || i%7 != 0 {
			continue
		}
		data, err := os.ReadFile(sm.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 4096 {
			continue
		}
		for n := 0; n < len(data); n++ {
			_, err := Decode(data[:n])
			if err == nil {
				// A prefix ending at a section boundary is a valid module
				// unless it cuts the code section off its function section.
				continue
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > n {
				t.Fatalf("%s[:%d]: bad error %v", sm.path, n, err)
			}
		}
		checked++
	}
	t.Logf("%d modules decoded at every truncation", checked)
}
