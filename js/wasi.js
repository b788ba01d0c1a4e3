// crowdrun's deterministic host interface (docs/host-interface.md) for
// JavaScript engines: the same WASI preview1 subset as the Go host
// (internal/wasi), answer for answer and byte for byte. Nothing here depends
// on the machine: the clock is virtual, randomness is a seeded SplitMix64
// stream, files are a read-only in-memory tree, there is no network.
//
// Plain ES module with no Node-only API: it runs in Node and in browsers.

/** WASI preview1 errno values. */
export const Errno = Object.freeze({
  SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, IO: 29, ISDIR: 31, MFILE: 33,
  NAMETOOLONG: 37, NOENT: 44, NOSYS: 52, NOTDIR: 54, NOTSUP: 58, ROFS: 69,
  SPIPE: 70, NOTCAPABLE: 76,
});

/** The import module every WASI function lives in. */
export const MODULE_NAME = 'wasi_snapshot_preview1';
/** CLOCK_REALTIME at virtual time zero: 2020-01-01T00:00:00Z. */
export const REALTIME_BASE_NS = 1_577_836_800_000_000_000n;
/** How far the virtual clock advances on every clock read. */
export const CLOCK_READ_STEP_NS = 1_000n;
/** Bound on the guest's open descriptors. */
export const MAX_OPEN_FILES = 64;

const FIRST_FILE_FD = 4; // 0,1,2 stdio; 3 the preopened "/"
const U64 = (x) => BigInt.asUintN(64, x);

const FT_CHARDEV = 2, FT_DIR = 3, FT_REGULAR = 4;
const OFLAG_CREAT = 1, OFLAG_DIRECTORY = 2, OFLAG_EXCL = 4, OFLAG_TRUNC = 8;
const FDFLAG_APPEND = 1;

const R = {
  FD_DATASYNC: 1n << 0n, FD_READ: 1n << 1n, FD_SEEK: 1n << 2n, FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n, FD_ADVISE: 1n << 7n, FD_ALLOCATE: 1n << 8n, PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n, PATH_FILESTAT_GET: 1n << 18n, FD_FILESTAT_GET: 1n << 21n,
  FD_FILESTAT_SET_SIZE: 1n << 22n, POLL_FD_READWRITE: 1n << 27n,
};
const WRITE_RIGHTS = R.FD_DATASYNC | R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE;
const FILE_RIGHTS = R.FD_READ | R.FD_SEEK | R.FD_TELL | R.FD_ADVISE | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE;
const DIR_RIGHTS = R.PATH_OPEN | R.FD_READDIR | R.PATH_FILESTAT_GET | R.FD_FILESTAT_GET;
const STDIN_RIGHTS = R.FD_READ | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE;
const STDOUT_RIGHTS = R.FD_WRITE | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE;

/**
 * The complete import set: name → [params, results]. A module may import any
 * of these with exactly this signature, and nothing else from MODULE_NAME.
 * @type {Readonly<Record<string, [string[], string[]]>>}
 */
