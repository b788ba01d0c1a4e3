package instrument

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/suspend"
	"github.com/crowdrun/crowdrun/internal/wasm"
	"github.com/crowdrun/crowdrun/internal/wasm/binary"
)

// The spec test suite as converted to JSON + wasm by wast2json, shipped inside
// wazero's module (internal/integration_test/spectest/v2/testdata), is run on
// the original modules and on their instrumented versions; every command
// must have the same outcome.

type specFile struct {
	SourceFile string        `json:"source_filename"`
	Commands   []specCommand `json:"commands"`
}

type specCommand struct {
	Type       string      `json:"type"`
	Line       int         `json:"line"`
	Name       string      `json:"name"`
	Filename   string      `json:"filename"`
	As         string      `json:"as"`
	Action     specAction  `json:"action"`
	Expected   []specValue `json:"expected"`
	ModuleType string      `json:"module_type"`
	Text       string      `json:"text"`
}

type specAction struct {
	Type   string      `json:"type"`
	Module string      `json:"module"`
	Field  string      `json:"field"`
	Args   []specValue `json:"args"`
}

type specValue struct {
	Type     string `json:"type"`
	LaneType string `json:"lane_type"`
	Value    any    `json:"value"`
}

var (
	specDirOnce sync.Once
	specDirPath string
	specDirErr  error
)

// wazeroSpecDir returns wazero's spectest directory (holding v2/testdata and
// testdata/spectest.wasm).
func wazeroSpecDir(t testing.TB) string {
	specDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
		if err != nil {
			specDirErr = err
			return
		}
		specDirPath = filepath.Join(strings.TrimSpace(string(out)), "internal", "integration_test", "spectest")
	})
	if specDirErr != nil {
		t.Fatalf("locating wazero's spec tests: %v", specDirErr)
	}
	return specDirPath
}

// variant is one way of preparing the modules of the suite.
type variant struct {
	name    string
	prepare func([]byte) ([]byte, error) // nil: run the original
	// suspend: a suspendable variant (suspend.Transform), suspended at every
	// fuel check of the invoked module (slices of 0 fuel) and rewound in place.
	suspend bool
}

// specSuspender is the suspending host of one invocation.
type specSuspender struct {
	mod      api.Module // the invoked module: the only one that suspends
	host     *suspend.Host
	suspends int
}

type specSuspenderKey struct{}

// specSuspensions counts the suspensions of the suspendable variant.
var specSuspensions, specSuspendedCalls atomic.Int64

// outcome is what one command did.
type outcome struct {
	kind    string
	line    int
	ok      bool
	skipped bool
	detail  string
	results []uint64 // for assert_return: the actual results
	types   []api.ValueType
	lanes   []string
}

// depthExport is the test-only export of the depth counter, reset before
// every invocation as a host reusing an instance after a trap would have to.
const depthExport = "crowdrun.test.depth"

var errDepthTrap = errors.New("crowdrun trap: call depth limit exceeded")

// specSlice is the fuel the test host hands out per out_of_fuel call: small
// enough that long-running spec functions go through refills.
const specSlice = 100_000

// newSpecRuntime returns an interpreter runtime with the spectest and
// crowdrun host modules.
func newSpecRuntime(ctx context.Context, t testing.TB, cfg wazero.RuntimeConfig) wazero.Runtime {
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	spectestWasm, err := os.ReadFile(filepath.Join(wazeroSpecDir(t), "testdata", "spectest.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InstantiateWithConfig(ctx, spectestWasm, wazero.NewModuleConfig().WithName("spectest")); err != nil {
		t.Fatal(err)
	}
	hb := rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, _ []uint64) {
		state, _ := mod.ExportedGlobal(suspend.StateExport).(api.MutableGlobal)
		s, _ := ctx.Value(specSuspenderKey{}).(*specSuspender)
		if state != nil && state.Get() == suspend.StateRewinding {
			if err := s.host.RewindDone(); err != nil {
				panic(err)
			}
			state.Set(suspend.StateNormal)
			return
		}
		if s != nil && s.mod == mod && state != nil {
			// A slice of 0: the next check that follows any charge comes back.
			mod.ExportedGlobal(FuelExport).(api.MutableGlobal).Set(0)
			state.Set(suspend.StateUnwinding)
			return
		}
		mod.ExportedGlobal(FuelExport).(api.MutableGlobal).Set(specSlice)
	}), nil, nil).Export(OutOfFuelName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if stack[0] == TrapStackOverflow {
			panic(errDepthTrap)
		}
		panic(fmt.Errorf("crowdrun trap %d", stack[0]))
	}), []api.ValueType{api.ValueTypeI32}, nil).Export(TrapName)
	for _, f := range suspend.HostFunctions() {
		hb.NewFunctionBuilder().WithGoModuleFunction(f.Func, f.Params, f.Results).Export(f.Name)
	}
	if _, err = hb.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	return rt
}

