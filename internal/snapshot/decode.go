package snapshot

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// Limits bound what a decoder accepts, on top of the format's own limits.
// Decoded memory is up to MaxPages·64 KiB, so callers should pass the memory
// cap the module was instrumented with rather than the default.
type Limits struct {
	MaxPages   uint32 // linear memory, in pages
	MaxGlobals uint32
	MaxFrames  uint32 // saved frames, raw bytes
	MaxHost    uint32 // host state, raw bytes
}

// DefaultLimits accepts any 32-bit memory, 65536 globals, 64 MiB of frames
// and 256 MiB of host state.
var DefaultLimits = Limits{MaxPages: MaxPages, MaxGlobals: 1 << 16, MaxFrames: 64 << 20, MaxHost: 256 << 20}

// Decode reads a full snapshot with DefaultLimits and returns it with its
// digest, after checking the CRC-32C and that the content hashes to the
// declared state hash.
func Decode(r io.Reader) (*Snapshot, *Digest, error) { return DefaultLimits.Decode(r) }

// ApplyDelta reads a delta with DefaultLimits and applies it to base.
func ApplyDelta(base *Snapshot, baseDigest *Digest, r io.Reader) (*Snapshot, *Digest, error) {
	return DefaultLimits.ApplyDelta(base, baseDigest, r)
}

