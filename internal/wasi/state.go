package wasi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// hostStateVersion is the first byte of an encoded host state.
const hostStateVersion = 1

// ErrBadHostState reports an encoded host state that cannot be restored.
var ErrBadHostState = errors.New("invalid host state")

// MarshalHost encodes everything of s that a suspended guest's continuation
// needs besides the guest's own memory and globals: how far it read stdin,
// how much it wrote, the virtual clock, the random generator and its open
// files. The encoding is canonical (docs/host-interface.md, "Host state"):
// equal states give equal bytes, in Go and in JavaScript.
func (s *State) MarshalHost() []byte {
	b := make([]byte, 0, 64+16*len(s.files))
	b = append(b, hostStateVersion)
	b = binary.LittleEndian.AppendUint64(b, s.clockNS)
	b = binary.LittleEndian.AppendUint64(b, s.rng)
	b = binary.LittleEndian.AppendUint64(b, s.stdinOffset)
	eof := byte(0)
	if s.stdinEOF {
		eof = 1
	}
	b = append(b, eof)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.outputUsed))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.files)))
	for _, f := range s.files {
		if f == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.n.path)))
		b = append(b, f.n.path...)
		b = binary.LittleEndian.AppendUint64(b, f.offset)
	}
	return b
}

// RestoreState builds the state of a guest resumed from host, an encoding
// made by MarshalHost, with the same configuration (arguments, environment,
// files, seed and limits) as the run that was suspended. cfg.Stdin must
// deliver the task's whole input: the part already read is skipped.
func RestoreState(cfg Config, host []byte) (*State, error) {
	s, err := NewState(cfg)
	if err != nil {
		return nil, err
	}
	r := hostReader{b: host}
	if v := r.u8(); v != hostStateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadHostState, v, hostStateVersion)
	}
	s.clockNS = r.u64()
	s.rng = r.u64()
	s.stdinOffset = r.u64()
	switch r.u8() {
	case 0:
	case 1:
		s.stdinEOF = true
	default:
		r.err = ErrBadHostState
	}
	used := r.u64()
	n := r.u32()
	if r.err == nil && n > MaxOpenFiles {
		return nil, fmt.Errorf("%w: %d open files, at most %d", ErrBadHostState, n, MaxOpenFiles)
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		switch r.u8() {
		case 0:
			s.files = append(s.files, nil)
			continue
		case 1:
		default:
			r.err = ErrBadHostState
			continue
		}
		path := string(r.bytes(r.u32()))
		off := r.u64()
		if r.err != nil {
			break
		}
		nd := s.root
		if path != "" {
			var errno Errno
			if nd, errno = s.lookup(s.root, path); errno != ErrnoSuccess {
				return nil, fmt.Errorf("%w: open file %q is not among the input files", ErrBadHostState, path)
			}
		}
		s.files = append(s.files, &openFile{n: nd, offset: off})
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: truncated or trailing bytes", ErrBadHostState)
	}
	if used > uint64(max(s.maxOutput, 0)) && s.maxOutput > 0 {
		return nil, fmt.Errorf("%w: %d bytes written, above the output limit", ErrBadHostState, used)
	}
	s.outputUsed = int64(used)
	if _, err := io.CopyN(io.Discard, s.stdin, int64(s.stdinOffset)); err != nil && s.stdinOffset > 0 {
		return nil, fmt.Errorf("%w: stdin is shorter than the %d bytes already read", ErrBadHostState, s.stdinOffset)
	}
	return s, nil
}

type hostReader struct {
	b   []byte
	err error
}

func (r *hostReader) bytes(n uint32) []byte {
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.err = ErrBadHostState
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *hostReader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *hostReader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *hostReader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
