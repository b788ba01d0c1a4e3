package wasi

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The SplitMix64 reference outputs for seed 0 (Steele, Lea, Flood 2014).
func TestRandomIsSplitMix64(t *testing.T) {
	s, err := NewState(Config{Seed: 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F}
	buf := make([]byte, 24)
	s.random(buf)
	for i, w := range want {
		if got := binary.LittleEndian.Uint64(buf[i*8:]); got != w {
			t.Fatalf("output %d = %#x, want %#x", i, got, w)
		}
	}
	// A partial call consumes a whole output and discards the rest.
	s2, _ := NewState(Config{Seed: 0})
	three := make([]byte, 3)
	s2.random(three)
	next := make([]byte, 8)
	s2.random(next)
	if got := binary.LittleEndian.Uint64(next); got != want[1] {
		t.Fatalf("after a 3-byte read the next output is %#x, want %#x", got, want[1])
	}
}

func TestNewStateRejectsBadInput(t *testing.T) {
	for name, cfg := range map[string]Config{
		"nul in arg":       {Args: []string{"a\x00b"}},
		"env without =":    {Env: []string{"PATH"}},
		"env empty key":    {Env: []string{"=x"}},
		"absolute file":    {Files: []File{{Name: "/etc/passwd"}}},
		"dotdot file":      {Files: []File{{Name: "../x"}}},
		"unclean file":     {Files: []File{{Name: "a//b"}}},
		"file under file":  {Files: []File{{Name: "a"}, {Name: "a/b"}}},
		"duplicate file":   {Files: []File{{Name: "a"}, {Name: "a"}}},
		"dir then as file": {Files: []File{{Name: "a/b"}, {Name: "a"}}},
	} {
		if _, err := NewState(cfg); err == nil {
			t.Errorf("%s: NewState succeeded, want an error", name)
		}
	}
}

func TestLookup(t *testing.T) {
	s, err := NewState(Config{Files: []File{{Name: "b.txt"}, {Name: "d/a.txt", Data: []byte("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want Errno
	}{
		{"b.txt", ErrnoSuccess}, {"/b.txt", ErrnoSuccess}, {"./d/a.txt", ErrnoSuccess},
		{"d/../b.txt", ErrnoSuccess}, {"d/a.txt/x", ErrnoNotdir}, {"nope", ErrnoNoent},
		{"..", ErrnoNotcapable}, {"d/../../b.txt", ErrnoNotcapable}, {"", ErrnoNoent},
	} {
		if _, got := s.lookup(s.root, tc.path); got != tc.want {
			t.Errorf("lookup(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
	// Inodes follow sorted path order: / b.txt d d/a.txt
	n, _ := s.lookup(s.root, "d/a.txt")
	if n.ino != 4 {
		t.Fatalf("ino of d/a.txt = %d, want 4", n.ino)
	}
}

func FuzzLookup(f *testing.F) {
	for _, p := range []string{"a/b.txt", "/a/../c", "..", "a/./b.txt/", "\x00", "a//b.txt"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		s, err := NewState(Config{Files: []File{{Name: "a/b.txt", Data: []byte("x")}, {Name: "c"}}})
		if err != nil {
			t.Fatal(err)
		}
		sub, _ := s.lookup(s.root, "a")
		for _, dir := range []*node{s.root, sub} {
			n, errno := s.lookup(dir, p)
			if (errno == ErrnoSuccess) != (n != nil) {
				t.Fatalf("lookup(%q) = %v, %d: node and errno disagree", p, n, errno)
			}
		}
	})
}

// A guest-chosen count that overflows 32 bits must fault, not wrap around to a
// small read (or a huge allocation).
func TestArrayLengthsDoNotWrap(t *testing.T) {
	mem := newTestMemory(1)
	s, _ := NewState(Config{})
	for name, call := range map[string]func() Errno{
		"fd_write iovs": func() Errno { return fdWrite(s, mem, []uint64{1, 0, 1 << 29, 0}) },
		"fd_read iovs":  func() Errno { return fdRead(s, mem, []uint64{0, 0, 1<<29 + 1, 0}) },
		"poll subs":     func() Errno { return pollOneoff(s, mem, []uint64{0, 0, 89478486, 0}) },
	} {
		if got := call(); got != ErrnoFault {
			t.Errorf("%s: errno %d, want EFAULT", name, got)
		}
	}
}

// newTestMemory returns a real wazero memory of the given number of pages.
func newTestMemory(pages byte) api.Memory {
	ctx := context.Background()
	bin := []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
		5, 3, 1, 0, pages, // memory section: one memory, min pages
		7, 10, 1, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0, // export "memory"
	}
	mod, err := wazero.NewRuntime(ctx).Instantiate(ctx, bin)
	if err != nil {
		panic(err)
	}
	return mod.Memory()
}

// fd_tell on an opened directory fails as fd_seek does (EISDIR), as in
// wasmtime and the WASI test suite, instead of telling an offset of 0.
func TestTellOnDirectoryIsSeekError(t *testing.T) {
	mem := newTestMemory(1)
	s, err := NewState(Config{Files: []File{{Name: "d/a.txt", Data: []byte("abc")}}})
	if err != nil {
		t.Fatal(err)
	}
	open := func(path string) uint32 {
		mem.Write(100, []byte(path))
		if e := pathOpen(s, mem, []uint64{3, 0, 100, uint64(len(path)), 0, 0, 0, 0, 200}); e != ErrnoSuccess {
			t.Fatalf("path_open %s: errno %d", path, e)
		}
		fd, _ := mem.ReadUint32Le(200)
		return fd
	}
	dir, file := open("d"), open("d/a.txt")
	for _, fd := range []uint32{dir, file, 0, 1, 2, 3, 99} {
		seek := fdSeek(s, mem, []uint64{uint64(fd), 0, 1, 300}) // CUR + 0: the offset, as fd_tell
		mem.WriteUint64Le(308, 0xdead)
		tell := fdTell(s, mem, []uint64{uint64(fd), 308})
		if tell != seek {
			t.Errorf("fd %d: fd_tell errno %d, fd_seek errno %d", fd, tell, seek)
		}
		if v, _ := mem.ReadUint64Le(308); tell != ErrnoSuccess && v != 0xdead {
			t.Errorf("fd %d: a failed fd_tell wrote %d", fd, v)
		}
	}
	if e := fdTell(s, mem, []uint64{uint64(dir), 308}); e != ErrnoIsdir {
		t.Errorf("fd_tell on a directory: errno %d, want EISDIR (%d)", e, ErrnoIsdir)
	}
}
