// Unit tests of the JavaScript host: `node --test js/` (internal/jsruntime
// runs them from `go test`). The host functions are called directly on a
// bare memory, so every errno path is reachable without a guest.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Host, Errno, splitmix64, cleanPath, SIGNATURES, OutputLimitSignal, ExitSignal, InputError } from './wasi.js';
import { run, compile, reportJSON, exitCodeFor, ModuleError, Status } from './runtime.js';
import { PrepareRefusal } from './prepare.js';
import { prepareModule } from './node/preparer.mjs';

const enc = new TextEncoder();

function host(cfg = {}) {
  const h = new Host(cfg);
  const memory = new WebAssembly.Memory({ initial: 1 });
  h.setMemory(memory);
  const f = h.imports();
  const dv = () => new DataView(memory.buffer);
  const u8 = () => new Uint8Array(memory.buffer);
  const put = (off, s) => { const b = typeof s === 'string' ? enc.encode(s) : s; u8().set(b, off); return b.length; };
  return { h, f, dv, u8, put, memory };
}

const files = [
  { name: 'a.txt', data: enc.encode('alpha\n') },
  { name: 'd/b.txt', data: enc.encode('bravo') },
  { name: 'd/e/c.bin', data: new Uint8Array([1, 2, 3]) },
];

// open PATH relative to dirfd; returns [errno, fd]
function open(t, dirfd, path, { oflags = 0, rights = 0n, fdflags = 0 } = {}) {
  const n = t.put(1000, path);
  const e = t.f.path_open(dirfd, 0, 1000, n, oflags, rights, 0n, fdflags, 996);
  return [e, t.dv().getUint32(996, true)];
}

test('SplitMix64 matches the reference outputs for seed 0', () => {
  let s = 0n, z;
  const want = [0xE220A8397B1DCDAFn, 0x6E789E6AA1B965F4n, 0x06C45D188009454Fn];
  for (const w of want) { [s, z] = splitmix64(s); assert.equal(z, w); }
  const t = host({ seed: 0 });
  assert.equal(t.f.random_get(0, 3), Errno.SUCCESS); // a partial output is discarded
  assert.equal(t.f.random_get(8, 8), Errno.SUCCESS);
  assert.equal(t.dv().getBigUint64(8, true), want[1]);
  assert.equal(t.f.random_get(65530, 8), Errno.FAULT);
});

test('the input is checked like NewState', () => {
  for (const cfg of [
    { args: ['a\0b'] }, { env: ['PATH'] }, { env: ['=x'] },
    { files: [{ name: '/etc/passwd', data: new Uint8Array() }] },
    { files: [{ name: '../x', data: new Uint8Array() }] },
    { files: [{ name: 'a//b', data: new Uint8Array() }] },
    { files: [{ name: 'a', data: new Uint8Array() }, { name: 'a/b', data: new Uint8Array() }] },
    { files: [{ name: 'a/b', data: new Uint8Array() }, { name: 'a', data: new Uint8Array() }] },
    { files: [{ name: 'a', data: new Uint8Array() }, { name: 'a', data: new Uint8Array() }] },
  ]) assert.throws(() => new Host(cfg), InputError, JSON.stringify(cfg));
  assert.equal(cleanPath('a/./b/../c//'), 'a/c');
  assert.equal(cleanPath('../a'), '../a');
});

test('the import table has every preview1 function of the spec', () => {
  assert.equal(Object.keys(SIGNATURES).length, 46);
  assert.deepEqual(SIGNATURES.path_open, [['i32', 'i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i32', 'i32'], ['i32']]);
  assert.deepEqual(SIGNATURES.proc_exit, [['i32'], []]);
});

test('args and environment: sizes, pointers, NULs, EFAULT', () => {
  const t = host({ args: ['prog', 'x y'], env: ['A=1'] });
  assert.equal(t.f.args_sizes_get(0, 4), 0);
  assert.deepEqual([t.dv().getUint32(0, true), t.dv().getUint32(4, true)], [2, 9]);
  assert.equal(t.f.args_get(100, 200), 0);
  assert.equal(t.dv().getUint32(100, true), 200);
  assert.equal(t.dv().getUint32(104, true), 205);
  assert.equal(new TextDecoder().decode(t.u8().subarray(200, 209)), 'prog\0x y\0');
  assert.equal(t.f.environ_sizes_get(0, 4), 0);
  assert.deepEqual([t.dv().getUint32(0, true), t.dv().getUint32(4, true)], [1, 4]);
  assert.equal(t.f.args_get(65532, 200), Errno.FAULT);
  assert.equal(t.f.args_get(100, 65534), Errno.FAULT);
  assert.equal(t.f.args_sizes_get(65535, 0), Errno.FAULT);
});