// runSpecFile runs every command of one JSON file under one variant.
func runSpecFile(t testing.TB, dir, file string, v variant, cfg wazero.RuntimeConfig) []outcome {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var sf specFile
	if err := json.Unmarshal(raw, &sf); err != nil {
		t.Fatal(err)
	}
	rt := newSpecRuntime(ctx, t, cfg)
	defer rt.Close(ctx)

	var instances []api.Module
	named := map[string]api.Module{}
	// standalone: instances importing no functions from other instances
	// (only spectest's and crowdrun's): the only ones suspended, since a
	// suspension must unwind through suspendable frames only.
	standalone := map[api.Module]bool{}
	var last api.Module
	load := func(name string) ([]byte, error) {
		bin, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if v.prepare == nil {
			return bin, nil
		}
		return v.prepare(bin)
	}
	instantiate := func(filename, as string) (api.Module, error) {
		bin, err := load(filename)
		if err != nil {
			return nil, fmt.Errorf("instrument: %w", err)
		}
		mod, err := rt.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithName(as))
		if err != nil {
			return nil, err
		}
		instances = append(instances, mod)
		if dm, err := binary.Decode(bin); err == nil {
			alone := true
			for _, imp := range dm.Imports {
				if imp.Kind == wasm.ExternFunc && imp.Module != "spectest" && imp.Module != HostModule {
					alone = false
				}
			}
			standalone[mod] = alone
		}
		return mod, nil
	}
	// invoke resets crowdrun's counters of every instance (a fresh call from
	// the host) and calls the export.
	invoke := func(a specAction) ([]uint64, api.FunctionDefinition, error) {
		for _, inst := range instances {
			if g, ok := inst.ExportedGlobal(depthExport).(api.MutableGlobal); ok {
				g.Set(0)
			}
			if g, ok := inst.ExportedGlobal(FuelExport).(api.MutableGlobal); ok {
				g.Set(specSlice)
			}
		}
		m := last
		if a.Module != "" {
			m = named[a.Module]
		}
		if m == nil {
			return nil, nil, errors.New("no module")
		}
		fn := m.ExportedFunction(a.Field)
		if fn == nil {
			return nil, nil, fmt.Errorf("no export %q", a.Field)
		}
		var args []uint64
		for _, arg := range a.Args {
			args = append(args, arg.uint64s()...)
		}
		state, _ := m.ExportedGlobal(suspend.StateExport).(api.MutableGlobal)
		if !v.suspend || state == nil || !standalone[m] {
			res, err := fn.Call(ctx, args...)
			return res, fn.Definition(), err
		}
		// Suspend at every check, rewind in place, until the call returns.
		sus := &specSuspender{mod: m, host: &suspend.Host{}}
		m.ExportedGlobal(FuelExport).(api.MutableGlobal).Set(0)
		cctx := suspend.WithHost(context.WithValue(ctx, specSuspenderKey{}, sus), sus.host)
		for {
			res, err := fn.Call(cctx, args...)
			if err != nil || state.Get() != suspend.StateUnwinding {
				if sus.suspends > 0 {
					specSuspendedCalls.Add(1)
				}
				if state.Get() != suspend.StateNormal {
					state.Set(suspend.StateNormal) // after a trap mid-rewind
				}
				return res, fn.Definition(), err
			}
			sus.suspends++
			specSuspensions.Add(1)
			sus.host.StartRewind(sus.host.Frames())
			state.Set(suspend.StateRewinding)
		}
	}

	var outs []outcome
	for i := 0; i < len(sf.Commands); i++ {
		c := &sf.Commands[i]
		o := outcome{kind: c.Type, line: c.Line}
		switch c.Type {
		case "module":
			as := ""
			if i+1 < len(sf.Commands) && sf.Commands[i+1].Type == "register" {
				as = sf.Commands[i+1].As
			}
			mod, err := instantiate(c.Filename, as)
			o.ok = err == nil
			if err != nil {
				o.detail = firstLine(err.Error())
				last = nil
			} else {
				last = mod
				if c.Name != "" {
					named[c.Name] = mod
				}
			}
		case "register":
			o.ok = last != nil // done with the module command
		case "action", "assert_return":
			if c.Action.Type == "get" {
				m := last
				if c.Action.Module != "" {
					m = named[c.Action.Module]
				}
				var g api.Global
				if m != nil {
					g = m.ExportedGlobal(c.Action.Field)
				}
				if g == nil {
					o.detail = "no global"
					break
				}
				got := g.Get()
				o.results, o.types = []uint64{got}, []api.ValueType{g.Type()}
				o.ok = c.Type == "action" || len(c.Expected) == 1 && match(got, 0, c.Expected[0])
				o.detail = fmt.Sprint(got)
				break
			}
			res, def, err := invoke(c.Action)
			if err != nil {
				o.detail = firstLine(err.Error())
				break
			}
			o.results, o.types = res, def.ResultTypes()
			o.detail = fmt.Sprint(res)
			if c.Type == "action" {
				o.ok = true
				break
			}
			o.ok = resultsMatch(res, def.ResultTypes(), c.Expected)
			for _, e := range c.Expected {
				o.lanes = append(o.lanes, e.LaneType)
			}
		case "assert_trap", "assert_exhaustion":
			_, _, err := invoke(c.Action)
			o.ok = err != nil
			if err != nil {
				o.detail = firstLine(err.Error())
				if errors.Is(err, errDepthTrap) {
					o.detail = "stack overflow (crowdrun depth limit)"
					o.ok = c.Type == "assert_exhaustion"
				}
			}
		case "assert_invalid", "assert_malformed", "assert_unlinkable", "assert_uninstantiable":
			if c.ModuleType == "text" {
				o.skipped = true
				break
			}
			_, err := instantiate(c.Filename, "")
			o.ok = err != nil
			if c.Type == "assert_uninstantiable" && c.Text == "out of bounds table access" {
				// wazero keeps such instances (see its spectest harness).
				o.ok = true
			}
		default:
			o.detail = "unknown command"
		}
		outs = append(outs, o)
	}
	return outs
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// uint64s returns the stack representation of an argument.
func (v specValue) uint64s() []uint64 {
	if v.Type == "v128" {
		lo, hi := v.v128()
		return []uint64{lo, hi}
	}
	return []uint64{v.scalar()}
}

