package suspend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/crowdrun/crowdrun/internal/wasm"
)

// Value is one saved value: its type and its bits (f32 in the low 32 bits).
type Value struct {
	Type wasm.ValType
	Bits uint64
}

// Frame is one function activation of a suspended guest.
type Frame struct {
	Func   uint32 // function index in the transformed module
	Site   uint32 // index of the call the frame is in
	Values []Value
}

// framesVersion is the first byte of encoded frames.
const framesVersion = 1

// ErrBadFrames reports saved frames that do not fit the guest.
var ErrBadFrames = errors.New("suspend: invalid frames")

// MarshalFrames encodes frames (outermost first) canonically; see
// docs/continuations.md.
func MarshalFrames(frames []Frame) []byte {
	b := []byte{framesVersion}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, f.Func)
		b = binary.LittleEndian.AppendUint32(b, f.Site)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Values)))
		for _, v := range f.Values {
			b = append(b, byte(v.Type))
			switch v.Type {
			case wasm.I32, wasm.F32:
				b = binary.LittleEndian.AppendUint32(b, uint32(v.Bits))
			default:
				b = binary.LittleEndian.AppendUint64(b, v.Bits)
			}
		}
	}
	return b
}

// UnmarshalFrames decodes MarshalFrames' encoding. It never panics, and
// allocates in proportion to len(b).
func UnmarshalFrames(b []byte) ([]Frame, error) {
	if len(b) < 5 || b[0] != framesVersion {
		return nil, fmt.Errorf("%w: bad header", ErrBadFrames)
	}
	n := binary.LittleEndian.Uint32(b[1:])
	b = b[5:]
	var frames []Frame
	for range n {
		if len(b) < 12 {
			return nil, fmt.Errorf("%w: truncated", ErrBadFrames)
		}
		f := Frame{Func: binary.LittleEndian.Uint32(b), Site: binary.LittleEndian.Uint32(b[4:])}
		nv := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		if uint64(nv)*5 > uint64(len(b)) {
			return nil, fmt.Errorf("%w: truncated", ErrBadFrames)
		}
		f.Values = make([]Value, 0, nv)
		for range nv {
			if len(b) < 1 {
				return nil, fmt.Errorf("%w: truncated", ErrBadFrames)
			}
			t := wasm.ValType(b[0])
			b = b[1:]
			size := 8
			switch t {
			case wasm.I32, wasm.F32:
				size = 4
			case wasm.I64, wasm.F64:
			default:
				return nil, fmt.Errorf("%w: value type 0x%02x", ErrBadFrames, byte(t))
			}
			if len(b) < size {
				return nil, fmt.Errorf("%w: truncated", ErrBadFrames)
			}
			var bits uint64
			if size == 4 {
				bits = uint64(binary.LittleEndian.Uint32(b))
			} else {
				bits = binary.LittleEndian.Uint64(b)
			}
			b = b[size:]
			f.Values = append(f.Values, Value{t, bits})
		}
		frames = append(frames, f)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadFrames, len(b))
	}
	return frames, nil
}

// Host is the host side of one guest's frames: it collects them while the
// guest unwinds and serves them while it rewinds. Not safe for concurrent
// use; one per guest run.
type Host struct {
	pending []Value
	unwound []Frame // innermost first

	rewind []Frame // outermost first
	next   int     // next frame to load
	cur    *Frame
	pos    int // next value of cur
}

// Frames returns the frames saved by the last unwind, outermost first, and
// resets the collection.
func (h *Host) Frames() []Frame {
	out := make([]Frame, len(h.unwound))
	for i, f := range h.unwound {
		out[len(out)-1-i] = f
	}
	h.unwound, h.pending = nil, nil
	return out
}

// StartRewind makes the host serve frames (outermost first) to a rewinding
// guest.
func (h *Host) StartRewind(frames []Frame) {
	h.rewind, h.next, h.cur, h.pos = frames, 0, nil, 0
}

