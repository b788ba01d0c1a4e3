// Package wasi is crowdrun's deterministic host interface: a subset of WASI
// preview1 in which nothing depends on the host machine. The clock is virtual,
// randomness is a seeded generator, the file system is a read-only set of
// input files, and there is no network. The same specification is implemented
// in JavaScript for browser workers; docs/host-interface.md is the contract and
// both implementations must agree on it byte for byte.
package wasi

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// ModuleName is the import module every WASI function lives in.
const ModuleName = "wasi_snapshot_preview1"

// RealtimeBaseNS is CLOCK_REALTIME at virtual time zero: 2020-01-01T00:00:00Z.
const RealtimeBaseNS = 1_577_836_800 * 1_000_000_000

// ClockReadStepNS is how far the virtual clock advances on every clock read,
// so that two consecutive reads never return the same instant.
const ClockReadStepNS = 1_000

// MaxOpenFiles bounds the guest's file descriptor table.
const MaxOpenFiles = 64

// ErrOutputLimit is raised (as a panic through the engine) when the guest's
// stdout and stderr together exceed Config.MaxOutput.
var ErrOutputLimit = errors.New("output limit exceeded")

// ExitError is raised when the guest calls proc_exit.
type ExitError struct{ Code uint32 }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// File is a read-only input file exposed to the guest under the preopened
// directory "/".
type File struct {
	Name string // a clean relative path such as "data/input.txt"
	Data []byte
}

// Config is everything a guest can observe of the world.
type Config struct {
	Args      []string // argv, argv[0] included
	Env       []string // KEY=VALUE entries, in order
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	Files     []File
	Seed      uint64
	MaxOutput int64 // stdout+stderr bytes; 0 means unlimited
	// FuelUsed, if set, reports the instructions executed so far; the virtual
	// clock advances with it.
	FuelUsed func() uint64
}

// State is one guest's view of the host: created per run, never shared.
type State struct {
	args, env      []string
	stdin          io.Reader
	stdinEOF       bool
	stdinOffset    uint64 // bytes of stdin the guest has read
	stdout, stderr io.Writer
	maxOutput      int64
	outputUsed     int64
	fuelUsed       func() uint64

	clockNS uint64 // virtual nanoseconds from clock reads and sleeps
	rng     uint64 // SplitMix64 state

	root  *node
	files []*openFile // index = fd - firstFileFD
}

const firstFileFD = 4 // 0,1,2 stdio; 3 the preopened "/"

type node struct {
	name     string
	path     string // from the root, "" for the root itself
	ino      uint64
	data     []byte // regular file
	children map[string]*node
	dir      bool
}

type openFile struct {
	n      *node
	offset uint64
}

// NewState validates cfg and builds a guest's state.
func NewState(cfg Config) (*State, error) {
	s := &State{
		args: cfg.Args, env: cfg.Env,
		stdin: cfg.Stdin, stdout: cfg.Stdout, stderr: cfg.Stderr,
		maxOutput: cfg.MaxOutput, fuelUsed: cfg.FuelUsed,
		rng:  cfg.Seed,
		root: &node{name: "/", dir: true, children: map[string]*node{}},
	}
	if s.stdin == nil {
		s.stdin = strings.NewReader("")
	}
	if s.stdout == nil {
		s.stdout = io.Discard
	}
	if s.stderr == nil {
		s.stderr = io.Discard
	}
	for _, a := range cfg.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("argument %q contains a NUL byte", a)
		}
	}
	for _, e := range cfg.Env {
		if strings.IndexByte(e, 0) >= 0 || !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return nil, fmt.Errorf("environment entry %q must be KEY=VALUE without NUL bytes", e)
		}
	}
	for _, f := range cfg.Files {
		if err := s.addFile(f); err != nil {
			return nil, err
		}
	}
	// Inode numbers follow sorted path order so they do not depend on the
	// order files were given in.
	var ino uint64 = 1
	var number func(n *node)
	number = func(n *node) {
		n.ino = ino
		ino++
		for _, name := range sortedNames(n) {
			number(n.children[name])
		}
	}
	number(s.root)
	return s, nil
}

