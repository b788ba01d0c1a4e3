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

// JS values of a wasm type <-> their bits. An f32 crosses into JS as a
// double: a signalling NaN comes out quieted (V8), the one place where the
// JS host cannot keep a value's bits (docs/continuations.md).
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
    for (const [t, name] of Object.entries(TYPE_NAMES)) {
      const type = Number(t);
      out[`save_${name}`] = (v) => { this.pending.push({ type, bits: toBits(type, v) }); };
      out[`load_${name}`] = () => {
        const c = this.cur;
        if (!c || this.pos >= c.values.length || c.values[this.pos].type !== type) return this.#fail(`no ${name} value to load`);
        return fromBits(type, c.values[this.pos++].bits);
      };
    }
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