// Decode reads a full snapshot (see the package function).
func (l Limits) Decode(r io.Reader) (*Snapshot, *Digest, error) {
	f, err := l.read(r, func(h *Header) error {
		if h.Delta {
			return fmt.Errorf("%w: a delta, not a full snapshot", ErrKind)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s := f.snap
	d := &Digest{Pages: make([][32]byte, len(s.Pages))}
	var todo []int
	for i, p := range s.Pages {
		if p == nil {
			d.Pages[i] = ZeroPageHash
		} else {
			todo = append(todo, i)
		}
	}
	hashPages(s.Pages, d.Pages, todo)
	return finish(f, d)
}

// ApplyDelta reads a delta and applies it to base, whose digest is baseDigest
// (nil to compute it). The delta must name base's state hash, and the result
// must hash to the state hash the delta declares. Unchanged pages of the
// result share memory with base.
func (l Limits) ApplyDelta(base *Snapshot, baseDigest *Digest, r io.Reader) (*Snapshot, *Digest, error) {
	bd, err := digestFor(base, baseDigest)
	if err != nil {
		return nil, nil, err
	}
	f, err := l.read(r, func(h *Header) error {
		if !h.Delta {
			return fmt.Errorf("%w: a full snapshot, not a delta", ErrKind)
		}
		if h.Base != bd.State {
			return fmt.Errorf("%w: delta is against %x, base is %x", ErrBase, h.Base[:8], bd.State[:8])
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s := f.snap
	d := &Digest{Pages: make([][32]byte, len(s.Pages))}
	listed := make([]bool, len(s.Pages))
	var todo []int
	for _, i := range f.listed {
		listed[i] = true
		todo = append(todo, i)
	}
	for i := range s.Pages {
		switch {
		case listed[i]:
		case i < len(base.Pages):
			s.Pages[i] = base.Pages[i]
			d.Pages[i] = bd.Pages[i]
		default:
			d.Pages[i] = ZeroPageHash
		}
	}
	hashPages(s.Pages, d.Pages, todo)
	return finish(f, d)
}

func finish(f *file, d *Digest) (*Snapshot, *Digest, error) {
	d.State = stateHash(f.snap, d.Pages)
	if d.State != f.hdr.State {
		return nil, nil, fmt.Errorf("%w: content hashes to %x, header says %x", ErrStateHash, d.State[:8], f.hdr.State[:8])
	}
	return f.snap, d, nil
}

type file struct {
	hdr    Header
	snap   *Snapshot
	listed []int // page indices carried by records, increasing
}

// reader reads the file, accumulating the CRC-32C of what it reads.
type reader struct {
	r   *bufio.Reader
	crc uint32
}

func (r *reader) full(b []byte) error {
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated", ErrFormat)
		}
		return err
	}
	r.crc = crc32.Update(r.crc, castagnoli, b)
	return nil
}

// bytes reads n bytes, growing the buffer only as data arrives so that a
// hostile length costs no more memory than the bytes actually sent.
func (r *reader) bytes(n int) ([]byte, error) {
	const chunk = 1 << 20
	b := make([]byte, 0, min(n, chunk))
	for len(b) < n {
		k := min(n-len(b), chunk)
		b = slices.Grow(b, k)[:len(b)+k]
		if err := r.full(b[len(b)-k:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (l Limits) read(in io.Reader, check func(*Header) error) (*file, error) {
	r := &reader{r: bufio.NewReaderSize(in, 256<<10)}
	var hb [headerSize]byte
	if err := r.full(hb[:]); err != nil {
		return nil, err
	}
	h, err := ReadHeader(hb[:])
	if err != nil {
		return nil, err
	}
	if h.Pages > l.MaxPages || h.Globals > l.MaxGlobals {
		return nil, fmt.Errorf("%w: %d pages (max %d), %d globals (max %d)", ErrLimit, h.Pages, l.MaxPages, h.Globals, l.MaxGlobals)
	}
	if err := check(&h); err != nil {
		return nil, err
	}
	s := &Snapshot{ModuleHash: h.ModuleHash, Fuel: h.Fuel, Pages: make([][]byte, h.Pages)}
	if h.Globals > 0 {
		s.Globals = make([]Global, h.Globals)
	}
	var vb [16]byte
	for i := range s.Globals {
		if err := r.full(vb[:1]); err != nil {
			return nil, err
		}
		t := vb[0]
		w := globalWidth(t)
		if w == 0 {
			return nil, fmt.Errorf("%w: global %d has value type 0x%02x", ErrFormat, i, t)
		}
		if err := r.full(vb[:w]); err != nil {
			return nil, err
		}
		g := Global{Type: t}
		switch w {
		case 4:
			g.Lo = uint64(binary.LittleEndian.Uint32(vb[:]))
		case 8:
			g.Lo = binary.LittleEndian.Uint64(vb[:])
		case 16:
			g.Lo = binary.LittleEndian.Uint64(vb[:])
			g.Hi = binary.LittleEndian.Uint64(vb[8:])
		}
		s.Globals[i] = g
	}
	inf := newInflater()
	if s.Frames, err = r.blob(inf, "frames", l.MaxFrames); err != nil {
		return nil, err
	}
	if s.Host, err = r.blob(inf, "host state", l.MaxHost); err != nil {
		return nil, err
	}
	f := &file{hdr: h, snap: s, listed: make([]int, 0, h.Records)}
	// Compressed pages are read in batches and inflated in parallel.
	const batch = 256
	var deflated []int // indices of s.Pages holding stored bytes to inflate
	inflate := func() error {
		errs := make([]error, len(deflated))
		parallelRange(len(deflated), func(lo, hi int) {
			in := newInflater()
			for k := lo; k < hi; k++ {
				i := deflated[k]
				page := make([]byte, PageSize)
				if err := in.exact(s.Pages[i], page); err != nil {
					errs[k] = fmt.Errorf("page %d: %w", i, err)
					continue
				}
				s.Pages[i] = page
			}
		})
		deflated = deflated[:0]
		return errors.Join(errs...)
	}
	next := 0 // smallest index the next record may have
	for range h.Records {
		var rb [9]byte
		if err := r.full(rb[:]); err != nil {
			return nil, err
		}
		idx := binary.LittleEndian.Uint32(rb[:])
		enc, n := rb[4], binary.LittleEndian.Uint32(rb[5:])
		if idx >= h.Pages || int(idx) < next {
			return nil, fmt.Errorf("%w: page record %d out of order or past %d pages", ErrFormat, idx, h.Pages)
		}
		next = int(idx) + 1
		var page []byte
		switch enc {
		case encRaw:
			if n != PageSize {
				return nil, fmt.Errorf("%w: raw page %d of %d bytes", ErrFormat, idx, n)
			}
			page = make([]byte, PageSize)
			if err := r.full(page); err != nil {
				return nil, err
			}
		case encDeflate:
			if n == 0 || n >= PageSize {
				return nil, fmt.Errorf("%w: compressed page %d of %d bytes", ErrFormat, idx, n)
			}
			page = make([]byte, n) // stored bytes until inflate
			if err := r.full(page); err != nil {
				return nil, err
			}
			deflated = append(deflated, int(idx))
		case encZero:
			if n != 0 {
				return nil, fmt.Errorf("%w: zero page %d with %d bytes", ErrFormat, idx, n)
			}
		default:
			return nil, fmt.Errorf("%w: page %d has encoding %d", ErrFormat, idx, enc)
		}
		s.Pages[idx] = page
		f.listed = append(f.listed, int(idx))
		if len(deflated) == batch {
			if err := inflate(); err != nil {
				return nil, err
			}
		}
	}
	if err := inflate(); err != nil {
		return nil, err
	}
	sum := r.crc
	var tb [4]byte
	if err := r.full(tb[:]); err != nil {
		return nil, err
	}
	if got := binary.LittleEndian.Uint32(tb[:]); got != sum {
		return nil, fmt.Errorf("%w: trailer %08x, content %08x", ErrChecksum, got, sum)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("%w: trailing bytes", ErrFormat)
		}
		return nil, err
	}
	return f, nil
}

func (r *reader) blob(inf *inflater, what string, limit uint32) ([]byte, error) {
	var b [9]byte
	if err := r.full(b[:]); err != nil {
		return nil, err
	}
	enc := b[0]
	raw, n := binary.LittleEndian.Uint32(b[1:]), binary.LittleEndian.Uint32(b[5:])
	if raw > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes (max %d)", ErrLimit, what, raw, limit)
	}
	switch enc {
	case encRaw:
		if n != raw {
			return nil, fmt.Errorf("%w: raw %s: %d stored bytes for %d", ErrFormat, what, n, raw)
		}
		if raw == 0 {
			return nil, nil
		}
		return r.bytes(int(n))
	case encDeflate:
		if n == 0 || n >= raw {
			return nil, fmt.Errorf("%w: compressed %s: %d stored bytes for %d", ErrFormat, what, n, raw)
		}
		stored, err := r.bytes(int(n))
		if err != nil {
			return nil, err
		}
		out, err := inf.grow(stored, int(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s has encoding %d", ErrFormat, what, enc)
}

// inflater decodes raw DEFLATE streams that must expand to an exact size and
// end exactly at the end of their stored bytes.
type inflater struct {
	br bytes.Reader
	fr io.ReadCloser
}

func newInflater() *inflater {
	in := &inflater{}
	in.fr = flate.NewReader(&in.br)
	return in
}

func (in *inflater) reset(stored []byte) {
	in.br.Reset(stored)
	in.fr.(flate.Resetter).Reset(&in.br, nil)
}

func (in *inflater) end() error {
	var one [1]byte
	if n, err := in.fr.Read(one[:]); n != 0 || err != io.EOF {
		if err != nil && err != io.EOF {
			return fmt.Errorf("%w: deflate: %v", ErrFormat, err)
		}
		return fmt.Errorf("%w: deflate stream longer than declared", ErrFormat)
	}
	if in.br.Len() != 0 {
		return fmt.Errorf("%w: %d bytes after the deflate stream", ErrFormat, in.br.Len())
	}
	return nil
}

// exact inflates stored into dst, which it must fill exactly.
func (in *inflater) exact(stored, dst []byte) error {
	in.reset(stored)
	if _, err := io.ReadFull(in.fr, dst); err != nil {
		return fmt.Errorf("%w: deflate: %v", ErrFormat, err)
	}
	return in.end()
}

// grow inflates stored to exactly n bytes, allocating as output appears.
func (in *inflater) grow(stored []byte, n int) ([]byte, error) {
	in.reset(stored)
	var out bytes.Buffer
	if _, err := out.ReadFrom(io.LimitReader(in.fr, int64(n))); err != nil {
		return nil, fmt.Errorf("%w: deflate: %v", ErrFormat, err)
	}
	if out.Len() != n {
		return nil, fmt.Errorf("%w: deflate stream of %d bytes, declared %d", ErrFormat, out.Len(), n)
	}
	return out.Bytes(), in.end()
}
