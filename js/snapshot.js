// The snapshot format of docs/snapshot.md in JavaScript: a suspended guest —
// memory, globals, saved frames, WASI host state, fuel — as bytes, with page
// hashes and the state hash. Byte for byte internal/snapshot for the
// uncompressed (canonical) encoding, the same hashes always; the decoder
// makes every check of the Go one and throws only SnapshotError for bad input.
//
// Plain ES module, no build step. SHA-256 and DEFLATE come from node:crypto
// and node:zlib under Node (synchronous, faster), from WebCrypto and
// (De)CompressionStream("deflate-raw") in browsers.

export const PAGE_SIZE = 65536;
export const MAX_PAGES = 65536;
export const MAX_GLOBALS = 1 << 20;
export const MAX_BLOB = 1 << 30;

/** Value types of globals (their WebAssembly encoding). */
export const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;

const MAGIC = 'CRWDSNAP';
const VERSION = 1;
const HEADER_SIZE = 128;
const KIND_FULL = 1, KIND_DELTA = 2;
const ENC_RAW = 0, ENC_DEFLATE = 1, ENC_ZERO = 2;
const STATE_DOMAIN = new TextEncoder().encode('crowdrun/state/v1');

/** SHA-256 of a page of zeros. */
export const ZERO_PAGE_HASH = hexBytes('de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31');

/**
 * Every decoding failure. kind names Go's sentinel: 'format', 'version',
 * 'limit', 'checksum', 'state_hash', 'base', 'kind', 'invalid'.
 */
export class SnapshotError extends Error {
  constructor(kind, msg) {
    super(`snapshot: ${msg}`);
    this.name = 'SnapshotError';
    this.kind = kind;
  }
}

/**
 * @typedef {{type: number, lo: bigint, hi: bigint}} Global  lo: the value's bits (i32/f32 in the low 32); hi: v128's upper half
 * @typedef {object} Snapshot
 * @property {Uint8Array} moduleHash  32 bytes
 * @property {bigint} fuel
 * @property {(Uint8Array|null)[]} pages  null: all zero; else exactly PAGE_SIZE bytes (may alias guest memory)
 * @property {Global[]} globals
 * @property {Uint8Array} frames
 * @property {Uint8Array} host
 * @typedef {{pages: Uint8Array[], state: Uint8Array}} Digest  page hashes and the state hash (32 bytes each)
 * @typedef {{maxPages?: number, maxGlobals?: number, maxFrames?: number, maxHost?: number}} Limits
 * @typedef {{compress?: boolean}} Options
 */

/** As Go's snapshot.DefaultLimits. */
export const DEFAULT_LIMITS = Object.freeze({ maxPages: MAX_PAGES, maxGlobals: 1 << 16, maxFrames: 64 << 20, maxHost: 256 << 20 });

// ---- environment: hashing and DEFLATE ----

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);
let nodeCrypto = null, nodeZlib = null;
if (isNode) {
  try {
    nodeCrypto = await import('node:crypto');
    nodeZlib = await import('node:zlib');
  } catch {
    nodeCrypto = nodeZlib = null;
  }
}

/** SHA-256 of each of a list of byte strings, in order. */
export async function sha256Many(list) {
  if (nodeCrypto) return list.map((b) => new Uint8Array(nodeCrypto.createHash('sha256').update(b).digest().buffer.slice(0)));
  return Promise.all(list.map(async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b))));
}

/** SHA-256 of one byte string. */
export async function sha256(b) { return (await sha256Many([b]))[0]; }

/** Raw DEFLATE of b (Go: compress/flate, BestSpeed). */
async function deflate(b) {
  if (nodeZlib) return new Uint8Array(nodeZlib.deflateRawSync(b, { level: 1 }));
  return streamAll(new CompressionStream('deflate-raw'), b, Infinity);
}

/**
 * Inflates a raw DEFLATE stream that must expand to exactly n bytes and end
 * exactly at the end of stored; anything else is a format error.
 */
