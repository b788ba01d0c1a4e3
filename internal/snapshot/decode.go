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
	"sync"
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

// Decode reads a full snapshot (see the package function), allocating
// memory as data arrives, so that a lying length costs none; compressed
// pages are inflated, and every page hashed, in one parallel pass once the
// records are read.
func (l Limits) Decode(r io.Reader) (*Snapshot, *Digest, error) {
	return l.decode(r, nil, nil, fullOnly)
}

// DecodeBytes is Decode from a file in memory. Raw pages, frames and host
// state of the snapshot alias b, which must not change while the snapshot
// is in use; nothing is copied but what is compressed.
func (l Limits) DecodeBytes(b []byte) (*Snapshot, *Digest, error) {
	h, err := l.header(b, fullOnly)
	if err != nil {
		return nil, nil, err
	}
	return l.parse(&cursor{b: b, pos: headerSize}, h, nil, nil)
}

func fullOnly(h *Header) error {
	if h.Delta {
		return fmt.Errorf("%w: a delta, not a full snapshot", ErrKind)
	}
	return nil
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
	return l.decode(r, base, bd, deltaOn(bd))
}

// deltaOn accepts only a delta whose base is the snapshot digested by bd.
func deltaOn(bd *Digest) func(*Header) error {
	return func(h *Header) error {
		if !h.Delta {
			return fmt.Errorf("%w: a full snapshot, not a delta", ErrKind)
		}
		if h.Base != bd.State {
			return fmt.Errorf("%w: delta is against %x, base is %x", ErrBase, h.Base[:8], bd.State[:8])
		}
		return nil
	}
}

// decode reads the file from r — the header first, checked (check: its
// kind and base) before anything else is read — and parses it; base is
// the snapshot a delta applies to, bd its digest.
func (l Limits) decode(r io.Reader, base *Snapshot, bd *Digest, check func(*Header) error) (*Snapshot, *Digest, error) {
	src := &stream{r: bufio.NewReaderSize(r, 256<<10)}
	hb, err := src.take(headerSize)
	if err != nil {
		return nil, nil, err
	}
	h, err := l.header(hb, check)
	if err != nil {
		return nil, nil, err
	}
	return l.parse(src, h, base, bd)
}

func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrFormat)
	}
	return err
}

// header parses and checks the header at the start of b.
func (l Limits) header(b []byte, check func(*Header) error) (Header, error) {
	if len(b) < headerSize {
		return Header{}, fmt.Errorf("%w: truncated", ErrFormat)
	}
	h, err := ReadHeader(b[:headerSize])
	if err != nil {
		return h, err
	}
	if h.Pages > l.MaxPages || h.Globals > l.MaxGlobals {
		return h, fmt.Errorf("%w: %d pages (max %d), %d globals (max %d)", ErrLimit, h.Pages, l.MaxPages, h.Globals, l.MaxGlobals)
	}
	return h, check(&h)
}

// source is where parse reads a file from: memory (cursor) or a stream.
// Running past the end is the error a file cut short gives.
type source interface {
	// take returns the next n bytes, which the caller may keep.
	take(n int) ([]byte, error)
	// checksum returns the CRC-32C of what was taken so far.
	checksum() uint32
	// atEnd reports whether nothing follows what was taken.
	atEnd() (bool, error)
}

// cursor is a file in memory: take aliases it, and the CRC is computed
// over it when asked for.
type cursor struct {
	b   []byte
	pos int
}