export const SIGNATURES = Object.freeze((() => {
  const s = (p, r) => [p.split(' ').filter(Boolean), r.split(' ').filter(Boolean)];
  return {
    args_get: s('i32 i32', 'i32'),
    args_sizes_get: s('i32 i32', 'i32'),
    environ_get: s('i32 i32', 'i32'),
    environ_sizes_get: s('i32 i32', 'i32'),
    clock_res_get: s('i32 i32', 'i32'),
    clock_time_get: s('i32 i64 i32', 'i32'),
    fd_advise: s('i32 i64 i64 i32', 'i32'),
    fd_allocate: s('i32 i64 i64', 'i32'),
    fd_close: s('i32', 'i32'),
    fd_datasync: s('i32', 'i32'),
    fd_fdstat_get: s('i32 i32', 'i32'),
    fd_fdstat_set_flags: s('i32 i32', 'i32'),
    fd_fdstat_set_rights: s('i32 i64 i64', 'i32'),
    fd_filestat_get: s('i32 i32', 'i32'),
    fd_filestat_set_size: s('i32 i64', 'i32'),
    fd_filestat_set_times: s('i32 i64 i64 i32', 'i32'),
    fd_pread: s('i32 i32 i32 i64 i32', 'i32'),
    fd_prestat_get: s('i32 i32', 'i32'),
    fd_prestat_dir_name: s('i32 i32 i32', 'i32'),
    fd_pwrite: s('i32 i32 i32 i64 i32', 'i32'),
    fd_read: s('i32 i32 i32 i32', 'i32'),
    fd_readdir: s('i32 i32 i32 i64 i32', 'i32'),
    fd_renumber: s('i32 i32', 'i32'),
    fd_seek: s('i32 i64 i32 i32', 'i32'),
    fd_sync: s('i32', 'i32'),
    fd_tell: s('i32 i32', 'i32'),
    fd_write: s('i32 i32 i32 i32', 'i32'),
    path_create_directory: s('i32 i32 i32', 'i32'),
    path_filestat_get: s('i32 i32 i32 i32 i32', 'i32'),
    path_filestat_set_times: s('i32 i32 i32 i32 i64 i64 i32', 'i32'),
    path_link: s('i32 i32 i32 i32 i32 i32 i32', 'i32'),
    path_open: s('i32 i32 i32 i32 i32 i64 i64 i32 i32', 'i32'),
    path_readlink: s('i32 i32 i32 i32 i32 i32', 'i32'),
    path_remove_directory: s('i32 i32 i32', 'i32'),
    path_rename: s('i32 i32 i32 i32 i32 i32', 'i32'),
    path_symlink: s('i32 i32 i32 i32 i32', 'i32'),
    path_unlink_file: s('i32 i32 i32', 'i32'),
    poll_oneoff: s('i32 i32 i32 i32', 'i32'),
    proc_exit: s('i32', ''),
    proc_raise: s('i32', 'i32'),
    random_get: s('i32 i32', 'i32'),
    sched_yield: s('', 'i32'),
    sock_accept: s('i32 i32 i32', 'i32'),
    sock_recv: s('i32 i32 i32 i32 i32 i32', 'i32'),
    sock_send: s('i32 i32 i32 i32 i32', 'i32'),
    sock_shutdown: s('i32 i32', 'i32'),
  };
})());

/** Thrown through the guest by proc_exit. */
export class ExitSignal extends Error {
  /** @param {number} code */
  constructor(code) { super(`exit status ${code}`); this.name = 'ExitSignal'; this.code = code; }
}

/** Thrown through the guest when stdout+stderr exceed the output limit. */
export class OutputLimitSignal extends Error {
  constructor() { super('output limit exceeded'); this.name = 'OutputLimitSignal'; }
}

/** An encoded host state that cannot be restored (Go's wasi.ErrBadHostState). */
export class HostStateError extends Error {
  constructor(msg) { super(`invalid host state: ${msg}`); this.name = 'HostStateError'; }
}

/** The first byte of an encoded host state. */
export const HOST_STATE_VERSION = 1;

/** A task input the host refuses (bad argument, environment entry or file name). */
export class InputError extends Error {
  constructor(msg) { super(msg); this.name = 'InputError'; }
}

// Raised by the memory helpers; every host function turns it into EFAULT.
const FAULT = Symbol('fault');

const enc = new TextEncoder();

/** Bytes of a string (UTF-8) or a copy-free view of bytes. */
function toBytes(v) {
  return typeof v === 'string' ? enc.encode(v) : v;
}

/** A "binary string": one char per byte, so comparisons are in byte order. */
function bin(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  }
  return s;
}