test('the virtual clock advances 1000 per read, with fuel, from 2020', () => {
  let fuel = 0n;
  const t = host({ fuelUsed: () => fuel });
  assert.equal(t.f.clock_time_get(1, 0n, 0), 0);
  assert.equal(t.dv().getBigUint64(0, true), 1000n);
  fuel = 500n;
  assert.equal(t.f.clock_time_get(0, 0n, 0), 0);
  assert.equal(t.dv().getBigUint64(0, true), 1_577_836_800_000_000_000n + 2500n);
  assert.equal(t.f.clock_time_get(4, 0n, 0), Errno.INVAL); // does not advance
  assert.equal(t.f.clock_time_get(3, 0n, 65535), Errno.FAULT); // advances, as the Go host
  assert.equal(t.f.clock_time_get(2, 0n, 0), 0);
  assert.equal(t.dv().getBigUint64(0, true), 4500n);
  assert.equal(t.f.clock_res_get(3, 8), 0);
  assert.equal(t.dv().getBigUint64(8, true), 1n);
  assert.equal(t.f.clock_res_get(4, 8), Errno.INVAL);
});

test('stdin reads fill every iovec unless the input ends', () => {
  const t = host({ stdin: enc.encode('0123456789') });
  const iov = (off, ...lens) => { let p = 400; lens.forEach((l, i) => { t.dv().setUint32(off + i * 8, p, true); t.dv().setUint32(off + i * 8 + 4, l, true); p += l; }); };
  iov(0, 3, 0, 4);
  assert.equal(t.f.fd_read(0, 0, 3, 100), 0);
  assert.equal(t.dv().getUint32(100, true), 7);
  iov(0, 2, 5);
  assert.equal(t.f.fd_read(0, 0, 2, 100), 0);
  assert.equal(t.dv().getUint32(100, true), 3);
  assert.equal(new TextDecoder().decode(t.u8().subarray(400, 403)), '789');
  assert.equal(t.f.fd_read(0, 0, 2, 100), 0);
  assert.equal(t.dv().getUint32(100, true), 0);
  // iovecs are checked before the descriptor
  t.dv().setUint32(0, 65535, true);
  t.dv().setUint32(4, 2, true);
  assert.equal(t.f.fd_read(9, 0, 1, 100), Errno.FAULT);
  assert.equal(t.f.fd_read(9, 0, 0, 100), Errno.BADF);
  assert.equal(t.f.fd_read(3, 0, 0, 100), Errno.BADF);
  assert.equal(t.f.fd_read(1, 0, 0, 100), Errno.BADF);
});

test('writes share one output limit; what fits is written', () => {
  const out = [], err = [];
  const t = host({ stdout: (b) => out.push(...b), stderr: (b) => err.push(...b), maxOutput: 5 });
  t.put(400, 'abcdef');
  t.dv().setUint32(0, 400, true); t.dv().setUint32(4, 3, true);
  assert.equal(t.f.fd_write(1, 0, 1, 100), 0);
  assert.equal(t.dv().getUint32(100, true), 3);
  assert.equal(t.f.fd_write(0, 0, 1, 100), Errno.BADF);
  assert.equal(t.f.fd_write(3, 0, 1, 100), Errno.BADF);
  assert.throws(() => t.f.fd_write(2, 0, 1, 100), OutputLimitSignal);
  assert.deepEqual([out.length, err.length], [3, 2]);
  // the run is over: every later call rethrows
  assert.throws(() => t.f.sched_yield(), OutputLimitSignal);
});

test('proc_exit unwinds with the code', () => {
  const t = host();
  assert.throws(() => t.f.proc_exit(-1), (e) => e instanceof ExitSignal && e.code === 0xffffffff);
});

