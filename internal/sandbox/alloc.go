package sandbox

import (
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

const wasmPage = 64 << 10

// madvHugepage is Linux's MADV_HUGEPAGE (the syscall package does not name
// it).
const madvHugepage = 14

// allocator reserves each linear memory's whole allowed size as address space
// up front and commits pages as the guest grows, so growth never copies and
// host memory stays proportional to what the guest touches. A grow past the
// limit fails (memory.grow returns -1) and is remembered for the verdict.
type allocator struct {
	limit    uint64
	peak     atomic.Uint64
	hitLimit atomic.Bool
	err      atomic.Value // first mmap/mprotect failure, if any
}

func (a *allocator) Allocate(_, max uint64) experimental.LinearMemory {
	reserve := min(max, a.limit)
	reserve = (reserve + wasmPage - 1) &^ (wasmPage - 1)
	return &linearMemory{a: a, reserve: reserve}
}

type linearMemory struct {
	a         *allocator
	reserve   uint64
	buf       []byte // the whole reservation, PROT_NONE beyond committed
	committed uint64
}

func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.reserve {
		if size > m.a.limit {
			m.a.hitLimit.Store(true)
		}
		return nil
	}
	if m.buf == nil && m.reserve > 0 {
		b, err := syscall.Mmap(-1, 0, int(m.reserve), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
		if err != nil {
			m.a.err.CompareAndSwap(nil, err)
			return nil
		}
		// Transparent huge pages where the system allows them (the
		// "madvise" mode): touching fresh memory then costs a fault per
		// 2 MiB instead of per 4 KiB. On a virtual machine a fault is
		// dear: filling 64 MiB of fresh memory (a restore, a guest's
		// first pass over its heap) took 0.3–0.5 s in 4 KiB pages and
		// 10–80 ms in huge ones. An error (no THP support) changes nothing.
		if runtime.GOOS == "linux" {
			_ = syscall.Madvise(b, madvHugepage)
		}
		m.buf = b
	}
	if size > m.committed {
		if err := syscall.Mprotect(m.buf[m.committed:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			m.a.err.CompareAndSwap(nil, err)
			return nil
		}
		m.committed = size
	}
	for {
		p := m.a.peak.Load()
		if size <= p || m.a.peak.CompareAndSwap(p, size) {
			break
		}
	}
	if m.buf == nil {
		return []byte{}
	}
	return m.buf[:size:size]
}

func (m *linearMemory) Free() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf)
		m.buf = nil
	}
}