function binBytes(s) {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Go's strconv.Quote, enough for error messages to read the same. */
export function goQuote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's path.Clean. */
export function cleanPath(p) {
  if (p === '') return '.';
  const rooted = p[0] === '/';
  const out = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? (rooted ? '/' : '.') : s;
}

/**
 * SplitMix64 output for a 64-bit state; returns [newState, output].
 * @param {bigint} state
 */
export function splitmix64(state) {
  state = U64(state + 0x9E3779B97F4A7C15n);
  let z = state;
  z = U64((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n);
  z = U64((z ^ (z >> 27n)) * 0x94D049BB133111EBn);
  return [state, z ^ (z >> 31n)];
}

/**
 * @typedef {object} HostConfig
 * @property {(string|Uint8Array)[]} [args]   argv, argv[0] included
 * @property {(string|Uint8Array)[]} [env]    KEY=VALUE entries, in order
 * @property {Uint8Array} [stdin]             the whole input
 * @property {(b: Uint8Array) => void} [stdout] receives a copy of each write
 * @property {(b: Uint8Array) => void} [stderr]
 * @property {{name: string, data: Uint8Array}[]} [files] read-only input files
 * @property {bigint|number} [seed]
 * @property {number} [maxOutput]             stdout+stderr bytes; 0: unlimited
 * @property {() => bigint} [fuelUsed]        instructions counted so far
 * @property {() => void} [onCall]            called before every host function (may throw to stop the run)
 */

/**
 * One guest's view of the host: created per run, never shared.
 */
export class Host {
  /** @param {HostConfig} cfg */
  constructor(cfg = {}) {
    this.args = (cfg.args ?? []).map(toBytes);
    this.env = (cfg.env ?? []).map(toBytes);
    this.stdin = cfg.stdin ?? new Uint8Array(0);
    this.stdinPos = 0;
    this.stdout = cfg.stdout ?? (() => {});
    this.stderr = cfg.stderr ?? (() => {});
    this.maxOutput = cfg.maxOutput ?? 0;
    this.outputUsed = 0;
    this.fuelUsed = cfg.fuelUsed ?? null;
    this.onCall = cfg.onCall ?? null;
    this.clockNS = 0n;
    this.rng = U64(BigInt(cfg.seed ?? 0));
    /** @type {WebAssembly.Memory|null} */
    this.memory = null;
    /** @type {({n: any, offset: bigint}|null)[]} */
    this.files = [];
    /** Set once the run must end; rethrown if the guest swallowed it. */
    this.stopped = null;

    for (const a of this.args) {
      if (a.includes(0)) throw new InputError(`argument ${goQuote(new TextDecoder().decode(a))} contains a NUL byte`);
    }
    for (const e of this.env) {
      const i = e.indexOf(0x3d); // '='
      if (e.includes(0) || i <= 0) {
        throw new InputError(`environment entry ${goQuote(new TextDecoder().decode(e))} must be KEY=VALUE without NUL bytes`);
      }
    }
    this.root = { name: '/', path: '', ino: 0n, data: null, children: new Map(), dir: true };
    this.stdinEOF = false;
    for (const f of cfg.files ?? []) this.#addFile(f);
    // Inode numbers follow sorted path order, root first.
    let ino = 1n;
    const number = (n) => {
      n.ino = ino++;
      if (n.dir) for (const name of sortedNames(n)) number(n.children.get(name));
    };
    number(this.root);
  }

  #addFile(f) {
    const name = f.name;
    if (name === '' || name[0] === '/' || cleanPath(name) !== name || name === '.' ||
        name.startsWith('../') || name === '..' || name.includes('\0')) {
      throw new InputError(`input file name ${goQuote(name)} must be a clean relative path`);
    }
    const parts = bin(enc.encode(name)).split('/');
    let dir = this.root;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      let child = dir.children.get(p);
      const last = i === parts.length - 1;
      const path = parts.slice(0, i + 1).join('/');
      if (!child && last) {
        dir.children.set(p, { name: p, path, ino: 0n, data: toBytes(f.data ?? new Uint8Array(0)), children: null, dir: false });
        return;
      } else if (!child) {
        child = { name: p, path, ino: 0n, data: null, children: new Map(), dir: true };
        dir.children.set(p, child);
      } else if (last || !child.dir) {
        throw new InputError(`input file ${goQuote(name)} conflicts with another input file`);
      }
      dir = child;
    }
  }

  /**
   * The host's part of a suspended guest's continuation: how far it read
   * stdin, how much it wrote, the virtual clock, the random generator and its
   * open files — byte for byte the Go host's State.MarshalHost (canonical).
   * @returns {Uint8Array}
   */
  marshal() {
    const out = [];
    const u8 = (v) => out.push(v);
    const u32 = (v) => { for (let i = 0; i < 4; i++) out.push((v >>> (8 * i)) & 0xff); };
    const u64 = (v) => { v = U64(BigInt(v)); for (let i = 0n; i < 8n; i++) out.push(Number((v >> (8n * i)) & 0xffn)); };
    u8(HOST_STATE_VERSION);
    u64(this.clockNS);
    u64(this.rng);
    u64(this.stdinPos);
    u8(this.stdinEOF ? 1 : 0);
    u64(this.outputUsed);
    u32(this.files.length);
    for (const f of this.files) {
      if (!f) { u8(0); continue; }
      u8(1);
      u32(f.n.path.length);
      for (let i = 0; i < f.n.path.length; i++) out.push(f.n.path.charCodeAt(i));
      u64(f.offset);
    }
    return Uint8Array.from(out);
  }

  /**
   * The host of a guest resumed from a marshalled state, with the same
   * configuration as the run that was suspended (cfg.stdin the task's whole
   * input). Throws InputError or HostStateError, as Go's RestoreState.
   * @param {HostConfig} cfg
   * @param {Uint8Array} state
   */
  static restore(cfg, state) {
    const h = new Host(cfg);
    let pos = 0, bad = false;
    const take = (n) => {
      if (bad || n > state.length - pos) { bad = true; return null; }
      pos += n;
      return state.subarray(pos - n, pos);
    };
    const u8 = () => { const b = take(1); return b ? b[0] : 0; };
    const u32 = () => { const b = take(4); return b ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : 0; };
    const u64 = () => { const b = take(8); return b ? new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true) : 0n; };
    const v = u8();
    if (v !== HOST_STATE_VERSION) throw new HostStateError(`version ${v}, want ${HOST_STATE_VERSION}`);
    h.clockNS = u64();
    h.rng = u64();
    const stdinOffset = u64();
    const eof = u8();
    if (eof === 1) h.stdinEOF = true;
    else if (eof !== 0) bad = true;
    const used = u64();
    const n = u32();
    if (!bad && n > MAX_OPEN_FILES) throw new HostStateError(`${n} open files, at most ${MAX_OPEN_FILES}`);
    for (let i = 0; i < n && !bad; i++) {
      const tag = u8();
      if (tag === 0) { h.files.push(null); continue; }
      if (tag !== 1) { bad = true; continue; }
      const p = take(u32());
      const offset = u64();
      if (bad) break;
      const path = bin(p);
      let node = h.root;
      if (path !== '') {
        const [nd, errno] = h.lookup(h.root, path);
        if (errno !== Errno.SUCCESS) throw new HostStateError(`open file ${goQuote(new TextDecoder().decode(p))} is not among the input files`);
        node = nd;
      }
      h.files.push({ n: node, offset });
    }
    if (bad || pos !== state.length) throw new HostStateError('truncated or trailing bytes');
    if (h.maxOutput > 0 && used > BigInt(h.maxOutput)) throw new HostStateError(`${used} bytes written, above the output limit`);
    h.outputUsed = Number(used);
    if (stdinOffset > BigInt(h.stdin.length)) throw new HostStateError(`stdin is shorter than the ${stdinOffset} bytes already read`);
    h.stdinPos = Number(stdinOffset);
    return h;
  }

  /** Binds the guest's linear memory; call after instantiation. */
  setMemory(memory) { this.memory = memory; }

  /** The current virtual time. */
  now() {
    let t = this.clockNS;
    if (this.fuelUsed) t += this.fuelUsed();
    return U64(t);
  }

  /** Fills p from the SplitMix64 stream (ceil(len/8) outputs per call). */
  random(p) {
    for (let i = 0; i < p.length; i += 8) {
      let z;
      [this.rng, z] = splitmix64(this.rng);
      for (let j = 0; j < 8 && i + j < p.length; j++) p[i + j] = Number((z >> BigInt(8 * j)) & 0xffn);
    }
  }

  /**
   * The wasi_snapshot_preview1 import object.
   * @returns {Record<string, Function>}
   */
  imports() {
    const out = {};
    for (const name of Object.keys(SIGNATURES)) {
      const impl = this.#impls[name];
      out[name] = (...a) => {
        if (this.stopped) throw this.stopped;
        try {
          if (this.onCall) this.onCall();
          return impl.apply(this, a);
        } catch (e) {
          if (e === FAULT) return Errno.FAULT;
          if (!this.stopped) this.stopped = e; // the run ends, even if the guest catches it
          throw e;
        }
      };
    }
    return out;
  }

  // ---- memory helpers: every out-of-range access becomes EFAULT ----

  #mem() {
    const buf = this.memory ? this.memory.buffer : new ArrayBuffer(0);
    return { u8: new Uint8Array(buf), dv: new DataView(buf) };
  }

  /** A view of [off, off+n) or FAULT. */
  #rd(m, off, n) {
    if (off + n > m.u8.length) throw FAULT;
    return m.u8.subarray(off, off + n);
  }

  #put32(m, off, v) {
    if (off + 4 > m.u8.length) throw FAULT;
    m.dv.setUint32(off, v >>> 0, true);
  }

  #put64(m, off, v) {
    if (off + 8 > m.u8.length) throw FAULT;
    m.dv.setBigUint64(off, U64(v), true);
  }

  /** Guest buffers of an iovec array, all checked before any is used. */
  #iovecs(m, iovs, n) {
    const raw = this.#rd(m, iovs, n * 8);
    const out = [];
    for (let i = 0; i < n; i++) {
      const off = m.dv.getUint32(raw.byteOffset + i * 8, true);
      const len = m.dv.getUint32(raw.byteOffset + i * 8 + 4, true);
      out.push(this.#rd(m, off, len));
    }
    return out;
  }

  #file(fd) {
    if (fd < FIRST_FILE_FD) return null;
    return this.files[fd - FIRST_FILE_FD] ?? null;
  }

  #dirNode(fd) {
    if (fd === 3) return [this.root, Errno.SUCCESS];
    const f = this.#file(fd);
    if (!f) return [null, Errno.BADF];
    if (!f.n.dir) return [null, Errno.NOTDIR];
    return [f.n, Errno.SUCCESS];
  }

  #open(n) {
    for (let i = 0; i < this.files.length; i++) {
      if (!this.files[i]) {
        this.files[i] = { n, offset: 0n };
        return [i + FIRST_FILE_FD, Errno.SUCCESS];
      }
    }
    if (this.files.length >= MAX_OPEN_FILES) return [0, Errno.MFILE];
    this.files.push({ n, offset: 0n });
    return [this.files.length - 1 + FIRST_FILE_FD, Errno.SUCCESS];
  }

  /** Resolves a guest path (binary string) relative to dir. */
  lookup(dir, p) {
    if (p === '') return [null, Errno.NOENT];
    if (p.includes('\0')) return [null, Errno.INVAL];
    if (p[0] === '/') dir = this.root;
    const stack = [dir];
    for (const part of p.split('/')) {
      const cur = stack[stack.length - 1];
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length === 1) return [null, Errno.NOTCAPABLE];
        stack.pop();
        continue;
      }
      if (!cur.dir) return [null, Errno.NOTDIR];
      const next = cur.children.get(part);
      if (!next) return [null, Errno.NOENT];
      stack.push(next);
    }
    return [stack[stack.length - 1], Errno.SUCCESS];
  }

  /** Writes to stdout or stderr under the shared output limit. */
  #write(w, p) {
    if (this.maxOutput > 0 && this.outputUsed + p.length > this.maxOutput) {
      const fit = this.maxOutput - this.outputUsed;
      if (fit > 0) w(p.slice(0, fit));
      this.outputUsed = this.maxOutput;
      throw new OutputLimitSignal();
    }
    this.outputUsed += p.length;
    if (p.length > 0) w(p.slice());
    return p.length;
  }

  #putFilestat(m, off, n, ft) {
    const b = this.#rd(m, off, 64);
    b.fill(0);
    const dv = m.dv, o = b.byteOffset;
    dv.setBigUint64(o + 8, n ? n.ino : 0n, true);
    b[16] = ft;
    dv.setBigUint64(o + 24, 1n, true);
    dv.setBigUint64(o + 32, BigInt(n && n.data ? n.data.length : 0), true);
  }

  #readPath(m, ptr, n) {
    return bin(this.#rd(m, ptr, n));
  }

  #writeStrings(list, ptrs, buf) {
    const m = this.#mem();
    for (const a of list) {
      this.#put32(m, ptrs, buf);
      ptrs += 4;
      const b = this.#rd(m, buf, a.length + 1);
      b.set(a);
      b[a.length] = 0;
      buf += a.length + 1;
    }
    return Errno.SUCCESS;
  }

  #writeSizes(list, countPtr, sizePtr) {
    const m = this.#mem();
    let size = 0;
    for (const a of list) size += a.length + 1;
    this.#put32(m, countPtr, list.length);
    this.#put32(m, sizePtr, size);
    return Errno.SUCCESS;
  }

  // Implementations take the raw wasm arguments: i32 as (signed) numbers,
  // i64 as (signed) BigInts.
  #impls = {
    args_get: (argv, buf) => this.#writeStrings(this.args, argv >>> 0, buf >>> 0),
    args_sizes_get: (c, s) => this.#writeSizes(this.args, c >>> 0, s >>> 0),
    environ_get: (envp, buf) => this.#writeStrings(this.env, envp >>> 0, buf >>> 0),
    environ_sizes_get: (c, s) => this.#writeSizes(this.env, c >>> 0, s >>> 0),

    clock_res_get: (id, out) => {
      const m = this.#mem();
      if ((id >>> 0) > 3) return Errno.INVAL;
      this.#put64(m, out >>> 0, 1n);
      return Errno.SUCCESS;
    },
    clock_time_get: (id, _precision, out) => {
      const m = this.#mem();
      id >>>= 0;
      if (id > 3) return Errno.INVAL;
      this.clockNS = U64(this.clockNS + CLOCK_READ_STEP_NS);
      let t = this.now();
      if (id === 0) t = U64(t + REALTIME_BASE_NS);
      this.#put64(m, out >>> 0, t);
      return Errno.SUCCESS;
    },

    fd_advise: (fd, _off, _len, advice) => {
      const f = this.#file(fd >>> 0);
      if (!f || f.n.dir) return Errno.BADF;
      if ((advice >>> 0) > 5) return Errno.INVAL;
      return Errno.SUCCESS;
    },
    fd_allocate: () => Errno.BADF,
    fd_close: (fd) => {
      fd >>>= 0;
      if (!this.#file(fd)) return Errno.BADF;
      this.files[fd - FIRST_FILE_FD] = null;
      return Errno.SUCCESS;
    },
    fd_datasync: () => Errno.BADF,
    fd_fdstat_get: (fd, out) => {
      const m = this.#mem();
      fd >>>= 0;
      let ft, rights;
      if (fd === 0) [ft, rights] = [FT_CHARDEV, STDIN_RIGHTS];
      else if (fd === 1 || fd === 2) [ft, rights] = [FT_CHARDEV, STDOUT_RIGHTS];
      else if (fd === 3) [ft, rights] = [FT_DIR, DIR_RIGHTS];
      else {
        const f = this.#file(fd);
        if (!f) return Errno.BADF;
        [ft, rights] = f.n.dir ? [FT_DIR, DIR_RIGHTS] : [FT_REGULAR, FILE_RIGHTS];
      }
      const b = this.#rd(m, out >>> 0, 24);
      b.fill(0);
      b[0] = ft;
      m.dv.setBigUint64(b.byteOffset + 8, rights, true);
      m.dv.setBigUint64(b.byteOffset + 16, ft === FT_DIR ? FILE_RIGHTS | DIR_RIGHTS : 0n, true);
      return Errno.SUCCESS;
    },
    fd_fdstat_set_flags: (fd, flags) => {
      fd >>>= 0;
      if (fd > 3 && !this.#file(fd)) return Errno.BADF;
      if ((flags >>> 0) !== 0) return Errno.NOTSUP;
      return Errno.SUCCESS;
    },
    fd_fdstat_set_rights: () => Errno.NOSYS,
    fd_filestat_get: (fd, out) => {
      const m = this.#mem();
      fd >>>= 0;
      out >>>= 0;
      if (fd <= 2) this.#putFilestat(m, out, null, FT_CHARDEV);
      else if (fd === 3) this.#putFilestat(m, out, this.root, FT_DIR);
      else {
        const f = this.#file(fd);
        if (!f) return Errno.BADF;
        this.#putFilestat(m, out, f.n, f.n.dir ? FT_DIR : FT_REGULAR);
      }
      return Errno.SUCCESS;
    },
    fd_filestat_set_size: () => Errno.BADF,
    fd_filestat_set_times: () => Errno.BADF,
    fd_pread: (fd, iovs, n, off, out) => {
      const m = this.#mem();
      fd >>>= 0;
      const f = this.#file(fd);
      if (!f) return fd === 0 ? Errno.SPIPE : Errno.BADF;
      if (f.n.dir) return Errno.ISDIR;
      let o = U64(off);
      let total = 0;
      for (const b of this.#iovecs(m, iovs >>> 0, n >>> 0)) {
        const k = readAt(f.n, b, o);
        o = U64(o + BigInt(k));
        total += k;
      }
      this.#put32(m, out >>> 0, total);
      return Errno.SUCCESS;
    },
    fd_prestat_get: (fd, out) => {
      const m = this.#mem();
      if ((fd >>> 0) !== 3) return Errno.BADF;
      const b = this.#rd(m, out >>> 0, 8);
      b.fill(0);
      m.dv.setUint32(b.byteOffset + 4, 1, true); // len("/")
      return Errno.SUCCESS;
    },
    fd_prestat_dir_name: (fd, buf, len) => {
      const m = this.#mem();
      if ((fd >>> 0) !== 3) return Errno.BADF;
      if ((len >>> 0) < 1) return Errno.NAMETOOLONG;
      this.#rd(m, buf >>> 0, 1)[0] = 0x2f;
      return Errno.SUCCESS;
    },
    fd_pwrite: () => Errno.BADF,
    fd_read: (fd, iovs, n, out) => {
      const m = this.#mem();
      fd >>>= 0;
      const bufs = this.#iovecs(m, iovs >>> 0, n >>> 0);
      let total = 0;
      if (fd === 0) {
        for (const b of bufs) {
          const k = this.stdinEOF ? 0 : Math.min(b.length, this.stdin.length - this.stdinPos);
          if (k < b.length) this.stdinEOF = true; // as io.ReadFull's short read
          b.set(this.stdin.subarray(this.stdinPos, this.stdinPos + k));
          this.stdinPos += k;
          total += k;
          if (k < b.length) break;
        }
      } else {
        const f = this.#file(fd);
        if (!f) return Errno.BADF;
        if (f.n.dir) return Errno.ISDIR;
        for (const b of bufs) {
          const k = readAt(f.n, b, f.offset);
          f.offset = U64(f.offset + BigInt(k));
          total += k;
        }
      }
      this.#put32(m, out >>> 0, total);
      return Errno.SUCCESS;
    },
    fd_readdir: (fd, buf, bufLen, cookie, out) => {
      const m = this.#mem();
      const [dir, errno] = this.#dirNode(fd >>> 0);
      if (errno !== Errno.SUCCESS) return errno;
      buf >>>= 0;
      bufLen >>>= 0;
      cookie = U64(cookie);
      const entries = [['.', dir.ino, FT_DIR], ['..', dir.ino, FT_DIR]];
      for (const name of sortedNames(dir)) {
        const c = dir.children.get(name);
        entries.push([name, c.ino, c.dir ? FT_DIR : FT_REGULAR]);
      }
      const dst = this.#rd(m, buf, bufLen);
      let used = 0;
      for (let i = cookie; i < BigInt(entries.length) && used < bufLen; i++) {
        const [name, ino, ft] = entries[Number(i)];
        const rec = new Uint8Array(24 + name.length);
        const dv = new DataView(rec.buffer);
        dv.setBigUint64(0, i + 1n, true);
        dv.setBigUint64(8, ino, true);
        dv.setUint32(16, name.length, true);
        rec[20] = ft;
        rec.set(binBytes(name), 24);
        const k = Math.min(rec.length, bufLen - used);
        dst.set(rec.subarray(0, k), used);
        used += k;
      }
      this.#put32(m, out >>> 0, used);
      return Errno.SUCCESS;
    },
    fd_renumber: () => Errno.NOSYS,
    fd_seek: (fd, offset, whence, out) => {
      const m = this.#mem();
      fd >>>= 0;
      const f = this.#file(fd);
      if (!f) return fd <= 2 ? Errno.SPIPE : Errno.BADF;
      if (f.n.dir) return Errno.ISDIR;
      const off = BigInt.asIntN(64, offset);
      let base = 0n;
      switch (whence >>> 0) {
        case 0: break;
        case 1: base = BigInt.asIntN(64, f.offset); break;
        case 2: base = BigInt(f.n.data.length); break;
        default: return Errno.INVAL;
      }
      const pos = BigInt.asIntN(64, base + off);
      if (pos < 0n || (off > 0n && pos < base)) return Errno.INVAL;
      f.offset = pos;
      this.#put64(m, out >>> 0, f.offset);
      return Errno.SUCCESS;
    },
    fd_sync: () => Errno.BADF,
    fd_tell: (fd, out) => {
      const m = this.#mem();
      fd >>>= 0;
      const f = this.#file(fd);
      if (!f) return fd <= 2 ? Errno.SPIPE : Errno.BADF;
      if (f.n.dir) return Errno.ISDIR; // as fd_seek: a directory has no offset to tell
      this.#put64(m, out >>> 0, f.offset);
      return Errno.SUCCESS;
    },
    fd_write: (fd, iovs, n, out) => {
      const m = this.#mem();
      fd >>>= 0;
      let w;
      if (fd === 1) w = this.stdout;
      else if (fd === 2) w = this.stderr;
      else return Errno.BADF; // stdin, the preopen and files are read-only
      let total = 0;
      for (const b of this.#iovecs(m, iovs >>> 0, n >>> 0)) total += this.#write(w, b);
      this.#put32(m, out >>> 0, total);
      return Errno.SUCCESS;
    },

    path_create_directory: () => Errno.ROFS,
    path_filestat_get: (fd, _flags, path, len, out) => {
      const m = this.#mem();
      const [dir, errno] = this.#dirNode(fd >>> 0);
      if (errno !== Errno.SUCCESS) return errno;
      const [n, e2] = this.lookup(dir, this.#readPath(m, path >>> 0, len >>> 0));
      if (e2 !== Errno.SUCCESS) return e2;
      this.#putFilestat(m, out >>> 0, n, n.dir ? FT_DIR : FT_REGULAR);
      return Errno.SUCCESS;
    },
    path_filestat_set_times: () => Errno.ROFS,
    path_link: () => Errno.ROFS,
    path_open: (fd, _dirflags, path, len, oflags, rightsBase, _inheriting, fdflags, out) => {
      const m = this.#mem();
      const [dir, errno] = this.#dirNode(fd >>> 0);
      if (errno !== Errno.SUCCESS) return errno;
      const name = this.#readPath(m, path >>> 0, len >>> 0);
      oflags >>>= 0;
      fdflags >>>= 0;
      if ((oflags & (OFLAG_CREAT | OFLAG_TRUNC | OFLAG_EXCL)) !== 0 || (fdflags & FDFLAG_APPEND) !== 0 ||
          (U64(rightsBase) & WRITE_RIGHTS) !== 0n) {
        const [n, e] = this.lookup(dir, name);
        if (e === Errno.SUCCESS && n.dir) return Errno.ISDIR;
        return Errno.ROFS;
      }
      const [n, e] = this.lookup(dir, name);
      if (e !== Errno.SUCCESS) return e;
      if ((oflags & OFLAG_DIRECTORY) !== 0 && !n.dir) return Errno.NOTDIR;
      const [newfd, e2] = this.#open(n);
      if (e2 !== Errno.SUCCESS) return e2;
      this.#put32(m, out >>> 0, newfd);
      return Errno.SUCCESS;
    },
    path_readlink: (fd, path, len) => {
      const m = this.#mem();
      const [dir, errno] = this.#dirNode(fd >>> 0);
      if (errno !== Errno.SUCCESS) return errno;
      const [, e] = this.lookup(dir, this.#readPath(m, path >>> 0, len >>> 0));
      if (e !== Errno.SUCCESS) return e;
      return Errno.INVAL; // nothing is a symbolic link
    },
    path_remove_directory: () => Errno.ROFS,
    path_rename: () => Errno.ROFS,
    path_symlink: () => Errno.ROFS,
    path_unlink_file: () => Errno.ROFS,

    poll_oneoff: (inp, out, nsubs, neventsPtr) => this.#pollOneoff(inp >>> 0, out >>> 0, nsubs >>> 0, neventsPtr >>> 0),

    proc_exit: (code) => { throw new ExitSignal(code >>> 0); },
    proc_raise: () => Errno.NOSYS,
    random_get: (buf, len) => {
      const m = this.#mem();
      this.random(this.#rd(m, buf >>> 0, len >>> 0));
      return Errno.SUCCESS;
    },
    sched_yield: () => Errno.SUCCESS,
    sock_accept: () => Errno.NOTSUP,
    sock_recv: () => Errno.NOTSUP,
    sock_send: () => Errno.NOTSUP,
    sock_shutdown: () => Errno.NOTSUP,
  };

  // poll_oneoff never blocks: descriptor subscriptions are ready at once; if
  // there are none, the virtual clock jumps to the earliest clock deadline.
  #pollOneoff(inp, out, nsubs, neventsPtr) {
    const m = this.#mem();
    if (nsubs === 0) return Errno.INVAL;
    const subs = this.#rd(m, inp, nsubs * 48);
    const dv = new DataView(subs.buffer, subs.byteOffset, subs.length);
    const fdEvents = [];
    const clocks = [];
    const now = this.now();
    const event = (userdata, errno, type) => {
      const ev = new Uint8Array(32);
      const d = new DataView(ev.buffer);
      d.setBigUint64(0, userdata, true);
      d.setUint16(8, errno, true);
      ev[10] = type;
      return ev;
    };
    for (let i = 0; i < nsubs; i++) {
      const o = i * 48;
      const userdata = dv.getBigUint64(o, true);
      const tag = subs[o + 8];
      if (tag === 0) {
        const id = dv.getUint32(o + 16, true);
        const timeout = dv.getBigUint64(o + 24, true);
        const flags = dv.getUint16(o + 40, true);
        if (id > 3) {
          fdEvents.push(event(userdata, Errno.INVAL, 0));
          continue;
        }
        let deadline = U64(now + timeout);
        if (flags & 1) {
          deadline = timeout;
          if (id === 0) deadline = deadline >= REALTIME_BASE_NS ? deadline - REALTIME_BASE_NS : 0n;
        }
        clocks.push([userdata, deadline]);
      } else if (tag === 1 || tag === 2) {
        const fd = dv.getUint32(o + 16, true);
        const ok = (tag === 1 && (fd === 0 || this.#file(fd) !== null)) || (tag === 2 && (fd === 1 || fd === 2));
        fdEvents.push(event(userdata, ok ? 0 : Errno.BADF, tag));
      } else {
        return Errno.INVAL;
      }
    }
    let events = fdEvents;
    if (events.length === 0) {
      let earliest = clocks[0][1];
      for (const [, d] of clocks) if (d < earliest) earliest = d;
      if (earliest > now) this.clockNS = U64(this.clockNS + (earliest - now));
      for (const [userdata, d] of clocks) if (d <= earliest) events.push(event(userdata, 0, 0));
    }
    const dst = this.#rd(m, out, events.length * 32);
    events.forEach((ev, i) => dst.set(ev, i * 32));
    this.#put32(m, neventsPtr, events.length);
    return Errno.SUCCESS;
  }
}

function readAt(n, b, off) {
  if (off >= BigInt(n.data.length)) return 0;
  const o = Number(off);
  const k = Math.min(b.length, n.data.length - o);
  b.set(n.data.subarray(o, o + k));
  return k;
}

function sortedNames(n) {
  return [...n.children.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