test('paths: resolution, escapes, read-only opens', () => {
  const t = host({ files });
  assert.deepEqual(open(t, 3, 'a.txt'), [0, 4]);
  assert.deepEqual(open(t, 3, '/d/./e/../b.txt'), [0, 5]);
  assert.equal(open(t, 3, '..')[0], Errno.NOTCAPABLE);
  assert.equal(open(t, 3, 'd/../../a.txt')[0], Errno.NOTCAPABLE);
  assert.equal(open(t, 3, 'a.txt/x')[0], Errno.NOTDIR);
  assert.equal(open(t, 3, 'nope')[0], Errno.NOENT);
  assert.equal(open(t, 3, '')[0], Errno.NOENT);
  assert.equal(open(t, 3, 'a\0')[0], Errno.INVAL);
  assert.equal(open(t, 3, 'a.txt', { oflags: 2 })[0], Errno.NOTDIR);
  assert.equal(open(t, 3, 'a.txt', { oflags: 1 })[0], Errno.ROFS);
  assert.equal(open(t, 3, 'new', { oflags: 8 })[0], Errno.ROFS);
  assert.equal(open(t, 3, 'd', { oflags: 1 })[0], Errno.ISDIR);
  assert.equal(open(t, 3, 'a.txt', { rights: 1n << 6n })[0], Errno.ROFS);
  assert.equal(open(t, 3, 'a.txt', { fdflags: 1 })[0], Errno.ROFS);
  assert.equal(open(t, 4, 'x')[0], Errno.NOTDIR); // fd 4 is a file
  assert.equal(open(t, 9, 'x')[0], Errno.BADF);
  const [, d] = open(t, 3, 'd');
  assert.deepEqual(open(t, d, 'e/c.bin'), [0, 7]);
  assert.equal(open(t, d, '../a.txt')[0], Errno.NOTCAPABLE); // may not leave d
  assert.deepEqual(open(t, d, '/a.txt'), [0, 8]); // absolute: from the root
  assert.equal(t.f.path_readlink(3, 1000, t.put(1000, 'a.txt'), 0, 0, 0), Errno.INVAL);
  assert.equal(t.f.path_readlink(3, 1000, t.put(1000, 'zz'), 0, 0, 0), Errno.NOENT);
  for (const name of ['path_create_directory', 'path_link', 'path_remove_directory', 'path_rename', 'path_symlink', 'path_unlink_file', 'path_filestat_set_times']) {
    assert.equal(t.f[name](3, 0, 0, 0, 0, 0, 0), Errno.ROFS, name);
  }
});

test('descriptors: lowest free number, at most 64, fds 0-3 stay', () => {
  const t = host({ files });
  for (let i = 0; i < 64; i++) assert.deepEqual(open(t, 3, 'a.txt'), [0, 4 + i]);
  assert.equal(open(t, 3, 'a.txt')[0], Errno.MFILE);
  assert.equal(t.f.fd_close(10), 0);
  assert.equal(t.f.fd_close(10), Errno.BADF);
  assert.deepEqual(open(t, 3, 'd'), [0, 10]);
  for (const fd of [0, 1, 2, 3, 99]) assert.equal(t.f.fd_close(fd), Errno.BADF);
  // a fault writing the new fd keeps it open (the Go host does the same)
  const n = t.put(1000, 'a.txt');
  assert.equal(t.f.fd_close(11), 0);
  assert.equal(t.f.path_open(3, 0, 1000, n, 0, 0n, 0n, 0, 65534), Errno.FAULT);
  assert.equal(open(t, 3, 'a.txt')[0], Errno.MFILE);
});