// RewindDone reports whether the guest loaded every frame and value; the
// host checks it when out_of_fuel is called in the rewinding state.
func (h *Host) RewindDone() error {
	if h.next != len(h.rewind) || (h.cur != nil && h.pos != len(h.cur.Values)) {
		return fmt.Errorf("%w: rewind reached the suspension point with frames left", ErrBadFrames)
	}
	h.rewind, h.cur = nil, nil
	return nil
}

func (h *Host) saveFrame(fn, site uint32) {
	h.unwound = append(h.unwound, Frame{Func: fn, Site: site, Values: h.pending})
	h.pending = nil
}

func (h *Host) loadFrame(fn uint32) uint32 {
	if h.cur != nil && h.pos != len(h.cur.Values) {
		panic(fmt.Errorf("%w: frame of function %d has %d values, %d loaded", ErrBadFrames, h.cur.Func, len(h.cur.Values), h.pos))
	}
	if h.next >= len(h.rewind) {
		panic(fmt.Errorf("%w: function %d rewinds past the last frame", ErrBadFrames, fn))
	}
	f := &h.rewind[h.next]
	if f.Func != fn {
		panic(fmt.Errorf("%w: frame %d is of function %d, function %d rewinds", ErrBadFrames, h.next, f.Func, fn))
	}
	h.next++
	h.cur, h.pos = f, 0
	return f.Site
}

func (h *Host) load(t wasm.ValType) uint64 {
	if h.cur == nil || h.pos >= len(h.cur.Values) || h.cur.Values[h.pos].Type != t {
		panic(fmt.Errorf("%w: no %v value to load", ErrBadFrames, t))
	}
	v := h.cur.Values[h.pos].Bits
	h.pos++
	return v
}

type hostKey struct{}

// WithHost returns a context carrying h for the functions of HostFunctions.
func WithHost(ctx context.Context, h *Host) context.Context {
	return context.WithValue(ctx, hostKey{}, h)
}

func hostFrom(ctx context.Context) *Host {
	h, _ := ctx.Value(hostKey{}).(*Host)
	if h == nil {
		panic("suspend: guest called without a frames host in its context")
	}
	return h
}

// HostFunction is one import of module "crowdrun" that Transform adds.
type HostFunction struct {
	Name            string
	Params, Results []api.ValueType
	Func            api.GoModuleFunc
}

func apiType(t wasm.ValType) api.ValueType {
	switch t {
	case wasm.I32:
		return api.ValueTypeI32
	case wasm.I64:
		return api.ValueTypeI64
	case wasm.F32:
		return api.ValueTypeF32
	}
	return api.ValueTypeF64
}

// HostFunctions are the frame imports (save_*, load_*, save_frame,
// load_frame), implemented on the Host in the call's context (WithHost).
// out_of_fuel stays the embedder's.
func HostFunctions() []HostFunction {
	var fs []HostFunction
	for _, t := range savedTypes {
		fs = append(fs, HostFunction{saveNamePrefix + t.String(), []api.ValueType{apiType(t)}, nil,
			func(ctx context.Context, _ api.Module, stack []uint64) {
				h := hostFrom(ctx)
				v := stack[0]
				if t == wasm.I32 || t == wasm.F32 {
					v &= math.MaxUint32
				}
				h.pending = append(h.pending, Value{t, v})
			}})
		fs = append(fs, HostFunction{loadNamePrefix + t.String(), nil, []api.ValueType{apiType(t)},
			func(ctx context.Context, _ api.Module, stack []uint64) {
				stack[0] = hostFrom(ctx).load(t)
			}})
	}
	fs = append(fs,
		HostFunction{SaveFrameName, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil,
			func(ctx context.Context, _ api.Module, stack []uint64) {
				hostFrom(ctx).saveFrame(uint32(stack[0]), uint32(stack[1]))
			}},
		HostFunction{LoadFrameName, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32},
			func(ctx context.Context, _ api.Module, stack []uint64) {
				stack[0] = uint64(hostFrom(ctx).loadFrame(uint32(stack[0])))
			}})
	return fs
}
