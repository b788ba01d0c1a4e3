// The host side of a suspendable guest's call frames (docs/continuations.md):
// the frame imports (crowdrun.save_*, save_frame, load_frame, load_*) and the
// canonical frames encoding, as internal/suspend (host.go) does them. Plain
// ES module, no Node-only API.

export const FRAMES_VERSION = 1;

const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c;
const TYPE_NAMES = { [I32]: 'i32', [I64]: 'i64', [F32]: 'f32', [F64]: 'f64' };

/** Saved frames that do not fit the guest (Go's suspend.ErrBadFrames). */
export class FramesError extends Error {
  constructor(msg) { super(`suspend: invalid frames: ${msg}`); this.name = 'FramesError'; }
}

/**
 * @typedef {{type: number, bits: bigint}} Value  f32/i32 bits in the low 32
 * @typedef {{func: number, site: number, values: Value[]}} Frame
 */

/** Encodes frames (outermost first) canonically (Go's MarshalFrames). */
export function marshalFrames(frames) {
  let n = 5;
  for (const f of frames) {
    n += 12;
    for (const v of f.values) n += v.type === I32 || v.type === F32 ? 5 : 9;
  }
  const b = new Uint8Array(n), dv = new DataView(b.buffer);
  b[0] = FRAMES_VERSION;
  dv.setUint32(1, frames.length, true);
  let p = 5;
  for (const f of frames) {
    dv.setUint32(p, f.func, true);
    dv.setUint32(p + 4, f.site, true);
    dv.setUint32(p + 8, f.values.length, true);
    p += 12;
    for (const v of f.values) {
      b[p++] = v.type;
      if (v.type === I32 || v.type === F32) { dv.setUint32(p, Number(v.bits), true); p += 4; }
      else { dv.setBigUint64(p, v.bits, true); p += 8; }
    }
  }
  return b;
}

/** Decodes marshalFrames' encoding; throws FramesError, allocates in proportion to the input. */
export function unmarshalFrames(b) {
  if (b.length < 5 || b[0] !== FRAMES_VERSION) throw new FramesError('bad header');
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const n = dv.getUint32(1, true);
  let p = 5;
  const frames = [];
  for (let k = 0; k < n; k++) {
    if (b.length - p < 12) throw new FramesError('truncated');
    const f = { func: dv.getUint32(p, true), site: dv.getUint32(p + 4, true), values: [] };
    const nv = dv.getUint32(p + 8, true);
    p += 12;
    if (nv * 5 > b.length - p) throw new FramesError('truncated');
    for (let j = 0; j < nv; j++) {
      if (b.length - p < 1) throw new FramesError('truncated');
      const t = b[p++];
      let size;
      if (t === I32 || t === F32) size = 4;
      else if (t === I64 || t === F64) size = 8;
      else throw new FramesError(`value type 0x${t.toString(16).padStart(2, '0')}`);
      if (b.length - p < size) throw new FramesError('truncated');
      const bits = size === 4 ? BigInt(dv.getUint32(p, true)) : dv.getBigUint64(p, true);
      p += size;
      f.values.push({ type: t, bits });
    }
    frames.push(f);
  }
  if (p !== b.length) throw new FramesError(`${b.length - p} trailing bytes`);
  return frames;
}

const scratch = new DataView(new ArrayBuffer(8));

// JS values of a wasm type <-> their bits. A float crosses into JS as a
// double and may lose its NaN's bits on the way (V8 quiets an f32's
// signalling NaN, and a Global's value is a canonical NaN whatever the
// global holds): the runtime never uses these for guest state — saved
// values go through floatBridge, globals through globalBits.
function toBits(type, v) {
  switch (type) {
    case I32: return BigInt(v >>> 0);
    case I64: return BigInt.asUintN(64, v);
    case F32: scratch.setFloat32(0, v, true); return BigInt(scratch.getUint32(0, true));
    default: scratch.setFloat64(0, v, true); return scratch.getBigUint64(0, true);
  }
}

function fromBits(type, bits) {
  switch (type) {
    case I32: return Number(BigInt.asIntN(32, bits));
    case I64: return BigInt.asIntN(64, bits);
    case F32: scratch.setUint32(0, Number(bits), true); return scratch.getFloat32(0, true);
    default: scratch.setBigUint64(0, bits, true); return scratch.getFloat64(0, true);
  }
}

