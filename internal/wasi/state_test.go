package wasi

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func stateConfig(stdin string) Config {
	return Config{
		Args: []string{"prog"}, Seed: 7, MaxOutput: 1 << 20,
		Stdin: strings.NewReader(stdin), Stdout: &bytes.Buffer{},
		Files: []File{{Name: "a.txt", Data: []byte("0123456789")}, {Name: "d/b.txt", Data: []byte("bbb")}},
	}
}

// A state marshalled mid-run and restored behaves exactly as the original
// from then on, and marshals to the same bytes.
func TestHostStateRoundTrip(t *testing.T) {
	const stdin = "hello, continuation"
	s, err := NewState(stateConfig(stdin))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := s.readStdin(buf); err != nil {
		t.Fatal(err)
	}
	s.random(make([]byte, 3))
	s.clockNS += 12345
	if _, err := s.write(s.stdout, []byte("out")); err != nil {
		t.Fatal(err)
	}
	a, _ := s.lookup(s.root, "a.txt")
	d, _ := s.lookup(s.root, "d")
	fa, _ := s.open(a)
	s.open(d)
	s.files[fa-firstFileFD].offset = 4
	s.open(a)
	s.files[2] = nil // a closed descriptor leaves a hole

	host := s.MarshalHost()
	r, err := RestoreState(stateConfig(stdin), host)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.MarshalHost(); !bytes.Equal(got, host) {
		t.Fatalf("restored state marshals to %x, want %x", got, host)
	}
	// Same next reads, random bytes and clock.
	x, y := make([]byte, 64), make([]byte, 64)
	nx, _ := s.readStdin(x)
	ny, _ := r.readStdin(y)
	if !bytes.Equal(x[:nx], y[:ny]) || string(y[:ny]) != stdin[5:] {
		t.Fatalf("stdin after restore %q, original %q", y[:ny], x[:nx])
	}
	s.random(x[:16])
	r.random(y[:16])
	if !bytes.Equal(x[:16], y[:16]) || s.now() != r.now() {
		t.Fatal("random stream or clock differs after restore")
	}
	if got := r.files[fa-firstFileFD]; got.offset != 4 || got.n.path != "a.txt" {
		t.Fatalf("open file restored as %q at %d", got.n.path, got.offset)
	}
}

func TestRestoreStateRejectsBadInput(t *testing.T) {
	s, _ := NewState(stateConfig("abc"))
	a, _ := s.lookup(s.root, "a.txt")
	s.open(a)
	good := s.MarshalHost()
	bad := map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good[1:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
	}
	unknown := bytes.Replace(good, []byte("a.txt"), []byte("z.txt"), 1)
	bad["unknown file"] = unknown
	for name, b := range bad {
		if _, err := RestoreState(stateConfig("abc"), b); !errors.Is(err, ErrBadHostState) {
			t.Errorf("%s: err %v, want ErrBadHostState", name, err)
		}
	}
	// stdin shorter than what was already read
	s2, _ := NewState(stateConfig("abcdef"))
	s2.readStdin(make([]byte, 6))
	if _, err := RestoreState(stateConfig("ab"), s2.MarshalHost()); !errors.Is(err, ErrBadHostState) {
		t.Errorf("short stdin: err %v", err)
	}
}

func FuzzRestoreState(f *testing.F) {
	s, _ := NewState(stateConfig("abc"))
	a, _ := s.lookup(s.root, "d/b.txt")
	s.open(a)
	f.Add(s.MarshalHost())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := RestoreState(stateConfig("abc"), b)
		if err != nil {
			return
		}
		// What restores must be canonical: it marshals back to itself.
		if got := r.MarshalHost(); !bytes.Equal(got, b) {
			t.Fatalf("restored %x, marshals to %x", b, got)
		}
	})
}
