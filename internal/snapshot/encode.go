package snapshot

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"
)

// Format constants; docs/snapshot.md is the specification.
const (
	magic      = "CRWDSNAP"
	version    = 1
	headerSize = 128

	kindFull  = 1
	kindDelta = 2

	encRaw     = 0
	encDeflate = 1
	encZero    = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options control encoding. The zero value writes the canonical form: no
// compression, identical bytes from every conforming encoder.
type Options struct {
	// Compress stores each page and blob as raw DEFLATE when that is smaller.
	// Compressed bytes depend on the compressor, so compressed files are not
	// canonical; the content and state hash are the same.
	Compress bool
	// Level is the compress/flate level when compressing: 0 means
	// flate.BestSpeed; flate.HuffmanOnly is about 3× faster still, at a
	// worse ratio (on the benchmark's data 58% of raw against 40%).
	Level int
}

func (o Options) level() int {
	if o.Level == 0 || o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression {
		return flate.BestSpeed
	}
	return o.Level
}

// Header is the fixed part of a snapshot file.
type Header struct {
	Delta      bool
	Pages      uint32 // memory size in pages
	Fuel       uint64
	Globals    uint32
	Records    uint32 // page records that follow
	ModuleHash [32]byte
	State      [32]byte // state hash of the snapshot the file decodes to
	Base       [32]byte // delta only: state hash of the base
}

// ReadHeader parses the first 128 bytes of a snapshot file, so a caller can
// learn its kind, fuel and hashes without decoding it.
func ReadHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < headerSize {
		return h, fmt.Errorf("%w: %d bytes, header is %d", ErrFormat, len(b), headerSize)
	}
	if string(b[:8]) != magic {
		return h, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != version {
		return h, fmt.Errorf("%w: version %d", ErrVersion, v)
	}
	switch b[10] {
	case kindFull:
	case kindDelta:
		h.Delta = true
	default:
		return h, fmt.Errorf("%w: kind %d", ErrFormat, b[10])
	}
	if b[11] != 0 {
		return h, fmt.Errorf("%w: flags 0x%02x", ErrFormat, b[11])
	}
	h.Pages = binary.LittleEndian.Uint32(b[12:])
	h.Fuel = binary.LittleEndian.Uint64(b[16:])
	h.Globals = binary.LittleEndian.Uint32(b[24:])
	h.Records = binary.LittleEndian.Uint32(b[28:])
	copy(h.ModuleHash[:], b[32:64])
	copy(h.State[:], b[64:96])
	copy(h.Base[:], b[96:128])
	if h.Pages > MaxPages || h.Globals > MaxGlobals || h.Records > h.Pages {
		return h, fmt.Errorf("%w: %d pages, %d globals, %d page records", ErrFormat, h.Pages, h.Globals, h.Records)
	}
	if !h.Delta && h.Base != ([32]byte{}) {
		return h, fmt.Errorf("%w: full snapshot with a base hash", ErrFormat)
	}
	return h, nil
}

func (h *Header) append(b []byte) []byte {
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, version)
	kind := byte(kindFull)
	if h.Delta {
		kind = kindDelta
	}
	b = append(b, kind, 0)
	b = binary.LittleEndian.AppendUint32(b, h.Pages)
	b = binary.LittleEndian.AppendUint64(b, h.Fuel)
	b = binary.LittleEndian.AppendUint32(b, h.Globals)
	b = binary.LittleEndian.AppendUint32(b, h.Records)
	b = append(b, h.ModuleHash[:]...)
	b = append(b, h.State[:]...)
	b = append(b, h.Base[:]...)
	return b
}

// Encode writes s as a full snapshot. d is s's digest, or nil to compute it.
func Encode(w io.Writer, s *Snapshot, d *Digest, o Options) error {
	d, err := digestFor(s, d)
	if err != nil {
		return err
	}
	var pages []int
	for i := range s.Pages {
		if d.Pages[i] != ZeroPageHash {
			pages = append(pages, i)
		}
	}
	return encode(w, s, d, nil, pages, o)
}

