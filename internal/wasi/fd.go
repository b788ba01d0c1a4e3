package wasi

import (
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// iovecs returns the guest buffers described by an iovec array.
func iovecs(m api.Memory, iovs, n uint32) [][]byte {
	raw := rdArray(m, iovs, n, 8)
	out := make([][]byte, n)
	for i := uint32(0); i < n; i++ {
		off := binary.LittleEndian.Uint32(raw[i*8:])
		l := binary.LittleEndian.Uint32(raw[i*8+4:])
		out[i] = rd(m, off, l)
	}
	return out
}

func fdWrite(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	var w = s.stdout
	switch {
	case fd == 1:
	case fd == 2:
		w = s.stderr
	case fd == 0 || fd == 3 || s.file(fd) != nil:
		return ErrnoBadf // read-only descriptors
	default:
		return ErrnoBadf
	}
	total := uint32(0)
	for _, b := range iovecs(m, uint32(p[1]), uint32(p[2])) {
		n, err := s.write(w, b)
		total += uint32(n)
		if err != nil {
			if err == ErrOutputLimit {
				panic(ErrOutputLimit)
			}
			return ErrnoIO
		}
	}
	put32(m, uint32(p[3]), total)
	return ErrnoSuccess
}

func fdRead(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	bufs := iovecs(m, uint32(p[1]), uint32(p[2]))
	total := uint32(0)
	switch {
	case fd == 0:
		for _, b := range bufs {
			n, err := s.readStdin(b)
			total += uint32(n)
			if err != nil {
				return ErrnoIO
			}
			if n < len(b) {
				break
			}
		}
	default:
		f := s.file(fd)
		if f == nil {
			return ErrnoBadf
		}
		if f.n.dir {
			return ErrnoIsdir
		}
		for _, b := range bufs {
			n := readAt(f.n, b, f.offset)
			f.offset += uint64(n)
			total += uint32(n)
		}
	}
	put32(m, uint32(p[3]), total)
	return ErrnoSuccess
}

func readAt(n *node, b []byte, off uint64) int {
	if off >= uint64(len(n.data)) {
		return 0
	}
	return copy(b, n.data[off:])
}

func fdPread(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	f := s.file(fd)
	if f == nil {
		if fd == 0 {
			return ErrnoSpipe
		}
		return ErrnoBadf
	}
	if f.n.dir {
		return ErrnoIsdir
	}
	off := p[3]
	total := uint32(0)
	for _, b := range iovecs(m, uint32(p[1]), uint32(p[2])) {
		n := readAt(f.n, b, off)
		off += uint64(n)
		total += uint32(n)
	}
	put32(m, uint32(p[4]), total)
	return ErrnoSuccess
}

func fdSeek(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	f := s.file(fd)
	if f == nil {
		if fd <= 2 {
			return ErrnoSpipe
		}
		return ErrnoBadf
	}
	if f.n.dir {
		return ErrnoIsdir
	}
	off := int64(p[1])
	var base int64
	switch uint32(p[2]) {
	case 0: // SET
	case 1: // CUR
		base = int64(f.offset)
	case 2: // END
		base = int64(len(f.n.data))
	default:
		return ErrnoInval
	}
	pos := base + off
	if pos < 0 || (off > 0 && pos < base) {
		return ErrnoInval
	}
	f.offset = uint64(pos)
	put64(m, uint32(p[3]), f.offset)
	return ErrnoSuccess
}

func fdTell(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	f := s.file(fd)
	if f == nil {
		if fd <= 2 {
			return ErrnoSpipe
		}
		return ErrnoBadf
	}
	if f.n.dir {
		return ErrnoIsdir // as fd_seek: a directory has no offset to tell
	}
	put64(m, uint32(p[1]), f.offset)
	return ErrnoSuccess
}

func fdClose(s *State, m api.Memory, p []uint64) Errno {
	fd := uint32(p[0])
	if s.file(fd) == nil {
		return ErrnoBadf // stdio and the preopen cannot be closed either
	}
	s.files[fd-firstFileFD] = nil
	return ErrnoSuccess
}

func fdAdvise(s *State, m api.Memory, p []uint64) Errno {
	if f := s.file(uint32(p[0])); f == nil || f.n.dir {
		return ErrnoBadf
	}
	if uint32(p[3]) > 5 {
		return ErrnoInval
	}
	return ErrnoSuccess
}

// fdNotWritable answers every operation that would modify a descriptor.
// Every descriptor is read-only or a stream, so EBADF is always the answer.
func fdNotWritable(*State, api.Memory, []uint64) Errno { return ErrnoBadf }

func pathReadOnly(s *State, m api.Memory, p []uint64) Errno {
	return ErrnoRofs
}

func fdFdstatGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	var ft byte
	var rights uint64
	switch fd {
	case 0:
		ft, rights = filetypeCharDev, stdinRights
	case 1, 2:
		ft, rights = filetypeCharDev, stdoutRights
	case 3:
		ft, rights = filetypeDirectory, dirRights
	default:
		f := s.file(fd)
		if f == nil {
			return ErrnoBadf
		}
		ft, rights = filetypeRegular, fileRights
		if f.n.dir {
			ft, rights = filetypeDirectory, dirRights
		}
	}
	b := rd(m, uint32(p[1]), 24)
	clear(b)
	b[0] = ft
	inherit := uint64(0)
	if ft == filetypeDirectory {
		inherit = fileRights | dirRights
	}
	binary.LittleEndian.PutUint64(b[8:], rights)
	binary.LittleEndian.PutUint64(b[16:], inherit)
	return ErrnoSuccess
}

