package wasi

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// Function is one import the host offers.
type Function struct {
	Name    string
	Params  []api.ValueType
	Results []api.ValueType
	impl    func(s *State, m api.Memory, p []uint64) Errno
}

func ret(ts ...api.ValueType) []api.ValueType { return ts }

// Functions is the complete preview1 import set. A module may import any of
// them with exactly this signature, and nothing else from this module name.
// Functions that make no sense in the sandbox answer with an errno.
var Functions = []Function{
	{"args_get", ret(i32, i32), ret(i32), argsGet},
	{"args_sizes_get", ret(i32, i32), ret(i32), argsSizesGet},
	{"environ_get", ret(i32, i32), ret(i32), environGet},
	{"environ_sizes_get", ret(i32, i32), ret(i32), environSizesGet},
	{"clock_res_get", ret(i32, i32), ret(i32), clockResGet},
	{"clock_time_get", ret(i32, i64, i32), ret(i32), clockTimeGet},
	{"fd_advise", ret(i32, i64, i64, i32), ret(i32), fdAdvise},
	{"fd_allocate", ret(i32, i64, i64), ret(i32), fdNotWritable},
	{"fd_close", ret(i32), ret(i32), fdClose},
	{"fd_datasync", ret(i32), ret(i32), fdNotWritable},
	{"fd_fdstat_get", ret(i32, i32), ret(i32), fdFdstatGet},
	{"fd_fdstat_set_flags", ret(i32, i32), ret(i32), fdFdstatSetFlags},
	{"fd_fdstat_set_rights", ret(i32, i64, i64), ret(i32), nosys},
	{"fd_filestat_get", ret(i32, i32), ret(i32), fdFilestatGet},
	{"fd_filestat_set_size", ret(i32, i64), ret(i32), fdNotWritable},
	{"fd_filestat_set_times", ret(i32, i64, i64, i32), ret(i32), fdNotWritable},
	{"fd_pread", ret(i32, i32, i32, i64, i32), ret(i32), fdPread},
	{"fd_prestat_get", ret(i32, i32), ret(i32), fdPrestatGet},
	{"fd_prestat_dir_name", ret(i32, i32, i32), ret(i32), fdPrestatDirName},
	{"fd_pwrite", ret(i32, i32, i32, i64, i32), ret(i32), fdNotWritable},
	{"fd_read", ret(i32, i32, i32, i32), ret(i32), fdRead},
	{"fd_readdir", ret(i32, i32, i32, i64, i32), ret(i32), fdReaddir},
	{"fd_renumber", ret(i32, i32), ret(i32), nosys},
	{"fd_seek", ret(i32, i64, i32, i32), ret(i32), fdSeek},
	{"fd_sync", ret(i32), ret(i32), fdNotWritable},
	{"fd_tell", ret(i32, i32), ret(i32), fdTell},
	{"fd_write", ret(i32, i32, i32, i32), ret(i32), fdWrite},
	{"path_create_directory", ret(i32, i32, i32), ret(i32), pathReadOnly},
	{"path_filestat_get", ret(i32, i32, i32, i32, i32), ret(i32), pathFilestatGet},
	{"path_filestat_set_times", ret(i32, i32, i32, i32, i64, i64, i32), ret(i32), pathReadOnly},
	{"path_link", ret(i32, i32, i32, i32, i32, i32, i32), ret(i32), pathReadOnly},
	{"path_open", ret(i32, i32, i32, i32, i32, i64, i64, i32, i32), ret(i32), pathOpen},
	{"path_readlink", ret(i32, i32, i32, i32, i32, i32), ret(i32), pathReadlink},
	{"path_remove_directory", ret(i32, i32, i32), ret(i32), pathReadOnly},
	{"path_rename", ret(i32, i32, i32, i32, i32, i32), ret(i32), pathReadOnly},
	{"path_symlink", ret(i32, i32, i32, i32, i32), ret(i32), pathReadOnly},
	{"path_unlink_file", ret(i32, i32, i32), ret(i32), pathReadOnly},
	{"poll_oneoff", ret(i32, i32, i32, i32), ret(i32), pollOneoff},
	{"proc_exit", ret(i32), nil, procExit},
	{"proc_raise", ret(i32), ret(i32), nosys},
	{"random_get", ret(i32, i32), ret(i32), randomGet},
	{"sched_yield", nil, ret(i32), func(*State, api.Memory, []uint64) Errno { return ErrnoSuccess }},
	{"sock_accept", ret(i32, i32, i32), ret(i32), notsup},
	{"sock_recv", ret(i32, i32, i32, i32, i32, i32), ret(i32), notsup},
	{"sock_send", ret(i32, i32, i32, i32, i32), ret(i32), notsup},
	{"sock_shutdown", ret(i32, i32), ret(i32), notsup},
}