export { toBits as valueBits, fromBits as bitsValue };

/**
 * FrameHost collects a guest's frames while it unwinds and serves them while
 * it rewinds (Go's suspend.Host). onError(e) turns a misfit into a stop of
 * the run; it must throw.
 */
export class FrameHost {
  constructor(onError = (e) => { throw e; }) {
    this.onError = onError;
    this.pending = [];
    this.unwound = []; // innermost first
    this.rewind = [];
    this.next = 0;
    this.cur = null;
    this.pos = 0;
  }

  /** The frames saved by the last unwind, outermost first; resets the collection. */
  frames() {
    const out = this.unwound.slice().reverse();
    this.unwound = [];
    this.pending = [];
    return out;
  }

  startRewind(frames) { this.rewind = frames; this.next = 0; this.cur = null; this.pos = 0; }

  /** Throws unless the guest loaded every frame and value. */
  rewindDone() {
    if (this.next !== this.rewind.length || (this.cur && this.pos !== this.cur.values.length)) {
      throw new FramesError('rewind reached the suspension point with frames left');
    }
    this.rewind = [];
    this.cur = null;
  }

  #fail(msg) { return this.onError(new FramesError(msg)); }

  /** The import object's functions (module "crowdrun"). */
  imports() {
    const out = {};
    const load = (type, name) => {
      const c = this.cur;
      if (!c || this.pos >= c.values.length || c.values[this.pos].type !== type) return this.#fail(`no ${name} value to load`);
      return c.values[this.pos++].bits;
    };
    out.save_i32 = (v) => { this.pending.push({ type: I32, bits: BigInt(v >>> 0) }); };
    out.save_i64 = (v) => { this.pending.push({ type: I64, bits: BigInt.asUintN(64, v) }); };
    out.load_i32 = () => Number(BigInt.asIntN(32, load(I32, 'i32')));
    out.load_i64 = () => BigInt.asIntN(64, load(I64, 'i64'));
    // Floats pass as their bits, through floatBridge: a float that crosses
    // into JS as a number may lose its NaN's bits.
    const bridge = floatBridge({
      s32: (v) => { this.pending.push({ type: F32, bits: BigInt(v >>> 0) }); },
      s64: (v) => { this.pending.push({ type: F64, bits: BigInt.asUintN(64, v) }); },
      l32: () => Number(BigInt.asIntN(32, load(F32, 'f32'))),
      l64: () => BigInt.asIntN(64, load(F64, 'f64')),
    });
    out.save_f32 = bridge.save_f32;
    out.save_f64 = bridge.save_f64;
    out.load_f32 = bridge.load_f32;
    out.load_f64 = bridge.load_f64;
    out.save_frame = (fn, site) => {
      this.unwound.push({ func: fn >>> 0, site: site >>> 0, values: this.pending });
      this.pending = [];
    };
    out.load_frame = (fn) => {
      fn >>>= 0;
      const c = this.cur;
      if (c && this.pos !== c.values.length) return this.#fail(`frame of function ${c.func} has ${c.values.length} values, ${this.pos} loaded`);
      if (this.next >= this.rewind.length) return this.#fail(`function ${fn} rewinds past the last frame`);
      const f = this.rewind[this.next];
      if (f.func !== fn) return this.#fail(`frame ${this.next} is of function ${f.func}, function ${fn} rewinds`);
      this.next++;
      this.cur = f;
      this.pos = 0;
      return f.site | 0;
    };
    return out;
  }
}

/** Signatures of the frame imports, as runtime.js checks imports. */
export const FRAME_SIGNATURES = Object.freeze({
  save_i32: [['i32'], []], save_i64: [['i64'], []], save_f32: [['f32'], []], save_f64: [['f64'], []],
  load_i32: [[], ['i32']], load_i64: [[], ['i64']], load_f32: [[], ['f32']], load_f64: [[], ['f64']],
  save_frame: [['i32', 'i32'], []], load_frame: [['i32'], ['i32']],
});

// ---- float bits across the JS boundary ----
//
// V8 does not keep a NaN's bits when a float becomes a JS number: reading a
// WebAssembly.Global of type f32 or f64 gives the canonical NaN whatever
// its payload, and an f32 signalling NaN is quieted on its way to a double.
// Guest state must not change by being looked at (docs/continuations.md), so
// floats are read and written as integers by tiny wasm modules that
// reinterpret them: wasm-to-wasm calls and imported globals keep every bit.