func (s *State) addFile(f File) error {
	if f.Name == "" || path.IsAbs(f.Name) || path.Clean(f.Name) != f.Name || f.Name == "." ||
		strings.HasPrefix(f.Name, "../") || f.Name == ".." || strings.IndexByte(f.Name, 0) >= 0 {
		return fmt.Errorf("input file name %q must be a clean relative path", f.Name)
	}
	parts := strings.Split(f.Name, "/")
	dir := s.root
	for i, p := range parts {
		child := dir.children[p]
		last := i == len(parts)-1
		switch {
		case child == nil && last:
			dir.children[p] = &node{name: p, path: f.Name, data: f.Data}
			return nil
		case child == nil:
			child = &node{name: p, path: strings.Join(parts[:i+1], "/"), dir: true, children: map[string]*node{}}
			dir.children[p] = child
		case last || !child.dir:
			return fmt.Errorf("input file %q conflicts with another input file", f.Name)
		}
		dir = child
	}
	return nil
}

func sortedNames(n *node) []string {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// now returns the current virtual time in nanoseconds since virtual zero.
func (s *State) now() uint64 {
	t := s.clockNS
	if s.fuelUsed != nil {
		t += s.fuelUsed()
	}
	return t
}

// random fills p from the SplitMix64 stream: each call consumes
// ceil(len(p)/8) 64-bit words, little-endian, discarding unused bytes.
func (s *State) random(p []byte) {
	for i := 0; i < len(p); i += 8 {
		s.rng += 0x9E3779B97F4A7C15
		z := s.rng
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(z >> (8 * j))
		}
	}
}

// lookup resolves a guest path relative to dir. ".." may not leave the root.
func (s *State) lookup(dir *node, p string) (*node, Errno) {
	if p == "" {
		return nil, ErrnoNoent
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, ErrnoInval
	}
	if strings.HasPrefix(p, "/") {
		dir = s.root // absolute paths resolve against the only preopen, "/"
	}
	stack := []*node{dir}
	for _, part := range strings.Split(p, "/") {
		cur := stack[len(stack)-1]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(stack) == 1 {
				return nil, ErrnoNotcapable // escapes the directory it is relative to
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if !cur.dir {
			return nil, ErrnoNotdir
		}
		next := cur.children[part]
		if next == nil {
			return nil, ErrnoNoent
		}
		stack = append(stack, next)
	}
	return stack[len(stack)-1], ErrnoSuccess
}

func (s *State) file(fd uint32) *openFile {
	if fd < firstFileFD {
		return nil
	}
	i := fd - firstFileFD
	if int(i) >= len(s.files) {
		return nil
	}
	return s.files[i]
}

// dirNode returns the directory behind fd: 3 is the preopened root.
func (s *State) dirNode(fd uint32) (*node, Errno) {
	if fd == 3 {
		return s.root, ErrnoSuccess
	}
	f := s.file(fd)
	if f == nil {
		return nil, ErrnoBadf
	}
	if !f.n.dir {
		return nil, ErrnoNotdir
	}
	return f.n, ErrnoSuccess
}

func (s *State) open(n *node) (uint32, Errno) {
	for i, f := range s.files {
		if f == nil {
			s.files[i] = &openFile{n: n}
			return uint32(i) + firstFileFD, ErrnoSuccess
		}
	}
	if len(s.files) >= MaxOpenFiles {
		return 0, ErrnoMfile
	}
	s.files = append(s.files, &openFile{n: n})
	return uint32(len(s.files)-1) + firstFileFD, ErrnoSuccess
}

// write sends p to stdout or stderr, enforcing the shared output limit: what
// fits is written, then the run is stopped.
func (s *State) write(w io.Writer, p []byte) (int, error) {
	if s.maxOutput > 0 && s.outputUsed+int64(len(p)) > s.maxOutput {
		fit := s.maxOutput - s.outputUsed
		if fit > 0 {
			if _, err := w.Write(p[:fit]); err != nil {
				return 0, err
			}
		}
		s.outputUsed = s.maxOutput
		return 0, ErrOutputLimit
	}
	s.outputUsed += int64(len(p))
	if _, err := w.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// readStdin reads into p, filling it unless input ends: the number of bytes
// each fd_read returns depends only on the input, never on pipe timing.
func (s *State) readStdin(p []byte) (int, error) {
	if s.stdinEOF {
		return 0, nil
	}
	n, err := io.ReadFull(s.stdin, p)
	s.stdinOffset += uint64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		s.stdinEOF = true
		return n, nil
	}
	return n, err
}
