package cli

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The Rust and AssemblyScript examples (docs/guests.md) under `crowdrun
// run`: what they compute is checked against what it must be, not against
// stored output; internal/browser checks that workers in wazero and
// Chromium give the same output and fuel.

// ppm splits a binary PPM (P6, maxval 255) into its size and pixels.
func ppm(t *testing.T, b []byte) (w, h int, pix []byte) {
	t.Helper()
	parts := bytes.SplitN(b, []byte("\n"), 4)
	if len(parts) != 4 || string(parts[0]) != "P6" || string(parts[2]) != "255" {
		t.Fatalf("not a PPM: %q", b[:min(len(b), 32)])
	}
	if _, err := fmt.Sscanf(string(parts[1]), "%d %d", &w, &h); err != nil {
		t.Fatalf("PPM size %q: %v", parts[1], err)
	}
	if pix = parts[3]; len(pix) != 3*w*h {
		t.Fatalf("PPM of %d×%d with %d bytes of pixels", w, h, len(pix))
	}
	return w, h, pix
}

// TestRustRaytraceTiles: the image rendered whole equals its four tiles
// rendered separately (as four tasks of a job would), each tile's summary
// counts the rays it traced, the picture is not blank, and bad arguments
// get a clear error with exit 2.
func TestRustRaytraceTiles(t *testing.T) {
	const W, H = 48, 36
	mod := examplePath("rust/raytrace.wasm")
	code, out, errOut := runCLI(t, "", "run", mod, "--", strconv.Itoa(W), strconv.Itoa(H))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	w, h, whole := ppm(t, []byte(out))
	if w != W || h != H {
		t.Fatalf("image %d×%d, want %d×%d", w, h, W, H)
	}
	summary := regexp.MustCompile(`^raytrace (\d+)x(\d+) tile (\d+),(\d+) (\d+)x(\d+) samples=4 rays=(\d+) fnv=[0-9a-f]{16}\n$`)
	m := summary.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("stderr %q", errOut)
	}
	wholeRays, _ := strconv.Atoi(m[7])
	// Every one of the 4 samples of every pixel traces at least its
	// primary ray.
	if wholeRays < 4*W*H {
		t.Fatalf("%d rays for %d pixels", wholeRays, W*H)
	}
	distinct := map[[3]byte]bool{}
	for i := 0; i < len(whole); i += 3 {
		distinct[[3]byte(whole[i:i+3])] = true
	}
	if len(distinct) < 50 {
		t.Fatalf("only %d distinct colours: not a rendered scene", len(distinct))
	}

	// Four unequal tiles put together.
	tiles := [][4]int{{0, 0, 20, 15}, {20, 0, W - 20, 15}, {0, 15, 20, H - 15}, {20, 15, W - 20, H - 15}}
	composed := make([]byte, len(whole))
	rays := 0
	for _, tile := range tiles {
		args := []string{"run", mod, "--", strconv.Itoa(W), strconv.Itoa(H)}
		for _, v := range tile {
			args = append(args, strconv.Itoa(v))
		}
		code, out, errOut := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("tile %v: exit %d: %s", tile, code, errOut)
		}
		tw, th, pix := ppm(t, []byte(out))
		if tw != tile[2] || th != tile[3] {
			t.Fatalf("tile %v: image %d×%d", tile, tw, th)
		}
		m := summary.FindStringSubmatch(errOut)
		if m == nil || m[3] != strconv.Itoa(tile[0]) || m[4] != strconv.Itoa(tile[1]) {
			t.Fatalf("tile %v: stderr %q", tile, errOut)
		}
		n, _ := strconv.Atoi(m[7])
		rays += n
		for y := 0; y < th; y++ {
			copy(composed[3*((tile[1]+y)*W+tile[0]):], pix[3*y*tw:3*(y+1)*tw])
		}
	}
	if !bytes.Equal(composed, whole) {
		t.Fatal("the four tiles put together differ from the image rendered whole")
	}
	if rays != wholeRays {
		t.Fatalf("the tiles traced %d rays, the whole image %d", rays, wholeRays)
	}

	for _, args := range [][]string{
		{},
		{"48", "x"},
		{"0", "36"},
		{"48", "36", "40", "0", "9", "1"}, // wider than the image
		{"48", "36", "0", "0", "48", "36", "0"},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"run", mod, "--"}, args...)...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "raytrace: ") {
			t.Errorf("args %q: exit %d, stdout %q, stderr %q; want exit 2 and an error", args, code, out, errOut)
		}
	}
}