// EncodeDelta writes s as a delta against the snapshot whose digest is base:
// the header, globals, frames and host state in full, and only the pages
// whose hash differs from base's. d is s's digest, or nil to compute it.
func EncodeDelta(w io.Writer, base *Digest, s *Snapshot, d *Digest, o Options) error {
	d, err := digestFor(s, d)
	if err != nil {
		return err
	}
	return encode(w, s, d, base, ChangedPages(base, d), o)
}

// ChangedPages lists, in increasing order, the pages of cur that a delta
// against base carries: those whose hash differs from base's page at the
// same index, or that are beyond base's memory and not zero.
func ChangedPages(base, cur *Digest) []int {
	var out []int
	for i, h := range cur.Pages {
		if i < len(base.Pages) {
			if h != base.Pages[i] {
				out = append(out, i)
			}
		} else if h != ZeroPageHash {
			out = append(out, i)
		}
	}
	return out
}

func digestFor(s *Snapshot, d *Digest) (*Digest, error) {
	if d == nil {
		return Hash(s)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(d.Pages) != len(s.Pages) {
		return nil, fmt.Errorf("%w: digest of %d pages for %d", ErrInvalid, len(d.Pages), len(s.Pages))
	}
	return d, nil
}

type crcWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	err error
}

func (c *crcWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	c.crc.Write(b)
	_, c.err = c.w.Write(b)
}

func encode(w io.Writer, s *Snapshot, d *Digest, base *Digest, pages []int, o Options) error {
	h := Header{
		Delta:      base != nil,
		Pages:      uint32(len(s.Pages)),
		Fuel:       s.Fuel,
		Globals:    uint32(len(s.Globals)),
		Records:    uint32(len(pages)),
		ModuleHash: s.ModuleHash,
		State:      d.State,
	}
	if base != nil {
		h.Base = base.State
	}
	cw := &crcWriter{w: bufio.NewWriterSize(w, 256<<10), crc: crc32.New(castagnoli)}
	cw.write(h.append(make([]byte, 0, headerSize)))
	cw.write(appendGlobals(nil, s.Globals))
	for _, blob := range [][]byte{s.Frames, s.Host} {
		enc, stored := byte(encRaw), blob
		if o.Compress && len(blob) > 0 {
			if c := compress(blob, o.level()); len(c) < len(blob) {
				enc, stored = encDeflate, c
			}
		}
		var b [9]byte
		b[0] = enc
		binary.LittleEndian.PutUint32(b[1:], uint32(len(blob)))
		binary.LittleEndian.PutUint32(b[5:], uint32(len(stored)))
		cw.write(b[:])
		cw.write(stored)
	}
	// Pages go in batches so that compression runs in parallel while the
	// memory held for compressed pages stays bounded.
	const batch = 256
	encs := make([]byte, batch)
	stored := make([][]byte, batch)
	for lo := 0; lo < len(pages); lo += batch {
		n := min(batch, len(pages)-lo)
		parallelFor(n, func(k int) {
			i := pages[lo+k]
			p := s.Pages[i]
			switch {
			case d.Pages[i] == ZeroPageHash:
				encs[k], stored[k] = encZero, nil
			case o.Compress:
				if c := compress(p, o.level()); len(c) < PageSize {
					encs[k], stored[k] = encDeflate, c
					break
				}
				fallthrough
			default:
				encs[k], stored[k] = encRaw, p
			}
		})
		for k := range n {
			var b [9]byte
			binary.LittleEndian.PutUint32(b[:], uint32(pages[lo+k]))
			b[4] = encs[k]
			binary.LittleEndian.PutUint32(b[5:], uint32(len(stored[k])))
			cw.write(b[:])
			cw.write(stored[k])
		}
	}
	if cw.err != nil {
		return cw.err
	}
	var t [4]byte
	binary.LittleEndian.PutUint32(t[:], cw.crc.Sum32())
	if _, err := cw.w.Write(t[:]); err != nil {
		return err
	}
	return cw.w.Flush()
}

// flaters pools flate writers by level (index level − flate.HuffmanOnly).
var flaters [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// compress returns b as a raw DEFLATE stream.
func compress(b []byte, level int) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b) / 2)
	pool := &flaters[level-flate.HuffmanOnly]
	fw, _ := pool.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&buf, level)
	} else {
		fw.Reset(&buf)
	}
	fw.Write(b)
	fw.Close()
	pool.Put(fw)
	return buf.Bytes()
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