var byName = func() map[string]*Function {
	m := make(map[string]*Function, len(Functions))
	for i := range Functions {
		m[Functions[i].Name] = &Functions[i]
	}
	return m
}()

// Lookup returns the function called name, or false.
func Lookup(name string) (*Function, bool) {
	f, ok := byName[name]
	return f, ok
}

type stateKey struct{}

// WithState returns a context carrying s; guest calls made with it use s.
func WithState(ctx context.Context, s *State) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}

// GoFunc adapts f to wazero's stack-based host function form. The State comes
// from the call's context (see WithState).
func (f *Function) GoFunc() api.GoModuleFunc {
	impl := f.impl
	hasResult := len(f.Results) == 1
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		s, _ := ctx.Value(stateKey{}).(*State)
		if s == nil {
			panic("wasi: guest called without a host state in its context")
		}
		e := impl(s, mod.Memory(), stack)
		if hasResult {
			stack[0] = uint64(e)
		}
	}
}

// ---- memory helpers: every out-of-range access becomes EFAULT ----

type fault struct{}

func rd(m api.Memory, off, n uint32) []byte {
	b, ok := m.Read(off, n)
	if !ok {
		panic(fault{})
	}
	return b
}

// rdArray reads count records of size bytes each. The size is computed in 64
// bits: a guest-chosen count must not wrap around to a small read.
func rdArray(m api.Memory, off, count, size uint32) []byte {
	total := uint64(count) * uint64(size)
	if total > uint64(m.Size()) {
		panic(fault{})
	}
	return rd(m, off, uint32(total))
}

func put32(m api.Memory, off uint32, v uint32) {
	if !m.WriteUint32Le(off, v) {
		panic(fault{})
	}
}

func put64(m api.Memory, off uint32, v uint64) {
	if !m.WriteUint64Le(off, v) {
		panic(fault{})
	}
}

// guard turns a fault raised by a memory helper into EFAULT.
func guard(e *Errno) {
	if r := recover(); r != nil {
		if _, ok := r.(fault); ok {
			*e = ErrnoFault
			return
		}
		panic(r)
	}
}

func nosys(*State, api.Memory, []uint64) Errno  { return ErrnoNosys }
func notsup(*State, api.Memory, []uint64) Errno { return ErrnoNotsup }

// ---- args and environment ----

func writeStrings(m api.Memory, list []string, ptrs, buf uint32) (e Errno) {
	defer guard(&e)
	for _, a := range list {
		put32(m, ptrs, buf)
		ptrs += 4
		b := rd(m, buf, uint32(len(a))+1)
		copy(b, a)
		b[len(a)] = 0
		buf += uint32(len(a)) + 1
	}
	return ErrnoSuccess
}

func writeSizes(m api.Memory, list []string, countPtr, sizePtr uint32) (e Errno) {
	defer guard(&e)
	size := 0
	for _, a := range list {
		size += len(a) + 1
	}
	put32(m, countPtr, uint32(len(list)))
	put32(m, sizePtr, uint32(size))
	return ErrnoSuccess
}