func (v specValue) scalar() uint64 {
	s, _ := v.Value.(string)
	if v.Value == nil || s == "null" {
		return 0
	}
	switch v.Type {
	case "externref":
		n, _ := strconv.ParseUint(s, 10, 64)
		return n + 1 // wazero: 0 is null
	case "funcref":
		return 0
	}
	return parseNum(s, strings.Contains(v.Type, "32"))
}

func parseNum(s string, is32 bool) uint64 {
	bits := 64
	if is32 {
		bits = 32
	}
	if strings.HasPrefix(s, "-") {
		n, _ := strconv.ParseInt(s, 10, bits)
		if is32 {
			return uint64(uint32(int32(n)))
		}
		return uint64(n)
	}
	n, _ := strconv.ParseUint(s, 10, bits)
	return n
}

func laneWidth(lt string) int {
	switch lt {
	case "i8":
		return 8
	case "i16":
		return 16
	case "i32", "f32":
		return 32
	}
	return 64
}

func (v specValue) v128() (lo, hi uint64) {
	vals, _ := v.Value.([]any)
	w := laneWidth(v.LaneType)
	n := 128 / w
	for i := 0; i < n && i < len(vals); i++ {
		s, _ := vals[i].(string)
		var x uint64
		if !strings.HasPrefix(s, "nan:") {
			x = parseNum(s, w <= 32)
			if w < 64 {
				x &= 1<<w - 1
			}
		}
		if i < n/2 {
			lo |= x << (i * w)
		} else {
			hi |= x << ((i - n/2) * w)
		}
	}
	return lo, hi
}