function leb(n) {
  const out = [];
  do {
    let c = n & 0x7f;
    n >>>= 7;
    if (n !== 0) c |= 0x80;
    out.push(c);
  } while (n !== 0);
  return out;
}

const section = (id, body) => [id, ...leb(body.length), ...body];
const vec = (items) => [...leb(items.length), ...items.flat()];
const str = (s) => [...leb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const code = (body) => [...leb(body.length + 2), 0, ...body, 0x0b];

/** A module of the given sections, compiled and instantiated synchronously (it is tiny). */
function instantiate(sections, imports) {
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...sections.flat()]);
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports;
}

const REINTERPRET = { [F32]: { bits: I32, toBits: 0xbc, fromBits: 0xbe }, [F64]: { bits: I64, toBits: 0xbd, fromBits: 0xbf } };

/**
 * The frame imports for floats as wasm functions: save_f32(x) calls
 * imports.s32 with x's bits (an i32), save_f64 calls s64 with an i64;
 * load_f32 and load_f64 take the bits from l32 and l64.
 */
export function floatBridge(imports) {
  const types = section(1, vec([
    [0x60, 1, F32, 0], [0x60, 1, F64, 0], [0x60, 0, 1, F32], [0x60, 0, 1, F64],
    [0x60, 1, I32, 0], [0x60, 1, I64, 0], [0x60, 0, 1, I32], [0x60, 0, 1, I64],
  ]));
  const imps = section(2, vec([
    [...str('h'), ...str('s32'), 0, 4], [...str('h'), ...str('s64'), 0, 5],
    [...str('h'), ...str('l32'), 0, 6], [...str('h'), ...str('l64'), 0, 7],
  ]));
  const funcs = section(3, vec([[0], [1], [2], [3]]));
  const exps = section(7, vec([
    [...str('save_f32'), 0, 4], [...str('save_f64'), 0, 5], [...str('load_f32'), 0, 6], [...str('load_f64'), 0, 7],
  ]));
  const codes = section(10, vec([
    code([0x20, 0, 0xbc, 0x10, 0]), code([0x20, 0, 0xbd, 0x10, 1]),
    code([0x10, 2, 0xbe]), code([0x10, 3, 0xbf]),
  ]));
  return instantiate([types, imps, funcs, exps, codes], { h: imports });
}

const globalAccess = new WeakMap();

/**
 * Reads and writes a WebAssembly.Global by its bits: get() returns them as
 * a bigint (an f32's and i32's in the low 32), set(bits) stores them (a
 * mutable global only). type is the global's value type.
 */
export function globalBits(g, type, mutable) {
  if (type === I32) return { get: () => BigInt(g.value >>> 0), set: (b) => { g.value = Number(BigInt.asIntN(32, b)); } };
  if (type === I64) return { get: () => BigInt.asUintN(64, g.value), set: (b) => { g.value = BigInt.asIntN(64, b); } };
  let a = globalAccess.get(g);
  if (!a) {
    const r = REINTERPRET[type];
    if (!r) throw new FramesError(`value type 0x${type.toString(16)}`);
    const types = section(1, vec([[0x60, 0, 1, r.bits], [0x60, 1, r.bits, 0]]));
    const imps = section(2, vec([[...str('g'), ...str('v'), 3, type, mutable ? 1 : 0]]));
    const funcs = section(3, vec(mutable ? [[0], [1]] : [[0]]));
    const exps = section(7, vec(mutable ? [[...str('get'), 0, 0], [...str('set'), 0, 1]] : [[...str('get'), 0, 0]]));
    const codes = section(10, vec(mutable
      ? [code([0x23, 0, r.toBits]), code([0x20, 0, r.fromBits, 0x24, 0])]
      : [code([0x23, 0, r.toBits])]));
    const ex = instantiate([types, imps, funcs, exps, codes], { g: { v: g } });
    a = {
      get: type === F32 ? () => BigInt(ex.get() >>> 0) : () => BigInt.asUintN(64, ex.get()),
      set: mutable ? (type === F32 ? (b) => ex.set(Number(BigInt.asIntN(32, b))) : (b) => ex.set(BigInt.asIntN(64, b))) : null,
    };
    globalAccess.set(g, a);
  }
  return a;
}