async function inflateExact(stored, n, what) {
  let out;
  try {
    if (nodeZlib) {
      // maxOutputLength n+1 detects a long stream without inflating it all;
      // a cut stream is an error; the engine's bytesWritten stops at the
      // stream's end, so it tells bytes after it.
      const r = nodeZlib.inflateRawSync(stored, { maxOutputLength: n + 1, info: true });
      out = r.buffer;
      if (out.length === n && r.engine.bytesWritten !== stored.length) {
        throw new SnapshotError('format', `malformed: ${what}: ${stored.length - r.engine.bytesWritten} bytes after the deflate stream`);
      }
    } else {
      // Browsers' DecompressionStream errors on a cut stream and on bytes
      // after its end (Compression Streams spec; Chromium: "Junk found after
      // end of compressed data"). Node's own web stream ignores the latter,
      // but under Node the zlib path above runs.
      out = await streamAll(new DecompressionStream('deflate-raw'), stored, n + 1);
    }
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    if (e && e.code === 'ERR_BUFFER_TOO_LARGE') throw new SnapshotError('format', `malformed: ${what}: deflate stream longer than declared`);
    throw new SnapshotError('format', `malformed: ${what}: deflate: ${e && e.message}`);
  }
  if (out.length !== n) {
    throw new SnapshotError('format', `malformed: ${what}: deflate stream of ${out.length > n ? 'more than ' + n : out.length} bytes, declared ${n}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

async function streamAll(ts, input, limit) {
  const w = ts.writable.getWriter();
  const done = w.write(input).then(() => w.close());
  done.catch(() => {});
  const chunks = [];
  let total = 0;
  const r = ts.readable.getReader();
  for (;;) {
    const { value, done: end } = await r.read();
    if (end) break;
    chunks.push(value);
    total += value.length;
    if (total > limit) {
      r.cancel().catch(() => {});
      break;
    }
  }
  await done.catch((e) => { if (total <= limit) throw e; });
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

// ---- CRC-32C (Castagnoli), slicing by 8 ----

// int32 throughout (Int32Array, |0): V8 keeps it in registers; uint32
// values above 2^31 would make it fall back to doubles, 30x slower.
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c | 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) t[k * 256 + i] = (t[(k - 1) * 256 + i] >>> 8) ^ t[t[(k - 1) * 256 + i] & 0xff];
  }
  return t;
})();

/** Continues a CRC-32C (crc: the value so far, 0 to start) over b. */
export function crc32c(b, crc = 0) {
  const t = CRC_TABLES;
  let c = ~crc | 0, i = 0;
  const n = b.length;
  // Aligned 32-bit reads where the bytes allow (wasm memory and our buffers
  // are little-endian like every engine we run on).
  const off = b.byteOffset;
  for (; i < n && ((off + i) & 3) !== 0; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  const words = (n - i) >>> 3;
  if (words > 0) {
    const w = new Int32Array(b.buffer, off + i, words * 2);
    for (let k = 0; k < w.length; k += 2) {
      c ^= w[k];
      const h = w[k + 1];
      c = t[1792 + (c & 0xff)] ^ t[1536 + ((c >>> 8) & 0xff)] ^ t[1280 + ((c >>> 16) & 0xff)] ^ t[1024 + (c >>> 24)] ^
        t[768 + (h & 0xff)] ^ t[512 + ((h >>> 8) & 0xff)] ^ t[256 + ((h >>> 16) & 0xff)] ^ t[h >>> 24];
    }
    i += words * 8;
  }
  for (; i < n; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- hashing ----

function validate(s) {
  const bad = (m) => new SnapshotError('invalid', m);
  if (!(s.moduleHash instanceof Uint8Array) || s.moduleHash.length !== 32) throw bad('module hash must be 32 bytes');
  if (typeof s.fuel !== 'bigint' || s.fuel < 0n || s.fuel >= 1n << 64n) throw bad('fuel must be a u64 bigint');
  if (s.pages.length > MAX_PAGES) throw bad(`${s.pages.length} pages > ${MAX_PAGES}`);
  s.pages.forEach((p, i) => { if (p !== null && (!(p instanceof Uint8Array) || p.length !== PAGE_SIZE)) throw bad(`page ${i} has ${p && p.length} bytes`); });
  if (s.globals.length > MAX_GLOBALS) throw bad(`${s.globals.length} globals > ${MAX_GLOBALS}`);
  s.globals.forEach((g, i) => {
    const w = globalWidth(g.type);
    if (w === 0) throw bad(`global ${i}: value type 0x${g.type.toString(16)}`);
    if (g.lo < 0n || g.hi < 0n || g.lo >= 1n << BigInt(Math.min(64, 8 * w)) || (w < 16 && g.hi !== 0n) || g.hi >= 1n << 64n) {
      throw bad(`global ${i}: value out of range for its type`);
    }
  });
  if (s.frames.length > MAX_BLOB || s.host.length > MAX_BLOB) throw bad(`frames or host state over ${MAX_BLOB} bytes`);
}

function globalWidth(t) {
  switch (t) {
    case I32: case F32: return 4;
    case I64: case F64: return 8;
    case V128: return 16;
  }
  return 0;
}

function appendGlobals(w, globals) {
  for (const g of globals) {
    w.u8(g.type);
    const n = globalWidth(g.type);
    if (n === 4) w.u32(Number(g.lo));
    else { w.u64(g.lo); if (n === 16) w.u64(g.hi); }
  }
}

function isZeroPage(p) {
  if (p === null) return true;
  const w = new Int32Array(p.buffer, p.byteOffset, PAGE_SIZE / 4);
  if ((p.byteOffset & 3) !== 0) return p.every((x) => x === 0);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  return true;
}

/** The hashes of the pages listed in idx (all if absent); zero pages are not hashed. */
async function hashPages(pages, out, idx) {
  const todo = [];
  for (const i of idx ?? pages.keys()) {
    if (isZeroPage(pages[i])) out[i] = ZERO_PAGE_HASH;
    else todo.push(i);
  }
  const hs = await sha256Many(todo.map((i) => pages[i]));
  todo.forEach((i, k) => { out[i] = hs[k]; });
}

/** The state hash of s given its page hashes. */
async function stateHash(s, pageHashes) {
  const w = new Writer(STATE_DOMAIN.length + 32 + 12 + 32 * pageHashes.length + 4 + 17 * s.globals.length + 8 + s.frames.length + s.host.length);
  w.bytes(STATE_DOMAIN);
  w.bytes(s.moduleHash);
  w.u64(s.fuel);
  w.u32(pageHashes.length);
  for (const h of pageHashes) w.bytes(h);
  w.u32(s.globals.length);
  appendGlobals(w, s.globals);
  w.u32(s.frames.length);
  w.bytes(s.frames);
  w.u32(s.host.length);
  w.bytes(s.host);
  return sha256(w.done());
}

/** Hashes every page of s and its state. @returns {Promise<Digest>} */
export async function hash(s) {
  validate(s);
  const pages = new Array(s.pages.length);
  await hashPages(s.pages, pages);
  return { pages, state: await stateHash(s, pages) };
}

/**
 * Tracker digests successive snapshots of one guest, re-hashing only the
 * pages that changed since the last one: it keeps a private copy of the
 * memory it saw last (Go's snapshot.Tracker).
 */
export class Tracker {
  constructor() { this.shadow = []; this.hashes = []; }

  /** @param {Snapshot} s @returns {Promise<Digest>} */
  async hash(s) {
    validate(s);
    const changed = [];
    const n = s.pages.length;
    for (let i = 0; i < n; i++) {
      const p = s.pages[i], old = this.shadow[i];
      if (old === undefined || !samePage(p, old)) changed.push(i);
    }
    const pages = this.hashes.slice(0, n);
    await hashPages(s.pages, pages, changed);
    for (const i of changed) {
      const p = s.pages[i];
      if (p === null || pages[i] === ZERO_PAGE_HASH) this.shadow[i] = null;
      else {
        const c = this.shadow[i] ?? new Uint8Array(PAGE_SIZE);
        c.set(p);
        this.shadow[i] = c;
      }
    }
    this.shadow.length = n;
    this.hashes = pages;
    return { pages: pages.slice(), state: await stateHash(s, pages) };
  }
}

const NodeBuffer = isNode && typeof Buffer !== 'undefined' ? Buffer : null;

function samePage(p, old) {
  if (p === null || old === null) return (p === null || isZeroPage(p)) && (old === null || isZeroPage(old));
  if (NodeBuffer) {
    return NodeBuffer.compare(NodeBuffer.from(p.buffer, p.byteOffset, PAGE_SIZE), NodeBuffer.from(old.buffer, old.byteOffset, PAGE_SIZE)) === 0;
  }
  if ((p.byteOffset & 7) === 0) {
    const a = new Float64Array(p.buffer, p.byteOffset, PAGE_SIZE / 8), b = new Float64Array(old.buffer, old.byteOffset, PAGE_SIZE / 8);
    // Compare as bits: Float64Array equality would treat NaN and ±0 wrongly,
    // so fall back to the words where the floats disagree or are NaN.
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i] || a[i] !== a[i] || (a[i] === 0 && 1 / a[i] !== 1 / b[i])) {
        const x = new Int32Array(p.buffer, p.byteOffset + 8 * i, 2), y = new Int32Array(old.buffer, old.byteOffset + 8 * i, 2);
        if (x[0] !== y[0] || x[1] !== y[1]) return false;
      }
    }
    return true;
  }
  for (let i = 0; i < PAGE_SIZE; i++) if (p[i] !== old[i]) return false;
  return true;
}

// ---- encoding ----

class Writer {
  constructor(cap = 1024) { this.buf = new Uint8Array(cap); this.n = 0; this.dv = new DataView(this.buf.buffer); }
  grow(k) {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }
  u8(v) { this.grow(1); this.buf[this.n++] = v; }
  u16(v) { this.grow(2); this.dv.setUint16(this.n, v, true); this.n += 2; }
  u32(v) { this.grow(4); this.dv.setUint32(this.n, v >>> 0, true); this.n += 4; }
  u64(v) { this.grow(8); this.dv.setBigUint64(this.n, BigInt.asUintN(64, BigInt(v)), true); this.n += 8; }
  bytes(b) { this.grow(b.length); this.buf.set(b, this.n); this.n += b.length; }
  done() { return this.buf.subarray(0, this.n); }
}

/**
 * Encodes s as a full snapshot. d is its digest (computed if absent).
 * @param {Snapshot} s @param {Digest} [d] @param {Options} [opts]
 * @returns {Promise<Uint8Array>}
 */
export async function encode(s, d = null, opts = {}) {
  d = await digestFor(s, d);
  const pages = [];
  for (let i = 0; i < s.pages.length; i++) if (!eq(d.pages[i], ZERO_PAGE_HASH)) pages.push(i);
  return encodeFile(s, d, null, pages, opts);
}

/**
 * Encodes s as a delta against the snapshot whose digest is base: only the
 * pages whose hash differs from base's.
 * @param {Digest} base @param {Snapshot} s @param {Digest} [d] @param {Options} [opts]
 */
export async function encodeDelta(base, s, d = null, opts = {}) {
  d = await digestFor(s, d);
  return encodeFile(s, d, base, changedPages(base, d), opts);
}

/** The pages of cur a delta against base carries, increasing. */
export function changedPages(base, cur) {
  const out = [];
  cur.pages.forEach((h, i) => {
    if (i < base.pages.length ? !eq(h, base.pages[i]) : !eq(h, ZERO_PAGE_HASH)) out.push(i);
  });
  return out;
}

async function digestFor(s, d) {
  if (!d) return hash(s);
  validate(s);
  if (d.pages.length !== s.pages.length) throw new SnapshotError('invalid', `digest of ${d.pages.length} pages for ${s.pages.length}`);
  return d;
}

async function encodeFile(s, d, base, pages, opts) {
  const compress = !!opts.compress;
  const blobs = [];
  for (const b of [s.frames, s.host]) {
    let enc = ENC_RAW, stored = b;
    if (compress && b.length > 0) {
      const c = await deflate(b);
      if (c.length < b.length) { enc = ENC_DEFLATE; stored = c; }
    }
    blobs.push([enc, b.length, stored]);
  }
  const recs = [];
  let size = HEADER_SIZE + 17 * s.globals.length + 18 + blobs[0][2].length + blobs[1][2].length + 4;
  for (const i of pages) {
    let enc, stored;
    if (eq(d.pages[i], ZERO_PAGE_HASH)) { enc = ENC_ZERO; stored = null; }
    else {
      enc = ENC_RAW; stored = s.pages[i];
      if (compress) {
        const c = await deflate(stored);
        if (c.length < PAGE_SIZE) { enc = ENC_DEFLATE; stored = c; }
      }
    }
    recs.push([i, enc, stored]);
    size += 9 + (stored ? stored.length : 0);
  }
  const w = new Writer(size);
  for (let i = 0; i < 8; i++) w.u8(MAGIC.charCodeAt(i));
  w.u16(VERSION);
  w.u8(base ? KIND_DELTA : KIND_FULL);
  w.u8(0);
  w.u32(s.pages.length);
  w.u64(s.fuel);
  w.u32(s.globals.length);
  w.u32(pages.length);
  w.bytes(s.moduleHash);
  w.bytes(d.state);
  w.bytes(base ? base.state : new Uint8Array(32));
  appendGlobals(w, s.globals);
  for (const [enc, raw, stored] of blobs) { w.u8(enc); w.u32(raw); w.u32(stored.length); w.bytes(stored); }
  for (const [i, enc, stored] of recs) {
    w.u32(i); w.u8(enc); w.u32(stored ? stored.length : 0);
    if (stored) w.bytes(stored);
  }
  w.u32(crc32c(w.done()));
  return w.done();
}

// ---- decoding ----

/**
 * The header of a snapshot file, parsed and checked (Go's ReadHeader).
 * @param {Uint8Array} b
 */
export function readHeader(b) {
  if (!(b instanceof Uint8Array)) throw new SnapshotError('format', 'not bytes');
  if (b.length < HEADER_SIZE) throw new SnapshotError('format', `malformed: ${b.length} bytes, header is ${HEADER_SIZE}`);
  for (let i = 0; i < 8; i++) if (b[i] !== MAGIC.charCodeAt(i)) throw new SnapshotError('format', 'malformed: bad magic');
  const dv = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  const v = dv.getUint16(8, true);
  if (v !== VERSION) throw new SnapshotError('version', `unsupported version: version ${v}`);
  const kind = b[10];
  if (kind !== KIND_FULL && kind !== KIND_DELTA) throw new SnapshotError('format', `malformed: kind ${kind}`);
  if (b[11] !== 0) throw new SnapshotError('format', `malformed: flags 0x${b[11].toString(16)}`);
  const h = {
    delta: kind === KIND_DELTA,
    pages: dv.getUint32(12, true),
    fuel: dv.getBigUint64(16, true),
    globals: dv.getUint32(24, true),
    records: dv.getUint32(28, true),
    moduleHash: b.slice(32, 64),
    state: b.slice(64, 96),
    base: b.slice(96, 128),
  };
  if (h.pages > MAX_PAGES || h.globals > MAX_GLOBALS || h.records > h.pages) {
    throw new SnapshotError('format', `malformed: ${h.pages} pages, ${h.globals} globals, ${h.records} page records`);
  }
  if (!h.delta && h.base.some((x) => x !== 0)) throw new SnapshotError('format', 'malformed: full snapshot with a base hash');
  return h;
}

/**
 * Decodes a full snapshot, checking everything (docs/snapshot.md,
 * "Decoding"). Throws SnapshotError.
 * @param {Uint8Array} b @param {Limits} [limits]
 * @returns {Promise<{snapshot: Snapshot, digest: Digest}>}
 */
export async function decode(b, limits = DEFAULT_LIMITS) {
  const f = await read(b, limits, (h) => {
    if (h.delta) throw new SnapshotError('kind', 'wrong kind: a delta, not a full snapshot');
  });
  const d = new Array(f.snap.pages.length);
  await hashPages(f.snap.pages, d);
  return finish(f, d);
}

/**
 * Applies a delta to base (digest baseDigest, computed if absent). Unchanged
 * pages of the result share memory with base. Throws SnapshotError.
 * @param {Snapshot} base @param {Digest|null} baseDigest @param {Uint8Array} b @param {Limits} [limits]
 */
export async function applyDelta(base, baseDigest, b, limits = DEFAULT_LIMITS) {
  const bd = await digestFor(base, baseDigest);
  const f = await read(b, limits, (h) => {
    if (!h.delta) throw new SnapshotError('kind', 'wrong kind: a full snapshot, not a delta');
    if (!eq(h.base, bd.state)) throw new SnapshotError('base', `delta base mismatch: delta is against ${hex(h.base.subarray(0, 8))}, base is ${hex(bd.state.subarray(0, 8))}`);
  });
  const s = f.snap;
  const d = new Array(s.pages.length);
  const listed = new Set(f.listed);
  for (let i = 0; i < s.pages.length; i++) {
    if (listed.has(i)) continue;
    if (i < base.pages.length) { s.pages[i] = base.pages[i]; d[i] = bd.pages[i]; }
    else d[i] = ZERO_PAGE_HASH;
  }
  await hashPages(s.pages, d, f.listed);
  return finish(f, d);
}

async function finish(f, pageHashes) {
  const state = await stateHash(f.snap, pageHashes);
  if (!eq(state, f.hdr.state)) {
    throw new SnapshotError('state_hash', `state hash mismatch: content hashes to ${hex(state.subarray(0, 8))}, header says ${hex(f.hdr.state.subarray(0, 8))}`);
  }
  return { snapshot: f.snap, digest: { pages: pageHashes, state } };
}

async function read(b, limits, check) {
  const lim = {};
  for (const k of Object.keys(DEFAULT_LIMITS)) {
    // An absent or unusable limit takes the default, never "no limit".
    const raw = limits ? limits[k] : undefined;
    const v = raw === undefined || raw === null ? NaN : Number(raw);
    lim[k] = Number.isFinite(v) && v >= 0 ? v : DEFAULT_LIMITS[k];
  }
  const h = readHeader(b);
  if (h.pages > lim.maxPages || h.globals > lim.maxGlobals) {
    throw new SnapshotError('limit', `limit exceeded: ${h.pages} pages (max ${lim.maxPages}), ${h.globals} globals (max ${lim.maxGlobals})`);
  }
  check(h);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  let pos = HEADER_SIZE;
  const need = (n) => {
    if (n > b.length - pos) throw new SnapshotError('format', 'malformed: truncated');
  };
  const u8 = () => { need(1); return b[pos++]; };
  const u32 = () => { need(4); pos += 4; return dv.getUint32(pos - 4, true); };
  const u64 = () => { need(8); pos += 8; return dv.getBigUint64(pos - 8, true); };
  const take = (n) => { need(n); pos += n; return b.subarray(pos - n, pos); };

  const s = { moduleHash: h.moduleHash, fuel: h.fuel, pages: new Array(h.pages).fill(null), globals: [], frames: null, host: null };
  for (let i = 0; i < h.globals; i++) {
    const t = u8();
    const w = globalWidth(t);
    if (w === 0) throw new SnapshotError('format', `malformed: global ${i} has value type 0x${t.toString(16).padStart(2, '0')}`);
    const g = { type: t, lo: 0n, hi: 0n };
    if (w === 4) g.lo = BigInt(u32());
    else { g.lo = u64(); if (w === 16) g.hi = u64(); }
    s.globals.push(g);
  }
  const blob = async (what, limit) => {
    const enc = u8(), raw = u32(), n = u32();
    if (raw > limit) throw new SnapshotError('limit', `limit exceeded: ${what} of ${raw} bytes (max ${limit})`);
    if (enc === ENC_RAW) {
      if (n !== raw) throw new SnapshotError('format', `malformed: raw ${what}: ${n} stored bytes for ${raw}`);
      return take(n).slice();
    }
    if (enc === ENC_DEFLATE) {
      if (n === 0 || n >= raw) throw new SnapshotError('format', `malformed: compressed ${what}: ${n} stored bytes for ${raw}`);
      return inflateExact(take(n), raw, what);
    }
    throw new SnapshotError('format', `malformed: ${what} has encoding ${enc}`);
  };
  s.frames = await blob('frames', lim.maxFrames);
  s.host = await blob('host state', lim.maxHost);
  const listed = [];
  const deflated = [];
  let next = 0;
  for (let r = 0; r < h.records; r++) {
    const idx = u32(), enc = u8(), n = u32();
    if (idx >= h.pages || idx < next) throw new SnapshotError('format', `malformed: page record ${idx} out of order or past ${h.pages} pages`);
    next = idx + 1;
    if (enc === ENC_RAW) {
      if (n !== PAGE_SIZE) throw new SnapshotError('format', `malformed: raw page ${idx} of ${n} bytes`);
      s.pages[idx] = take(n).slice();
    } else if (enc === ENC_DEFLATE) {
      if (n === 0 || n >= PAGE_SIZE) throw new SnapshotError('format', `malformed: compressed page ${idx} of ${n} bytes`);
      deflated.push([idx, take(n)]);
    } else if (enc === ENC_ZERO) {
      if (n !== 0) throw new SnapshotError('format', `malformed: zero page ${idx} with ${n} bytes`);
    } else {
      throw new SnapshotError('format', `malformed: page ${idx} has encoding ${enc}`);
    }
    listed.push(idx);
  }
  for (const [idx, stored] of deflated) s.pages[idx] = await inflateExact(stored, PAGE_SIZE, `page ${idx}`);
  const sum = crc32c(b.subarray(0, pos));
  const got = u32();
  if (got !== sum) throw new SnapshotError('checksum', `checksum mismatch: trailer ${got.toString(16).padStart(8, '0')}, content ${sum.toString(16).padStart(8, '0')}`);
  if (pos !== b.length) throw new SnapshotError('format', 'malformed: trailing bytes');
  return { hdr: h, snap: s, listed };
}

// ---- helpers ----

function eq(a, b) {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lower-case hex of bytes. */
export function hex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a hex string. */
export function hexBytes(s) {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}