// resultsMatch compares actual results with the expected values, NaN
// patterns included.
func resultsMatch(res []uint64, types []api.ValueType, exp []specValue) bool {
	if len(types) != len(exp) {
		return false
	}
	pos := 0
	for i, e := range exp {
		if types[i] == valueTypeV128 {
			if pos+1 >= len(res) || !matchV128(res[pos], res[pos+1], e) {
				return false
			}
			pos += 2
			continue
		}
		if pos >= len(res) || !match(res[pos], types[i], e) {
			return false
		}
		pos++
	}
	return pos == len(res)
}

func match(got uint64, _ api.ValueType, e specValue) bool {
	s, _ := e.Value.(string)
	switch e.Type {
	case "funcref", "externref":
		if e.Value == nil {
			return true // any reference
		}
		return got == e.scalar()
	case "f32":
		return matchFloat(got&0xffffffff, s, 32)
	case "f64":
		return matchFloat(got, s, 64)
	case "i32":
		return uint32(got) == uint32(e.scalar())
	}
	return got == e.scalar()
}

func matchFloat(got uint64, want string, w int) bool {
	var expMask, quiet uint64 = 0x7f800000, 0x00400000
	if w == 64 {
		expMask, quiet = 0x7ff0000000000000, 0x0008000000000000
	}
	fracMask := quiet<<1 - 1
	switch want {
	case "nan:canonical":
		return got&(expMask|fracMask) == expMask|quiet
	case "nan:arithmetic":
		return got&expMask == expMask && got&quiet != 0
	}
	return got == parseNum(want, w == 32)
}

func matchV128(lo, hi uint64, e specValue) bool {
	vals, _ := e.Value.([]any)
	w := laneWidth(e.LaneType)
	n := 128 / w
	if len(vals) != n {
		return false
	}
	for i := 0; i < n; i++ {
		word, shift := lo, i*w
		if i >= n/2 {
			word, shift = hi, (i-n/2)*w
		}
		lane := word >> shift
		if w < 64 {
			lane &= 1<<w - 1
		}
		s, _ := vals[i].(string)
		switch e.LaneType {
		case "f32", "f64":
			if !matchFloat(lane, s, w) {
				return false
			}
		default:
			x := parseNum(s, w <= 32)
			if w < 64 {
				x &= 1<<w - 1
			}
			if lane != x {
				return false
			}
		}
	}
	return true
}

// isNaNOnlyDiff reports whether two outcomes of an assert_return differ only
// in the payloads of NaN results (lanes included).
func isNaNOnlyDiff(a, b outcome) bool {
	if a.results == nil || len(a.results) != len(b.results) {
		return false
	}
	pos := 0
	for i, t := range a.types {
		switch t {
		case api.ValueTypeF32:
			if !sameOrBothNaN(a.results[pos]&0xffffffff, b.results[pos]&0xffffffff, 32) {
				return false
			}
			pos++
		case api.ValueTypeF64:
			if !sameOrBothNaN(a.results[pos], b.results[pos], 64) {
				return false
			}
			pos++
		case valueTypeV128:
			w := 64
			if i < len(a.lanes) {
				w = laneWidth(a.lanes[i])
			}
			for k := 0; k < 2; k++ {
				x, y := a.results[pos+k], b.results[pos+k]
				for s := 0; s < 64; s += w {
					mask := uint64(1)<<w - 1
					if w == 64 {
						mask = math.MaxUint64
					}
					if !sameOrBothNaN(x>>s&mask, y>>s&mask, w) {
						return false
					}
				}
			}
			pos += 2
		default:
			if a.results[pos] != b.results[pos] {
				return false
			}
			pos++
		}
	}
	return true
}