func fdFdstatSetFlags(s *State, m api.Memory, p []uint64) Errno {
	fd := uint32(p[0])
	if fd > 3 && s.file(fd) == nil {
		return ErrnoBadf
	}
	if uint32(p[1]) != 0 {
		return ErrnoNotsup
	}
	return ErrnoSuccess
}

func putFilestat(m api.Memory, off uint32, n *node, ft byte) {
	b := rd(m, off, 64)
	clear(b)
	var ino, size uint64
	if n != nil {
		ino, size = n.ino, uint64(len(n.data))
	}
	binary.LittleEndian.PutUint64(b[8:], ino)
	b[16] = ft
	binary.LittleEndian.PutUint64(b[24:], 1)
	binary.LittleEndian.PutUint64(b[32:], size)
}

func nodeType(n *node) byte {
	if n.dir {
		return filetypeDirectory
	}
	return filetypeRegular
}

func fdFilestatGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	fd := uint32(p[0])
	switch fd {
	case 0, 1, 2:
		putFilestat(m, uint32(p[1]), nil, filetypeCharDev)
	case 3:
		putFilestat(m, uint32(p[1]), s.root, filetypeDirectory)
	default:
		f := s.file(fd)
		if f == nil {
			return ErrnoBadf
		}
		putFilestat(m, uint32(p[1]), f.n, nodeType(f.n))
	}
	return ErrnoSuccess
}

func fdPrestatGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	if uint32(p[0]) != 3 {
		return ErrnoBadf
	}
	b := rd(m, uint32(p[1]), 8)
	clear(b)
	binary.LittleEndian.PutUint32(b[4:], 1) // len("/")
	return ErrnoSuccess
}

func fdPrestatDirName(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	if uint32(p[0]) != 3 {
		return ErrnoBadf
	}
	if uint32(p[2]) < 1 {
		return ErrnoNametoolong
	}
	rd(m, uint32(p[1]), 1)[0] = '/'
	return ErrnoSuccess
}

func readPath(m api.Memory, ptr, n uint32) string {
	return string(rd(m, ptr, n))
}

func pathOpen(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	dir, errno := s.dirNode(uint32(p[0]))
	if errno != ErrnoSuccess {
		return errno
	}
	name := readPath(m, uint32(p[2]), uint32(p[3]))
	oflags, rightsBase, fdflags := uint32(p[4]), p[5], uint32(p[7])
	if oflags&(oflagCreat|oflagTrunc|oflagExcl) != 0 || fdflags&fdflagAppend != 0 || rightsBase&writeRights != 0 {
		if n, errno := s.lookup(dir, name); errno == ErrnoSuccess && n.dir {
			return ErrnoIsdir
		}
		return ErrnoRofs
	}
	n, errno := s.lookup(dir, name)
	if errno != ErrnoSuccess {
		return errno
	}
	if oflags&oflagDirectory != 0 && !n.dir {
		return ErrnoNotdir
	}
	fd, errno := s.open(n)
	if errno != ErrnoSuccess {
		return errno
	}
	put32(m, uint32(p[8]), fd)
	return ErrnoSuccess
}

func pathFilestatGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	dir, errno := s.dirNode(uint32(p[0]))
	if errno != ErrnoSuccess {
		return errno
	}
	n, errno := s.lookup(dir, readPath(m, uint32(p[2]), uint32(p[3])))
	if errno != ErrnoSuccess {
		return errno
	}
	putFilestat(m, uint32(p[4]), n, nodeType(n))
	return ErrnoSuccess
}

func pathReadlink(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	dir, errno := s.dirNode(uint32(p[0]))
	if errno != ErrnoSuccess {
		return errno
	}
	if _, errno := s.lookup(dir, readPath(m, uint32(p[1]), uint32(p[2]))); errno != ErrnoSuccess {
		return errno
	}
	return ErrnoInval // nothing is a symbolic link
}

// fd_readdir lists ".", ".." and then the entries in byte order. The cookie
// is the index of the next entry; entries that do not fit are truncated, as
// preview1 specifies.
func fdReaddir(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	dir, errno := s.dirNode(uint32(p[0]))
	if errno != ErrnoSuccess {
		return errno
	}
	buf, bufLen, cookie := uint32(p[1]), uint32(p[2]), p[3]
	type entry struct {
		name string
		ino  uint64
		ft   byte
	}
	entries := []entry{{".", dir.ino, filetypeDirectory}, {"..", dir.ino, filetypeDirectory}}
	for _, name := range sortedNames(dir) {
		c := dir.children[name]
		entries = append(entries, entry{name, c.ino, nodeType(c)})
	}
	out := rd(m, buf, bufLen)
	used := uint32(0)
	for i := cookie; i < uint64(len(entries)) && used < bufLen; i++ {
		en := entries[i]
		rec := make([]byte, 24+len(en.name))
		binary.LittleEndian.PutUint64(rec[0:], i+1)
		binary.LittleEndian.PutUint64(rec[8:], en.ino)
		binary.LittleEndian.PutUint32(rec[16:], uint32(len(en.name)))
		rec[20] = en.ft
		copy(rec[24:], en.name)
		used += uint32(copy(out[used:], rec))
	}
	put32(m, uint32(p[4]), used)
	return ErrnoSuccess
}