test('seek, tell, pread, advise, fdstat, filestat', () => {
  const t = host({ files });
  const [, fd] = open(t, 3, 'a.txt');
  const [, dfd] = open(t, 3, 'd');
  assert.equal(t.f.fd_seek(fd, -2n, 2, 0), 0);
  assert.equal(t.dv().getBigUint64(0, true), 4n);
  assert.equal(t.f.fd_seek(fd, -5n, 1, 0), Errno.INVAL);
  assert.equal(t.f.fd_seek(fd, 0n, 3, 0), Errno.INVAL);
  assert.equal(t.f.fd_seek(fd, 0x7fffffffffffffffn, 1, 0), Errno.INVAL); // overflows
  assert.equal(t.f.fd_seek(0, 0n, 0, 0), Errno.SPIPE);
  assert.equal(t.f.fd_seek(3, 0n, 0, 0), Errno.BADF);
  assert.equal(t.f.fd_seek(dfd, 0n, 0, 0), Errno.ISDIR);
  assert.equal(t.f.fd_tell(fd, 8), 0);
  assert.equal(t.dv().getBigUint64(8, true), 4n);
  assert.equal(t.f.fd_tell(2, 8), Errno.SPIPE);
  // a directory has no offset: fd_tell fails as fd_seek does (wasmtime, the WASI test suite)
  t.dv().setBigUint64(8, 77n, true);
  assert.equal(t.f.fd_tell(dfd, 8), Errno.ISDIR);
  assert.equal(t.dv().getBigUint64(8, true), 77n);
  for (const x of [fd, dfd, 0, 1, 2, 3, 99]) assert.equal(t.f.fd_tell(x, 8), t.f.fd_seek(x, 0n, 1, 8), `fd ${x}`);
  t.dv().setUint32(16, 400, true); t.dv().setUint32(20, 10, true);
  assert.equal(t.f.fd_pread(fd, 16, 1, 1n, 24), 0);
  assert.equal(t.dv().getUint32(24, true), 5);
  assert.equal(new TextDecoder().decode(t.u8().subarray(400, 405)), 'lpha\n');
  assert.equal(t.f.fd_pread(fd, 16, 1, 100n, 24), 0);
  assert.equal(t.dv().getUint32(24, true), 0);
  assert.equal(t.f.fd_pread(0, 16, 1, 0n, 24), Errno.SPIPE);
  assert.equal(t.f.fd_pread(1, 16, 1, 0n, 24), Errno.BADF);
  assert.equal(t.f.fd_pread(dfd, 16, 1, 0n, 24), Errno.ISDIR);
  assert.equal(t.f.fd_advise(fd, 0n, 0n, 5), 0);
  assert.equal(t.f.fd_advise(fd, 0n, 0n, 6), Errno.INVAL);
  assert.equal(t.f.fd_advise(dfd, 0n, 0n, 0), Errno.BADF);
  assert.equal(t.f.fd_fdstat_get(fd, 0), 0);
  assert.equal(t.u8()[0], 4);
  assert.equal(t.dv().getBigUint64(8, true), (1n << 1n) | (1n << 2n) | (1n << 5n) | (1n << 7n) | (1n << 21n) | (1n << 27n));
  assert.equal(t.dv().getBigUint64(16, true), 0n);
  assert.equal(t.f.fd_fdstat_get(3, 0), 0);
  assert.equal(t.u8()[0], 3);
  assert.equal(t.f.fd_fdstat_get(1, 0), 0);
  assert.equal(t.dv().getBigUint64(8, true), (1n << 6n) | (1n << 21n) | (1n << 27n));
  assert.equal(t.f.fd_fdstat_get(50, 0), Errno.BADF);
  assert.equal(t.f.fd_fdstat_set_flags(2, 0), 0);
  assert.equal(t.f.fd_fdstat_set_flags(2, 1), Errno.NOTSUP);
  assert.equal(t.f.fd_fdstat_set_flags(50, 0), Errno.BADF);
  assert.equal(t.f.fd_filestat_get(fd, 0), 0);
  // dev 0, ino 2 (root 1, a.txt 2, d 3, b.txt 4, e 5, c.bin 6), regular, nlink 1, size 6
  assert.deepEqual([0, 8, 24, 32].map((o) => t.dv().getBigUint64(o, true)), [0n, 2n, 1n, 6n]);
  assert.equal(t.u8()[16], 4);
  const n = t.put(1000, 'd/e/c.bin');
  assert.equal(t.f.path_filestat_get(3, 0, 1000, n, 0), 0);
  assert.deepEqual([t.dv().getBigUint64(8, true), t.dv().getBigUint64(32, true)], [6n, 3n]);
  assert.equal(t.f.fd_prestat_get(3, 0), 0);
  assert.deepEqual([t.u8()[0], t.dv().getUint32(4, true)], [0, 1]);
  assert.equal(t.f.fd_prestat_get(4, 0), Errno.BADF);
  assert.equal(t.f.fd_prestat_dir_name(3, 0, 0), Errno.NAMETOOLONG);
  assert.equal(t.f.fd_prestat_dir_name(3, 0, 1), 0);
  assert.equal(t.u8()[0], 0x2f);
  for (const name of ['fd_allocate', 'fd_datasync', 'fd_sync', 'fd_pwrite', 'fd_filestat_set_size', 'fd_filestat_set_times']) {
    assert.equal(t.f[name](fd, 0n, 0n, 0, 0), Errno.BADF, name);
  }
  assert.equal(t.f.fd_renumber(4, 5), Errno.NOSYS);
  assert.equal(t.f.sock_recv(0, 0, 0, 0, 0, 0), Errno.NOTSUP);
});