func sameOrBothNaN(x, y uint64, w int) bool {
	if x == y {
		return true
	}
	if w == 32 {
		return math.IsNaN(float64(math.Float32frombits(uint32(x)))) && math.IsNaN(float64(math.Float32frombits(uint32(y))))
	}
	if w == 64 {
		return math.IsNaN(math.Float64frombits(x)) && math.IsNaN(math.Float64frombits(y))
	}
	return false
}

type kindCount struct{ ran, passed, skipped int }

func countKinds(outs map[string][]outcome) map[string]*kindCount {
	c := map[string]*kindCount{}
	for _, os := range outs {
		for _, o := range os {
			k := c[o.kind]
			if k == nil {
				k = &kindCount{}
				c[o.kind] = k
			}
			switch {
			case o.skipped:
				k.skipped++
			case o.ok:
				k.ran++
				k.passed++
			default:
				k.ran++
			}
		}
	}
	return c
}

// TestSpec runs the whole v2 spec suite on the original modules, on the
// instrumented ones without NaN canonicalisation (every outcome must be
// identical) and with it (every difference must be a NaN payload).
func TestSpec(t *testing.T) {
	dir := filepath.Join(wazeroSpecDir(t), "v2", "testdata")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec tests in %s: %v", dir, err)
	}
	sort.Strings(files)
	inst := func(nan bool) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) {
			o := DefaultOptions()
			o.CanonicalizeNaN = nan
			o.exportDepth = depthExport
			return Instrument(b, o)
		}
	}
	variants := []variant{
		{name: "original"},
		{name: "instrumented", prepare: inst(false)},
		{name: "instrumented+nan", prepare: inst(true)},
	}
	results := runVariants(t, dir, files, variants)

	// Counts per kind.
	counts := make([]map[string]*kindCount, len(variants))
	var kinds []string
	for v := range variants {
		counts[v] = countKinds(results[v])
	}
	for k := range counts[0] {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	t.Logf("spec suite: %d files", len(files))
	for _, k := range kinds {
		line := fmt.Sprintf("%-22s", k)
		for v := range variants {
			c := counts[v][k]
			if c == nil {
				c = &kindCount{}
			}
			line += fmt.Sprintf("  %s: %d/%d passed", variants[v].name, c.passed, c.ran)
			if c.skipped > 0 {
				line += fmt.Sprintf(" (%d text skipped)", c.skipped)
			}
		}
		t.Log(line)
	}

	// Original vs instrumented: identical outcomes.
	orig, plain, nan := results[0], results[1], results[2]
	var nanDiffs []string
	bad := 0
	for _, f := range files {
		name := filepath.Base(f)
		o, p, n := orig[name], plain[name], nan[name]
		if len(o) != len(p) || len(o) != len(n) {
			t.Fatalf("%s: command counts differ", name)
		}
		for i := range o {
			if o[i].ok != p[i].ok || (o[i].kind == "assert_return" && o[i].detail != p[i].detail) {
				bad++
				if bad <= 30 {
					t.Errorf("%s:%d %s: original ok=%v %q, instrumented ok=%v %q", name, o[i].line, o[i].kind, o[i].ok, o[i].detail, p[i].ok, p[i].detail)
				}
			}
			if o[i].ok != n[i].ok || (o[i].kind == "assert_return" && o[i].detail != n[i].detail) {
				if isNaNOnlyDiff(o[i], n[i]) {
					nanDiffs = append(nanDiffs, fmt.Sprintf("%s:%d (ok %v→%v)", name, o[i].line, o[i].ok, n[i].ok))
					continue
				}
				bad++
				if bad <= 30 {
					t.Errorf("%s:%d %s: original ok=%v %q, instrumented+nan ok=%v %q", name, o[i].line, o[i].kind, o[i].ok, o[i].detail, n[i].ok, n[i].detail)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d outcomes differ", bad)
	}
	for _, k := range kinds {
		if c := counts[0][k]; c.passed != c.ran {
			t.Errorf("%s: only %d of %d pass on the original modules: the harness is wrong", k, c.passed, c.ran)
		}
	}
	exhausted := 0
	for _, outs := range plain {
		for _, o := range outs {
			if o.kind == "assert_exhaustion" && strings.Contains(o.detail, "crowdrun depth limit") {
				exhausted++
			}
		}
	}
	t.Logf("assert_exhaustion stopped by crowdrun's depth limit (not the engine's): %d of %d", exhausted, counts[1]["assert_exhaustion"].ran)
	if exhausted != counts[1]["assert_exhaustion"].ran {
		t.Errorf("some exhaustion was not caught by the depth limit")
	}
	t.Logf("with NaN canonicalisation: %d results differ only in NaN payloads", len(nanDiffs))
	for i, d := range nanDiffs {
		if i == 40 && !testing.Verbose() {
			t.Logf("  ... %d more", len(nanDiffs)-i)
			break
		}
		t.Logf("  %s", d)
	}
}

// valueTypeV128 is wazero's (unexported in api) value type of v128 results.
const valueTypeV128 api.ValueType = 0x7b

// runVariants runs every spec file under every variant, in parallel.
func runVariants(t *testing.T, dir string, files []string, variants []variant) []map[string][]outcome {
	cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2)

	results := make([]map[string][]outcome, len(variants))
	for i := range results {
		results[i] = map[string][]outcome{}
	}
	var mu sync.Mutex
	type job struct {
		file string
		v    int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range max(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				outs := runSpecFile(t, dir, filepath.Base(j.file), variants[j.v], cfg)
				mu.Lock()
				results[j.v][filepath.Base(j.file)] = outs
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		for v := range variants {
			jobs <- job{f, v}
		}
	}
	close(jobs)
	wg.Wait()

	return results
}

// TestSpecSuspendable runs the spec suite on suspendable modules
// (instrumented, then suspend.Transform), suspending every call at every
// fuel check and rewinding it in place: every assertion must come out as on
// the original modules. A million suspensions: too slow under the race
// detector, so scripts/test.sh runs it without.
func TestSpecSuspendable(t *testing.T) {
	if raceEnabled {
		t.Skip("too slow under the race detector: scripts/test.sh runs it without -race")
	}
	dir := filepath.Join(wazeroSpecDir(t), "v2", "testdata")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec tests in %s: %v", dir, err)
	}
	sort.Strings(files)
	var suspendable, unsupported atomic.Int64
	variants := []variant{
		{name: "original"},
		{name: "suspendable", suspend: true, prepare: func(b []byte) ([]byte, error) {
			o := DefaultOptions()
			o.CanonicalizeNaN = false
			o.exportDepth = depthExport
			m, err := binary.Decode(b)
			if err != nil {
				return nil, err
			}
			if err := InstrumentModule(m, o); err != nil {
				return nil, err
			}
			if err := suspend.Transform(m, suspend.Options{}); err != nil {
				if !errors.Is(err, suspend.ErrUnsupported) {
					return nil, err
				}
				unsupported.Add(1)
				return Instrument(b, o) // runs without suspension
			}
			suspendable.Add(1)
			return binary.Encode(m), nil
		}},
	}
	results := runVariants(t, dir, files, variants)
	counts := countKinds(results[1])
	asserts := 0
	for k, c := range counts {
		if strings.HasPrefix(k, "assert_") {
			asserts += c.ran
		}
	}
	t.Logf("suspendable: %d files, %d assertions; %d module loads rewritten (%d refused: reference-typed locals or globals); %d calls suspended at every fuel check and rewound, %d suspensions in all",
		len(files), asserts, suspendable.Load(), unsupported.Load(), specSuspendedCalls.Load(), specSuspensions.Load())
	if specSuspensions.Load() == 0 {
		t.Errorf("the suspendable variant never suspended")
	}
	bad := 0
	for _, f := range files {
		name := filepath.Base(f)
		o, sp := results[0][name], results[1][name]
		if len(o) != len(sp) {
			t.Fatalf("%s: command counts differ", name)
		}
		for i := range o {
			if o[i].ok != sp[i].ok || (o[i].kind == "assert_return" && o[i].detail != sp[i].detail) {
				bad++
				if bad <= 30 {
					t.Errorf("%s:%d %s: original ok=%v %q, suspendable ok=%v %q", name, o[i].line, o[i].kind, o[i].ok, o[i].detail, sp[i].ok, sp[i].detail)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d outcomes differ", bad)
	}
}
