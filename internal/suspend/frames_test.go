package suspend

import (
	"bytes"
	"errors"
	"testing"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

func TestFramesRoundTrip(t *testing.T) {
	frames := []Frame{
		{Func: 12, Site: 3, Values: []Value{{wasm.I32, 0xffffffff}, {wasm.I64, 1 << 63}, {wasm.F32, 0x7fc00001}, {wasm.F64, 0x7ff8dead0000beef}}},
		{Func: 40, Site: 0},
	}
	b := MarshalFrames(frames)
	got, err := UnmarshalFrames(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(MarshalFrames(got), b) || len(got) != 2 || got[0].Values[3] != frames[0].Values[3] {
		t.Fatalf("round trip: %+v", got)
	}
	for i := range b {
		if _, err := UnmarshalFrames(b[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	if _, err := UnmarshalFrames(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("trailing byte: no error")
	}
}

func FuzzUnmarshalFrames(f *testing.F) {
	f.Add(MarshalFrames([]Frame{{Func: 1, Site: 2, Values: []Value{{wasm.I32, 7}, {wasm.F64, 9}}}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, err := UnmarshalFrames(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrames) {
				t.Fatalf("error %v is not ErrBadFrames", err)
			}
			return
		}
		if !bytes.Equal(MarshalFrames(frames), b) {
			t.Fatal("decoding is not canonical")
		}
	})
}

// TestHostileFrames resumes the control module with damaged frames: the run
// must fail with an error (a trap), never succeed with a wrong result or
// panic the host.
func TestHostileFrames(t *testing.T) {
	e := newEnv(t)
	g := e.prepare(t, readExample(t, "internal/suspend/testdata/control.wasm"), true)
	var out bytes.Buffer
	c, _, err := e.segment(g, input{}, nil, 5, 1000, &out)
	if err != nil || c == nil {
		t.Fatalf("no suspension: %v", err)
	}
	frames, err := UnmarshalFrames(c.frames)
	if err != nil || len(frames) < 2 {
		t.Fatalf("frames %d: %v", len(frames), err)
	}
	// withValues is the first frame that has values.
	withValues := func(fs []Frame) *Frame {
		for i := range fs {
			if len(fs[i].Values) > 0 {
				return &fs[i]
			}
		}
		t.Fatal("no frame has values")
		return nil
	}
	damage := map[string]func(fs []Frame) []Frame{
		"no frames":     func(fs []Frame) []Frame { return nil },
		"missing inner": func(fs []Frame) []Frame { return fs[:len(fs)-1] },
		"extra frame":   func(fs []Frame) []Frame { return append(fs, fs[len(fs)-1]) },
		"wrong func":    func(fs []Frame) []Frame { fs[0].Func++; return fs },
		"bad site":      func(fs []Frame) []Frame { fs[0].Site = 1 << 20; return fs },
		"missing value": func(fs []Frame) []Frame { f := withValues(fs); f.Values = f.Values[1:]; return fs },
		"extra value":   func(fs []Frame) []Frame { fs[0].Values = append(fs[0].Values, Value{wasm.I32, 0}); return fs },
		"wrong type": func(fs []Frame) []Frame {
			v := &withValues(fs).Values[0]
			if v.Type == wasm.I32 {
				v.Type = wasm.I64
			} else {
				v.Type = wasm.I32
			}
			return fs
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			fs, _ := UnmarshalFrames(c.frames) // a fresh copy
			bad := *c
			bad.frames = MarshalFrames(f(fs))
			var out bytes.Buffer
			_, res, err := e.segment(g, input{}, &bad, 0, 1000, &out)
			if err == nil && res.err == nil {
				t.Fatalf("resumed with damaged frames: output %q", out.String())
			}
		})
	}
}