test('readdir: ".", "..", children in byte order, truncation, cookies', () => {
  const t = host({ files: [...files, { name: 'Z', data: new Uint8Array() }, { name: 'é', data: new Uint8Array() }] });
  const entries = (buf, len, cookie) => {
    assert.equal(t.f.fd_readdir(3, buf, len, cookie, 0), 0);
    const used = t.dv().getUint32(0, true);
    const out = [];
    for (let o = buf; o + 24 <= buf + used;) {
      const next = t.dv().getBigUint64(o, true), ino = t.dv().getBigUint64(o + 8, true);
      const nl = t.dv().getUint32(o + 16, true), type = t.u8()[o + 20];
      out.push([Number(next), Number(ino), type, new TextDecoder().decode(t.u8().subarray(o + 24, Math.min(o + 24 + nl, buf + used)))]);
      o += 24 + nl;
    }
    return [used, out];
  };
  const [used, all] = entries(100, 1000, 0n);
  assert.deepEqual(all.map((e) => e[3]), ['.', '..', 'Z', 'a.txt', 'd', 'é']);
  assert.deepEqual(all.map((e) => e[0]), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(all.map((e) => e[1]), [1, 1, 2, 3, 4, 8]); // root, Z, a.txt, d, b.txt, e, c.bin, é
  assert.deepEqual(all.map((e) => e[2]), [3, 3, 4, 4, 3, 4]);
  assert.equal(used, 6 * 24 + 1 + 2 + 1 + 5 + 1 + 2);
  // a buffer that ends inside the 4th entry: it is cut, and the count is the buffer size
  const [cut, part] = entries(100, 24 + 1 + 24 + 2 + 24 + 1 + 10, 0n);
  assert.equal(cut, 86);
  assert.deepEqual(part.map((e) => e[3]), ['.', '..', 'Z']);
  // resuming at cookie 3
  const [, rest] = entries(100, 1000, 3n);
  assert.deepEqual(rest.map((e) => e[3]), ['a.txt', 'd', 'é']);
  assert.deepEqual(entries(100, 1000, 99n), [0, []]);
  assert.equal(t.f.fd_readdir(3, 65530, 100, 0n, 0), Errno.FAULT);
  assert.equal(t.f.fd_readdir(0, 100, 100, 0n, 0), Errno.BADF);
});

test('poll_oneoff never blocks', () => {
  const t = host({ files });
  const sub = (i, userdata, tag, { fd = 0, id = 1, timeout = 0n, flags = 0 } = {}) => {
    const o = 1000 + i * 48;
    t.u8().fill(0, o, o + 48);
    t.dv().setBigUint64(o, userdata, true);
    t.u8()[o + 8] = tag;
    if (tag === 0) {
      t.dv().setUint32(o + 16, id, true);
      t.dv().setBigUint64(o + 24, timeout, true);
      t.dv().setUint16(o + 40, flags, true);
    } else t.dv().setUint32(o + 16, fd, true);
  };
  const events = (n) => {
    assert.equal(t.f.poll_oneoff(1000, 2000, n, 0), 0);
    const k = t.dv().getUint32(0, true);
    return Array.from({ length: k }, (_, i) => {
      const o = 2000 + i * 32;
      return [t.dv().getBigUint64(o, true), t.dv().getUint16(o + 8, true), t.u8()[o + 10]];
    });
  };
  const now = () => { t.f.clock_time_get(1, 0n, 8); return t.dv().getBigUint64(8, true); };
  assert.equal(t.f.poll_oneoff(1000, 2000, 0, 0), Errno.INVAL);
  // descriptors are ready at once; clocks then do not advance time
  sub(0, 1n, 0, { timeout: 10n ** 9n });
  sub(1, 2n, 1, { fd: 0 });
  sub(2, 3n, 2, { fd: 1 });
  sub(3, 4n, 1, { fd: 3 });
  sub(4, 5n, 2, { fd: 0 });
  sub(5, 6n, 0, { id: 9 });
  assert.deepEqual(events(6), [[2n, 0, 1], [3n, 0, 2], [4n, Errno.BADF, 1], [5n, Errno.BADF, 2], [6n, Errno.INVAL, 0]]);
  assert.equal(now(), 1000n);
  // clocks only: time jumps to the earliest deadline; all due ones fire
  sub(0, 7n, 0, { timeout: 5000n });
  sub(1, 8n, 0, { timeout: 3000n });
  sub(2, 9n, 0, { id: 0, timeout: 1_577_836_800_000_004_000n, flags: 1 }); // absolute realtime 4000
  sub(3, 10n, 0, { id: 2, timeout: 4000n, flags: 1 });
  assert.deepEqual(events(4), [[8n, 0, 0], [9n, 0, 0], [10n, 0, 0]]);
  assert.equal(now(), 5000n); // 1000 then up to 4000, then this read's 1000
  // deadlines in the past fire without moving time; realtime below 2020 saturates at 0
  sub(0, 11n, 0, { id: 0, timeout: 5n, flags: 1 });
  assert.deepEqual(events(1), [[11n, 0, 0]]);
  assert.equal(now(), 6000n);
  sub(0, 12n, 7);
  assert.equal(t.f.poll_oneoff(1000, 2000, 1, 0), Errno.INVAL);
  sub(0, 13n, 1, { fd: 0 });
  assert.equal(t.f.poll_oneoff(65500, 2000, 1, 0), Errno.FAULT);
  assert.equal(t.f.poll_oneoff(1000, 65530, 1, 0), Errno.FAULT);
});

// ---- the runtime: fuel contract, verdicts, report ----

// The hand-instrumented module of internal/jsruntime/fuel_test.go: stdin is
// n (u64) and a mode byte; n iterations use 10 + 3(n+1) fuel; stdout is
// CLOCK_MONOTONIC at the end.
const FUEL_MODULE = Uint8Array.from('0061736d01000000011b0560047f7f7f7f017f60037f7e7f017f60000060017f0060017e000293010516776173695f736e617073686f745f70726576696577310766645f72656164000016776173695f736e617073686f745f70726576696577310866645f7772697465000016776173695f736e617073686f745f70726576696577310e636c6f636b5f74696d655f67657400010863726f776472756e0b6f75745f6f665f6675656c00020863726f776472756e047472617000030303020402050401010104060b027e0142000b7f0141000b073c04066d656d6f727902000d63726f776472756e2e6675656c03001663726f776472756e2e6d656d5f6c696d69745f6869740301065f737461727400060ab401021300230020007d24002300420053044010030b0b9d0102017e017f420a10054100411036020041044109360200410041004101410810001a4110290300210041182d000021012001410146044041011004000b2001410246044041071004000b2001410346044041e4004000417f460440410124010b000b02400340420310052000500d01200042017d21000c000b0b41014200412010021a4100412036020041044108360200410141004101410810011a0b00560863726f776472756e7b2276657273696f6e223a312c227363686564756c65223a227631222c22737461636b5f6c696d6974223a313030302c226e616e5f63616e6f6e6963616c697a6174696f6e223a66616c73657d'.match(/../g), (h) => parseInt(h, 16));

function fuelStdin(n, mode = 0) {
  const b = new Uint8Array(9);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  b[8] = mode;
  return b;
}

async function runFuel(n, mode, limits) {
  const out = [];
  const rep = await run(FUEL_MODULE, { stdin: fuelStdin(n, mode), stdout: (b) => out.push(...b) }, limits);
  const clock = out.length === 8 ? new DataView(Uint8Array.from(out).buffer).getBigUint64(0, true) : null;
  return { rep, clock };
}

test('fuel: the count does not depend on the slice size', async () => {
  for (const slice of [1, 2, 7, 1000, 10_000_000]) {
    const { rep, clock } = await runFuel(1000, 0, { slice });
    assert.equal(rep.status, Status.OK, `slice ${slice}`);
    assert.equal(rep.fuel, 3013n);
    assert.equal(clock, 1000n + 3013n);
  }
});

test('fuel: budgets', async () => {
  for (const [budget, status, fuel] of [[100, 'fuel_exhausted', 103n], [3013, 'ok', 3013n], [3012, 'fuel_exhausted', 3013n], [5, 'fuel_exhausted', 10n]]) {
    for (const slice of [1, 4, 10_000_000]) {
      const { rep } = await runFuel(1000, 0, { fuel: budget, slice });
      assert.deepEqual([rep.status, rep.fuel], [status, fuel], `budget ${budget} slice ${slice}`);
    }
  }
});

test('fuel: crowdrun.trap and crowdrun.mem_limit_hit', async () => {
  assert.deepEqual(pick((await runFuel(0, 1)).rep), ['stack_overflow', 'call depth limit exceeded', 10n]);
  assert.deepEqual(pick((await runFuel(0, 2)).rep), ['trap', 'crowdrun trap 7', 10n]);
  assert.deepEqual(pick((await runFuel(0, 3)).rep), ['memory_limit', 'memory limit of 268435456 bytes reached (guest then: wasm error: unreachable)', 10n]);
});

test('fuel: the wall-clock limit is checked when a slice runs out', async () => {
  const { rep } = await runFuel(2n ** 50n, 0, { timeoutMs: 50, slice: 100_000 });
  assert.equal(rep.status, Status.TIMEOUT);
  assert.ok(rep.fuel > 0n);
  const ac = new AbortController();
  ac.abort();
  const r2 = await run(FUEL_MODULE, { stdin: fuelStdin(2n ** 50n), signal: ac.signal }, { slice: 1000 });
  assert.deepEqual([r2.status, r2.message], ['timeout', 'run cancelled']);
});

const pick = (r) => [r.status, r.message, r.fuel];

test('modules refused before running', async () => {
  await assert.rejects(compile(enc.encode('#!/bin/sh\n')), (e) => e instanceof ModuleError && e.status === 'invalid_module');
  await assert.rejects(compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff])), (e) => e.status === 'invalid_module');
  // (import "env" "f" (func)) (func (export "_start"))
  const envImport = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 9, 1, 3, 101, 110, 118, 1, 102, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 1, 10, 4, 1, 2, 0, 11]);
  // Submitted (run.mjs): prepare.wasm refuses it as the Go host does.
  await assert.rejects(prepareModule(envImport), (e) => e instanceof PrepareRefusal && e.status === 'forbidden_import' &&
    e.message === 'forbidden import: function env.f (only wasi_snapshot_preview1 functions are offered)');
  assert.equal(exitCodeFor({ status: 'forbidden_import' }), 127);
  // the same importing wasi_snapshot_preview1.fd_write with the wrong type
  const wrong = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 35, 1, 22, ...enc.encode('wasi_snapshot_preview1'), 8, ...enc.encode('fd_write'), 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 1, 10, 4, 1, 2, 0, 11]);
  await assert.rejects(prepareModule(wrong), { status: 'forbidden_import', message: 'forbidden import: function wasi_snapshot_preview1.fd_write has the wrong signature () -> (), want (i32, i32, i32, i32) -> (i32)' });
  assert.match(reportJSON({ status: 'forbidden_import', exit_code: 0, message: 'a () -> ()', wall_ms: 0, peak_memory_bytes: 0, fuel: 0n }), /\(\) -\\u003e \(\)/);
  // A module that says it meters itself is refused too: nothing proves it does.
  await assert.rejects(prepareModule(FUEL_MODULE), { status: 'invalid_module', message: 'invalid module: the module already carries crowdrun instrumentation (it imports crowdrun.out_of_fuel): give crowdrun the original module, it instruments every module itself' });
  // The runtime (a worker's, given its coordinator's modules) runs only
  // instrumented modules, whose imports it checks too.
  const raw = await run(envImport);
  assert.deepEqual([raw.status, raw.message], ['invalid_module', 'invalid module: not instrumented by crowdrun (no crowdrun custom section)']);
  const md = enc.encode('{"version":1,"schedule":"v1","stack_limit":1000,"nan_canonicalization":true}');
  const claimed = Uint8Array.from([...envImport, 0, 9 + md.length, 8, ...enc.encode('crowdrun'), ...md]);
  const r2 = await run(claimed);
  assert.deepEqual([r2.status, r2.message], ['forbidden_import', 'forbidden import: function env.f (only wasi_snapshot_preview1 functions are offered)']);
  assert.equal((await run(await prepareModule(Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 4, 1, 2, 0, 11])))).status, 'ok');
});