// TestAssemblyScriptSweep: the Lyapunov exponents the sweep prints are the
// logistic map's (ln|2 − r| on the fixed point for 1 < r < 3, a 2-cycle at
// 3.2, a 4-cycle at 3.5, chaos at 3.9), lines are independent, and bad
// input gets a clear error with exit 2.
func TestAssemblyScriptSweep(t *testing.T) {
	mod := examplePath("assemblyscript/sweep.wasm")
	run := func(stdin string) []string {
		t.Helper()
		code, out, errOut := runCLI(t, stdin, "run", mod)
		if code != 0 || errOut != "" {
			t.Fatalf("stdin %q: exit %d, stderr %q", stdin, code, errOut)
		}
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	line := regexp.MustCompile(`^r=(\S+) lambda=(\S+) period=(\d+)$`)
	parse := func(l string) (r, lambda float64, period int) {
		t.Helper()
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		r, _ = strconv.ParseFloat(m[1], 64)
		lambda, _ = strconv.ParseFloat(m[2], 64)
		period, _ = strconv.Atoi(m[3])
		return
	}

	// 11 points from 2.0 to 3.0 (step 0.1), then single points.
	lines := run("2.0 3.0 11 20000\n3.2 3.2 1 20000\n3.5 3.5 1 20000\n3.9 3.9 1 20000\n")
	if len(lines) != 11+3+1 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	for i := 0; i < 11; i++ {
		r, lambda, period := parse(lines[i])
		if want := 2.0 + float64(i)/10; math.Abs(r-want) > 1e-12 {
			t.Fatalf("line %d: r=%v, want %v", i, r, want)
		}
		// At r = 2 the fixed point is superstable (λ = −∞, clamped by the
		// 1e-300 guard); near 3 it converges too slowly for 1000 steps.
		if r > 2.05 && r < 2.85 {
			if want := math.Log(math.Abs(2 - r)); math.Abs(lambda-want) > 1e-6 || period != 1 {
				t.Errorf("r=%v: lambda=%v period=%d, want lambda=%v period=1", r, lambda, period, want)
			}
		}
	}
	for i, want := range []struct {
		r        float64
		negative bool
		period   int
	}{{3.2, true, 2}, {3.5, true, 4}, {3.9, false, 0}} {
		r, lambda, period := parse(lines[11+i])
		if r != want.r || (lambda < 0) != want.negative || period != want.period {
			t.Errorf("%q: want r=%v, λ negative %v, period %d", lines[11+i], want.r, want.negative, want.period)
		}
	}
	if !regexp.MustCompile(`^sweep points=14 chaotic=1 checksum=[0-9a-f]{16}$`).MatchString(lines[14]) {
		t.Errorf("summary %q", lines[14])
	}
	// Each line is computed on its own: a line's output does not depend
	// on the lines before it.
	if alone := run("3.5 3.5 1 20000\n"); alone[0] != lines[12] {
		t.Errorf("alone %q, after other lines %q", alone[0], lines[12])
	}

	for _, stdin := range []string{"3 2 10 10\n", "2 3 10\n", "x 3 10 10\n", "2 3 0 10\n", "2 5 10 10\n", "2 3 10 10\n1 2 3\n"} {
		code, _, errOut := runCLI(t, stdin, "run", mod)
		if code != 2 || !strings.HasPrefix(errOut, "sweep: line ") {
			t.Errorf("stdin %q: exit %d, stderr %q; want exit 2 and an error", stdin, code, errOut)
		}
	}
}

// TestGuestsCheckpointAndResume: both examples, checkpointed about ten
// times, resume from their first, middle and last checkpoints with the
// whole output and the whole run's fuel: Rust's allocator and buffered
// stdout, and AssemblyScript's garbage collector, live in linear memory
// and globals, which the continuation carries.
func TestGuestsCheckpointAndResume(t *testing.T) {
	dir := t.TempDir()
	t.Run("rust", func(t *testing.T) {
		checkpointAndResume(t, dir, "rust", "", 3_000_000, []string{examplePath("rust/raytrace.wasm"), "--", "64", "48"})
	})
	t.Run("assemblyscript", func(t *testing.T) {
		checkpointAndResume(t, dir, "assemblyscript", "2.9 4 40 2000\n3.1 3.3 5 1000\n", 1_000_000, []string{examplePath("assemblyscript/sweep.wasm")})
	})
}