func (c *cursor) take(n int) ([]byte, error) {
	if n < 0 || n > len(c.b)-c.pos {
		return nil, fmt.Errorf("%w: truncated", ErrFormat)
	}
	s := c.b[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return s, nil
}

func (c *cursor) checksum() uint32     { return crc32.Checksum(c.b[:c.pos], castagnoli) }
func (c *cursor) atEnd() (bool, error) { return c.pos == len(c.b), nil }

// stream reads a file as it arrives, into fresh memory, accumulating its
// CRC-32C.
type stream struct {
	r   *bufio.Reader
	crc uint32
}

// take reads n bytes, growing the buffer only as data arrives so that a
// hostile length costs no more memory than the bytes actually sent.
func (r *stream) take(n int) ([]byte, error) {
	const chunk = 1 << 20
	b := make([]byte, 0, min(n, chunk))
	for len(b) < n {
		k := min(n-len(b), chunk)
		b = slices.Grow(b, k)[:len(b)+k]
		if _, err := io.ReadFull(r.r, b[len(b)-k:]); err != nil {
			return nil, readError(err)
		}
	}
	r.crc = crc32.Update(r.crc, castagnoli, b)
	return b, nil
}

func (r *stream) checksum() uint32 { return r.crc }

func (r *stream) atEnd() (bool, error) {
	if _, err := r.r.ReadByte(); err != io.EOF {
		return false, err
	}
	return true, nil
}

// parse decodes the file b, whose header h has been checked, applying it to
// base if it is a delta (bd: base's digest), and verifies it: structure,
// DEFLATE streams, CRC-32C, trailing bytes, state hash — reporting the
// first failure in that order, the order a streaming decoder meets them in.
// Every page is inflated (if compressed) and hashed in one pass spread over
// GOMAXPROCS goroutines, while another computes the CRC.
func (l Limits) parse(c source, h Header, base *Snapshot, bd *Digest) (*Snapshot, *Digest, error) {
	s := &Snapshot{ModuleHash: h.ModuleHash, Fuel: h.Fuel, Pages: make([][]byte, h.Pages)}
	if h.Globals > 0 {
		s.Globals = make([]Global, h.Globals)
	}
	for i := range s.Globals {
		t, err := c.take(1)
		if err != nil {
			return nil, nil, err
		}
		w := globalWidth(t[0])
		if w == 0 {
			return nil, nil, fmt.Errorf("%w: global %d has value type 0x%02x", ErrFormat, i, t[0])
		}
		vb, err := c.take(w)
		if err != nil {
			return nil, nil, err
		}
		g := Global{Type: t[0]}
		switch w {
		case 4:
			g.Lo = uint64(binary.LittleEndian.Uint32(vb))
		case 8:
			g.Lo = binary.LittleEndian.Uint64(vb)
		case 16:
			g.Lo = binary.LittleEndian.Uint64(vb)
			g.Hi = binary.LittleEndian.Uint64(vb[8:])
		}
		s.Globals[i] = g
	}
	inf := newInflater()
	var err error
	if s.Frames, err = blob(c, inf, "frames", l.MaxFrames); err != nil {
		return nil, nil, err
	}
	if s.Host, err = blob(c, inf, "host state", l.MaxHost); err != nil {
		return nil, nil, err
	}
	// Page records: raw pages alias b; compressed ones are inflated below.
	stored := make([][]byte, h.Pages) // page index → its DEFLATE stream
	listed := make([]int, 0, h.Records)
	next := 0 // smallest index the next record may have
	for range h.Records {
		rb, err := c.take(9)
		if err != nil {
			return nil, nil, err
		}
		idx := binary.LittleEndian.Uint32(rb)
		enc, n := rb[4], binary.LittleEndian.Uint32(rb[5:])
		if idx >= h.Pages || int(idx) < next {
			return nil, nil, fmt.Errorf("%w: page record %d out of order or past %d pages", ErrFormat, idx, h.Pages)
		}
		next = int(idx) + 1
		switch enc {
		case encRaw:
			if n != PageSize {
				return nil, nil, fmt.Errorf("%w: raw page %d of %d bytes", ErrFormat, idx, n)
			}
			if s.Pages[idx], err = c.take(PageSize); err != nil {
				return nil, nil, err
			}
		case encDeflate:
			if n == 0 || n >= PageSize {
				return nil, nil, fmt.Errorf("%w: compressed page %d of %d bytes", ErrFormat, idx, n)
			}
			if stored[idx], err = c.take(int(n)); err != nil {
				return nil, nil, err
			}
		case encZero:
			if n != 0 {
				return nil, nil, fmt.Errorf("%w: zero page %d with %d bytes", ErrFormat, idx, n)
			}
		default:
			return nil, nil, fmt.Errorf("%w: page %d has encoding %d", ErrFormat, idx, enc)
		}
		listed = append(listed, int(idx))
	}

	d := &Digest{Pages: make([][32]byte, len(s.Pages))}
	var todo []int // pages to inflate and hash
	if base == nil {
		for i, p := range s.Pages {
			if p == nil && stored[i] == nil {
				d.Pages[i] = ZeroPageHash
			} else {
				todo = append(todo, i)
			}
		}
	} else {
		isListed := make([]bool, len(s.Pages))
		for _, i := range listed {
			isListed[i] = true
		}
		for i := range s.Pages {
			switch {
			case isListed[i]:
			case i < len(base.Pages):
				s.Pages[i] = base.Pages[i]
				d.Pages[i] = bd.Pages[i]
			default:
				d.Pages[i] = ZeroPageHash
			}
		}
		todo = listed
	}
	var crc uint32
	var crcDone sync.WaitGroup
	crcDone.Go(func() { crc = c.checksum() }) // of all but the trailer
	errs := make([]error, len(s.Pages))
	eachParallel(len(todo), func() func(k int) {
		in := newInflater()
		return func(k int) {
			i := todo[k]
			if z := stored[i]; z != nil {
				page := make([]byte, PageSize)
				if err := in.exact(z, page); err != nil {
					errs[i] = fmt.Errorf("page %d: %w", i, err)
					return
				}
				s.Pages[i] = page
			}
			d.Pages[i] = pageHash(s.Pages[i])
		}
	})
	crcDone.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	tb, err := c.take(4)
	if err != nil {
		return nil, nil, err
	}
	if got := binary.LittleEndian.Uint32(tb); got != crc {
		return nil, nil, fmt.Errorf("%w: trailer %08x, content %08x", ErrChecksum, got, crc)
	}
	if end, err := c.atEnd(); err != nil {
		return nil, nil, err
	} else if !end {
		return nil, nil, fmt.Errorf("%w: trailing bytes", ErrFormat)
	}
	d.State = stateHash(s, d.Pages)
	if d.State != h.State {
		return nil, nil, fmt.Errorf("%w: content hashes to %x, header says %x", ErrStateHash, d.State[:8], h.State[:8])
	}
	return s, d, nil
}

func blob(c source, inf *inflater, what string, limit uint32) ([]byte, error) {
	b, err := c.take(9)
	if err != nil {
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
		return c.take(int(n))
	case encDeflate:
		if n == 0 || n >= raw {
			return nil, fmt.Errorf("%w: compressed %s: %d stored bytes for %d", ErrFormat, what, n, raw)
		}
		stored, err := c.take(int(n))
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