test('prepare.wasm instruments as the Go host: fuel, call depth, memory cap, suspendable', async () => {
  // (func (export "_start") (call 0))): recursion without end
  const bomb = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 6, 1, 4, 0, 16, 0, 11]);
  const inst = await prepareModule(bomb, { stackLimit: 10 });
  const g = await compile(inst);
  assert.deepEqual(g.metadata, { version: 1, schedule: 'v3', stack_limit: 10, nan_canonicalization: true });
  assert.equal(g.suspendable, false);
  assert.deepEqual(pick(await run(g)), ['stack_overflow', 'call depth limit exceeded', (await run(g)).fuel]);
  const f = await run(g, {}, { fuel: 3 });
  assert.equal(f.status, 'fuel_exhausted');
  assert.ok(f.fuel > 3n);
  assert.equal((await compile(await prepareModule(bomb, { suspendable: true, memoryCapPages: 7 }))).suspendable, true);
  await assert.rejects(prepareModule(bomb, { schedule: 'v0' }), { status: 'invalid_module', message: 'invalid module: invalid instrumentation options: unknown fuel schedule "v0" (known: v1, v2, v3)' });
});

test('a failing host rejects the run instead of leaving it hanging', async () => {
  // the fuel module's final fd_write calls a stdout that throws
  await assert.rejects(run(FUEL_MODULE, { stdin: fuelStdin(1), stdout: () => { throw new TypeError('sink broke'); } }), /sink broke/);
});

