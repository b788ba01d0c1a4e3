package snapshot

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system, every thread) the process has
// used: on a shared machine wall times swing with the load, CPU times much
// less, so benchmarks report both.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start, in ms.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

const benchPages = 1024 // 64 MiB

func optName(o Options) string {
	switch {
	case !o.Compress:
		return "raw"
	case o.Level == flate.HuffmanOnly:
		return "huffman"
	}
	return "deflate"
}

// benchMemory is 64 MiB of moderately compressible data: every page holds
// small counters mixed with random words, as a heap of numbers would.
func benchMemory() []byte {
	mem := make([]byte, benchPages*PageSize)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < len(mem); i += 8 {
		binary.LittleEndian.PutUint32(mem[i:], uint32(i>>6))
		binary.LittleEndian.PutUint32(mem[i+4:], rng.Uint32()&0xffff)
	}
	return mem
}

// touch writes a few words in each of n pages spread over memory.
func touch(mem []byte, n int, round int) {
	for k := range n {
		p := k * (len(mem) / PageSize) / n
		for j := range 8 {
			mem[p*PageSize+j*4096+round%4096]++
		}
	}
}

func benchSnap(tb testing.TB, mem []byte, fuel uint64) *Snapshot {
	pages, err := PagesOf(mem)
	if err != nil {
		tb.Fatal(err)
	}
	return &Snapshot{
		Fuel: fuel, Pages: pages,
		Globals: []Global{{Type: I32, Lo: 1 << 20}, {Type: I64, Lo: fuel}},
		Frames:  make([]byte, 256), Host: make([]byte, 4096),
	}
}

// BenchmarkCheckpoint64MiB is capture + hash + delta of a 64 MiB state with
// 16 pages touched since the previous checkpoint: "full" re-hashes every
// page; "tracker" compares with a shadow copy and re-hashes changed pages.
func BenchmarkCheckpoint64MiB(b *testing.B) {
	for _, mode := range []string{"full", "tracker"} {
		for _, o := range []Options{{}, {Compress: true}, {Compress: true, Level: flate.HuffmanOnly}} {
			b.Run(fmt.Sprintf("%s/%s", mode, optName(o)), func(b *testing.B) {
				mem := benchMemory()
				var tr Tracker
				prev, err := tr.Hash(benchSnap(b, mem, 0))
				if err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				b.SetBytes(int64(len(mem)))
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					touch(mem, 16, i)
					b.StartTimer()
					s := benchSnap(b, mem, uint64(i+1))
					var d *Digest
					if mode == "full" {
						d, err = Hash(s)
					} else {
						d, err = tr.Hash(s)
					}
					if err != nil {
						b.Fatal(err)
					}
					buf.Reset()
					if err := EncodeDelta(&buf, prev, s, d, o); err != nil {
						b.Fatal(err)
					}
					prev = d
				}
				b.ReportMetric(float64(buf.Len()), "delta-bytes")
			})
		}
	}
}

// BenchmarkRestore64MiB decodes a full 64 MiB snapshot (hashing it to check
// the state hash) from a reader ("full") or from memory ("bytes"), and
// applies a 16-page delta to a decoded base.
func BenchmarkRestore64MiB(b *testing.B) {
	mem := benchMemory()
	for _, o := range []Options{{}, {Compress: true}} {
		var full bytes.Buffer
		if err := Encode(&full, benchSnap(b, mem, 1), nil, o); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("full/compress=%v", o.Compress), func(b *testing.B) {
			b.SetBytes(int64(len(mem)))
			b.ReportMetric(float64(full.Len()), "file-bytes")
			cpu := cpuTime()
			for range b.N {
				if _, _, err := Decode(bytes.NewReader(full.Bytes())); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
		// The worker's way: the file is in memory already, raw pages
		// are not copied.
		b.Run(fmt.Sprintf("bytes/compress=%v", o.Compress), func(b *testing.B) {
			b.SetBytes(int64(len(mem)))
			cpu := cpuTime()
			for range b.N {
				if _, _, err := DefaultLimits.DecodeBytes(full.Bytes()); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
	base, bd, err := Decode(bytes.NewReader(encodeFull(b, benchSnap(b, mem, 1), Options{})))
	if err != nil {
		b.Fatal(err)
	}
	mem2 := bytes.Clone(mem)
	touch(mem2, 16, 1)
	var delta bytes.Buffer
	if err := EncodeDelta(&delta, bd, benchSnap(b, mem2, 2), nil, Options{Compress: true}); err != nil {
		b.Fatal(err)
	}
	b.Run("delta16", func(b *testing.B) {
		for range b.N {
			if _, _, err := ApplyDelta(base, bd, bytes.NewReader(delta.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDeltaBytes reports the bytes shipped per checkpoint against the
// number of pages touched (of 1024), raw and compressed.
func BenchmarkDeltaBytes(b *testing.B) {
	mem := benchMemory()
	var tr Tracker
	base, err := tr.Hash(benchSnap(b, mem, 0))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{0, 1, 16, 256, 1024} {
		for _, o := range []Options{{}, {Compress: true}, {Compress: true, Level: flate.HuffmanOnly}} {
			b.Run(fmt.Sprintf("touched=%d/%s", n, optName(o)), func(b *testing.B) {
				m := bytes.Clone(mem)
				touch(m, n, 7)
				s := benchSnap(b, m, 1)
				d, err := Hash(s)
				if err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				b.ResetTimer()
				for range b.N {
					buf.Reset()
					if err := EncodeDelta(&buf, base, s, d, o); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(buf.Len()), "bytes/checkpoint")
				b.ReportMetric(float64(len(ChangedPages(base, d))), "pages")
			})
		}
	}
}

// BenchmarkPageHash compares SHA-256, the page hash, with SHA-512 (the
// fastest collision-resistant alternative in the standard library on CPUs
// without SHA extensions), and with the comparison the Tracker does instead.
func BenchmarkPageHash(b *testing.B) {
	page := benchMemory()[:PageSize]
	other := bytes.Clone(page)
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(PageSize)
		for range b.N {
			sha256.Sum256(page)
		}
	})
	b.Run("sha512", func(b *testing.B) {
		b.SetBytes(PageSize)
		for range b.N {
			sha512.Sum512(page)
		}
	})
	b.Run("compare", func(b *testing.B) {
		b.SetBytes(PageSize)
		for range b.N {
			bytes.Equal(page, other)
		}
	})
}
