package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"0", 0}, {"1", 1}, {"512B", 512}, {"64KiB", 64 << 10}, {"64MiB", 64 << 20},
		{"1GiB", 1 << 30}, {"4gib", 4 << 30}, {"2M", 2 << 20}, {"3 KB", 3 << 10},
	} {
		got, err := ParseSize(tc.in)
		if err != nil {
			t.Fatalf("ParseSize(%q): %v", tc.in, err)
		}
		if got != tc.want {
			t.Fatalf("ParseSize(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1TiB", "1.5MiB", "99999999999999999999", "17179869184GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Fatalf("ParseSize(%q) succeeded, want an error", bad)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1: "1B", 1024: "1KiB", 64 << 20: "64MiB", 3 << 30: "3GiB", 1025: "1025B"} {
		if got := FormatSize(n); got != want {
			t.Fatalf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr}
	if got, want := m.Run(context.Background(), []string{"frobnicate"}), exitUsage; got != want {
		t.Fatalf("exit code %d, want %d", got, want)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr %q does not name the unknown command", stderr.String())
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64MiB", "1", "0B", "3 kb", "18446744073709551615", "4GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		// Whatever parses must format to something that parses to the same value.
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, but FormatSize gives %q -> %d, %v", s, n, FormatSize(n), back, err)
		}
	})
}