test('report JSON is encoding/json MarshalIndent', () => {
  const r = { status: 'exit', exit_code: 3, message: 'a<b>&"c"', wall_ms: 1, peak_memory_bytes: 65536, fuel: 12345678901234567890n };
  assert.equal(reportJSON(r), '{\n  "status": "exit",\n  "exit_code": 3,\n  "message": "a\\u003cb\\u003e\\u0026\\"c\\"",\n  "wall_ms": 1,\n  "peak_memory_bytes": 65536,\n  "fuel": 12345678901234567890\n}\n');
  assert.equal(reportJSON({ ...r, status: 'ok', message: '' }).includes('message'), false);
  assert.equal(exitCodeFor({ status: 'exit', exit_code: 300 }), 119);
  assert.equal(exitCodeFor({ status: 'output_limit' }), 125);
});

test('host state: marshal, restore, continue alike', () => {
  const cfg = () => ({ files, stdin: enc.encode('0123456789'), seed: 7n, maxOutput: 100 });
  const t = host(cfg());
  const iov = (len) => { t.dv().setUint32(0, 400, true); t.dv().setUint32(4, len, true); };
  iov(4);
  assert.equal(t.f.fd_read(0, 0, 1, 100), 0); // 4 bytes of stdin
  assert.deepEqual(open(t, 3, 'a.txt'), [0, 4]);
  assert.deepEqual(open(t, 3, 'd'), [0, 5]);
  assert.deepEqual(open(t, 5, 'e/c.bin'), [0, 6]);
  assert.equal(t.f.fd_close(5), 0);
  assert.equal(t.f.fd_seek(4, 2n, 0, 0), 0);
  assert.equal(t.f.clock_time_get(1, 0n, 0), 0);
  assert.equal(t.f.random_get(0, 5), 0);
  t.put(500, 'abc');
  t.dv().setUint32(8, 500, true); t.dv().setUint32(12, 3, true);
  assert.equal(t.f.fd_write(1, 8, 1, 100), 0);
  const state = t.h.marshal();
  assert.equal(state[0], 1);
  assert.equal(state.length, 1 + 8 + 8 + 8 + 1 + 8 + 4 + (1 + 4 + 5 + 8) + 1 + (1 + 4 + 9 + 8));

  const r = new Host(cfg());
  const restored = Host.restore(cfg(), state);
  assert.deepEqual(restored.marshal(), state);
  // both continue the same way: random, clock, stdin, the open file's offset
  const m = new WebAssembly.Memory({ initial: 1 });
  restored.setMemory(m);
  const f2 = restored.imports();
  for (const [f, dv, u8] of [[t.f, t.dv, t.u8], [f2, () => new DataView(m.buffer), () => new Uint8Array(m.buffer)]]) {
    assert.equal(f.random_get(200, 8), 0);
    assert.equal(f.clock_time_get(1, 0n, 208), 0);
    dv().setUint32(0, 300, true); dv().setUint32(4, 20, true);
    assert.equal(f.fd_read(0, 0, 1, 216), 0);
    assert.equal(f.fd_read(4, 0, 1, 220), 0);
  }
  const a = t.u8().slice(200, 224), b = new Uint8Array(m.buffer).slice(200, 224);
  assert.deepEqual(a, b);
  assert.equal(new DataView(a.buffer).getUint32(16, true), 6); // the rest of stdin
  assert.equal(new DataView(a.buffer).getUint32(20, true), 4); // a.txt from offset 2
  assert.deepEqual(t.h.marshal(), restored.marshal());
  assert.ok(r);

  // refusals, worded as the Go host's
  for (const [bytes, msg] of [
    [Uint8Array.of(2), 'invalid host state: version 2, want 1'],
    [state.subarray(0, state.length - 1), 'invalid host state: truncated or trailing bytes'],
    [Uint8Array.from([...state, 0]), 'invalid host state: truncated or trailing bytes'],
  ]) assert.throws(() => Host.restore(cfg(), bytes), { message: msg });
  assert.throws(() => Host.restore({ ...cfg(), stdin: enc.encode('012') }, state), { message: 'invalid host state: stdin is shorter than the 4 bytes already read' });
  assert.throws(() => Host.restore({ ...cfg(), maxOutput: 2 }, state), { message: 'invalid host state: 3 bytes written, above the output limit' });
  assert.throws(() => Host.restore({ ...cfg(), files: [] }, state), { message: 'invalid host state: open file "a.txt" is not among the input files' });
});