func argsGet(s *State, m api.Memory, p []uint64) Errno {
	return writeStrings(m, s.args, uint32(p[0]), uint32(p[1]))
}
func argsSizesGet(s *State, m api.Memory, p []uint64) Errno {
	return writeSizes(m, s.args, uint32(p[0]), uint32(p[1]))
}
func environGet(s *State, m api.Memory, p []uint64) Errno {
	return writeStrings(m, s.env, uint32(p[0]), uint32(p[1]))
}
func environSizesGet(s *State, m api.Memory, p []uint64) Errno {
	return writeSizes(m, s.env, uint32(p[0]), uint32(p[1]))
}

// ---- clock and randomness ----

func clockResGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	if uint32(p[0]) > clockThreadCPUTime {
		return ErrnoInval
	}
	put64(m, uint32(p[1]), 1)
	return ErrnoSuccess
}

func clockTimeGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	id := uint32(p[0])
	if id > clockThreadCPUTime {
		return ErrnoInval
	}
	s.clockNS += ClockReadStepNS
	t := s.now()
	if id == clockRealtime {
		t += RealtimeBaseNS
	}
	put64(m, uint32(p[2]), t)
	return ErrnoSuccess
}

func randomGet(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	s.random(rd(m, uint32(p[0]), uint32(p[1])))
	return ErrnoSuccess
}

func procExit(s *State, m api.Memory, p []uint64) Errno {
	panic(&ExitError{Code: uint32(p[0])})
}

// poll_oneoff never blocks. Subscriptions on descriptors are ready at once;
// if there are none, the virtual clock jumps to the earliest clock deadline.
func pollOneoff(s *State, m api.Memory, p []uint64) (e Errno) {
	defer guard(&e)
	in, out, nsubs, neventsPtr := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
	if nsubs == 0 {
		return ErrnoInval
	}
	subs := rdArray(m, in, nsubs, 48)
	type clockSub struct {
		userdata, deadline uint64
	}
	var fdEvents [][]byte
	var clocks []clockSub
	now := s.now()
	for i := uint32(0); i < nsubs; i++ {
		sub := subs[i*48 : i*48+48]
		userdata := binary.LittleEndian.Uint64(sub[0:])
		ev := make([]byte, 32)
		binary.LittleEndian.PutUint64(ev[0:], userdata)
		switch tag := sub[8]; tag {
		case eventClock:
			id := binary.LittleEndian.Uint32(sub[16:])
			timeout := binary.LittleEndian.Uint64(sub[24:])
			flags := binary.LittleEndian.Uint16(sub[40:])
			if id > clockThreadCPUTime {
				binary.LittleEndian.PutUint16(ev[8:], uint16(ErrnoInval))
				ev[10] = eventClock
				fdEvents = append(fdEvents, ev)
				continue
			}
			deadline := now + timeout
			if flags&subscriptionClockAbst != 0 {
				deadline = timeout
				if id == clockRealtime {
					if deadline >= RealtimeBaseNS {
						deadline -= RealtimeBaseNS
					} else {
						deadline = 0
					}
				}
			}
			clocks = append(clocks, clockSub{userdata, deadline})
		case eventFdRead, eventFdWrite:
			fd := binary.LittleEndian.Uint32(sub[16:])
			ev[10] = tag
			ok := (tag == eventFdRead && (fd == 0 || s.file(fd) != nil)) || (tag == eventFdWrite && (fd == 1 || fd == 2))
			if !ok {
				binary.LittleEndian.PutUint16(ev[8:], uint16(ErrnoBadf))
			}
			fdEvents = append(fdEvents, ev)
		default:
			return ErrnoInval
		}
	}
	events := fdEvents
	if len(events) == 0 {
		earliest := clocks[0].deadline
		for _, c := range clocks[1:] {
			earliest = min(earliest, c.deadline)
		}
		if earliest > now {
			s.clockNS += earliest - now
		}
		for _, c := range clocks {
			if c.deadline <= earliest {
				ev := make([]byte, 32)
				binary.LittleEndian.PutUint64(ev[0:], c.userdata)
				ev[10] = eventClock
				events = append(events, ev)
			}
		}
	}
	dst := rdArray(m, out, uint32(len(events)), 32)
	for i, ev := range events {
		copy(dst[i*32:], ev)
	}
	put32(m, neventsPtr, uint32(len(events)))
	return ErrnoSuccess
}
