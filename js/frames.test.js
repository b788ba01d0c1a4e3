// node --test js/frames.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameHost, FramesError, marshalFrames, unmarshalFrames, valueBits, bitsValue, globalBits } from './frames.js';

const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c;

test('frames encoding: canonical, as internal/suspend', () => {
  const frames = [
    { func: 12, site: 3, values: [{ type: I32, bits: 0xFFFFFFFFn }, { type: I64, bits: 1n << 63n }] },
    { func: 40, site: 0, values: [{ type: F32, bits: 0x7FC00000n }, { type: F64, bits: 0x3FF0000000000000n }] },
    { func: 41, site: 7, values: [] },
  ];
  const b = marshalFrames(frames);
  // version, count, then func, site, count, (type, bits)...
  assert.deepEqual([...b.subarray(0, 5)], [1, 3, 0, 0, 0]);
  assert.equal(b.length, 5 + 3 * 12 + 5 + 9 + 5 + 9);
  assert.deepEqual(unmarshalFrames(b), frames);
  for (let n = 0; n < b.length; n++) assert.throws(() => unmarshalFrames(b.subarray(0, n)), FramesError);
  assert.throws(() => unmarshalFrames(Uint8Array.from([...b, 0])), FramesError);
  const bad = b.slice();
  bad[5 + 12] = 0x7b; // a v128 value
  assert.throws(() => unmarshalFrames(bad), FramesError);
  // A lying value count allocates nothing.
  const lie = Uint8Array.from([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => unmarshalFrames(lie), FramesError);
});

test('values keep their bits through JS', () => {
  for (const [t, bits] of [[I32, 0x80000000n], [I64, 0xFFFFFFFFFFFFFFFFn], [F32, 0xFFC00001n], [F64, 0x7FF8000000000001n], [F64, 0x8000000000000000n]]) {
    assert.equal(valueBits(t, bitsValue(t, bits)), bits);
  }
});

test('FrameHost: unwind then rewind, with the checks of suspend.Host', () => {
  const h = new FrameHost();
  const f = h.imports();
  // Innermost first while unwinding.
  f.save_i32(-1); f.save_i64(5n); f.save_frame(20, 2);
  f.save_f64(1.5); f.save_frame(10, 1);
  const saved = h.frames();
  assert.deepEqual(saved.map((x) => x.func), [10, 20]);
  h.startRewind(saved);
  assert.equal(f.load_frame(10), 1);
  assert.equal(f.load_f64(), 1.5);
  assert.equal(f.load_frame(20), 2);
  assert.equal(f.load_i32(), -1);
  assert.throws(() => f.load_f32(), FramesError); // wrong type
  assert.equal(f.load_i64(), 5n);
  h.rewindDone();

  h.startRewind(saved);
  assert.throws(() => f.load_frame(11), FramesError); // wrong function
  h.startRewind(saved);
  f.load_frame(10);
  assert.throws(() => f.load_frame(20), FramesError); // values left in the frame before
  h.startRewind(saved);
  f.load_frame(10);
  f.load_f64();
  assert.throws(() => h.rewindDone(), FramesError); // frames left
  h.startRewind([]);
  assert.throws(() => f.load_frame(10), FramesError); // past the last frame
  assert.throws(() => f.load_i32(), FramesError); // no frame open
});

// A guest's floats keep every bit on their way to the host and back:
// signalling NaNs and NaN payloads, in saved values and in globals (V8 quiets
// an f32 sNaN turned into a double, and reads a float Global's value as the
// canonical NaN). Found by the differential fuzzer (internal/enginediff).
test('NaN bits survive the frame imports and globals', () => {
  const leb = (n) => { const o = []; do { let c = n & 0x7f; n >>>= 7; if (n) c |= 0x80; o.push(c); } while (n); return o; };
  const sec = (id, b) => [id, ...leb(b.length), ...b];
  const vec = (xs) => [...leb(xs.length), ...xs.flat()];
  const str = (s) => [...leb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
  const body = (b) => [...leb(b.length + 2), 0, ...b, 0x0b];
  const sleb = (n) => { const o = []; for (;;) { const c = Number(n & 0x7fn); n >>= 7n; if ((n === 0n && !(c & 0x40)) || (n === -1n && (c & 0x40))) { o.push(c); return o; } o.push(c | 0x80); } };
  const f32nan = 0x7f800001, f64nan = 0xfff0000000abcdefn;
  const le = (v, n) => Array.from({ length: n }, (_, i) => Number((BigInt(v) >> BigInt(8 * i)) & 0xffn));
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...sec(1, vec([[0x60, 1, F32, 0], [0x60, 1, F64, 0], [0x60, 0, 1, F32], [0x60, 0, 1, F64], [0x60, 0, 0], [0x60, 0, 1, I32], [0x60, 0, 1, I64]])),
    ...sec(2, vec([[...str('crowdrun'), ...str('save_f32'), 0, 0], [...str('crowdrun'), ...str('save_f64'), 0, 1],
      [...str('crowdrun'), ...str('load_f32'), 0, 2], [...str('crowdrun'), ...str('load_f64'), 0, 3]])),
    ...sec(3, vec([[4], [5], [6]])),
    ...sec(6, vec([[F32, 1, 0x43, ...le(f32nan, 4), 0x0b], [F64, 0, 0x44, ...le(f64nan, 8), 0x0b]])),
    ...sec(7, vec([[...str('save'), 0, 4], [...str('l32'), 0, 5], [...str('l64'), 0, 6], [...str('g32'), 3, 0], [...str('g64'), 3, 1]])),
    ...sec(10, vec([
      body([0x41, ...sleb(BigInt(f32nan | 0)), 0xbe, 0x10, 0, 0x42, ...sleb(BigInt.asIntN(64, f64nan)), 0xbf, 0x10, 1]),
      body([0x10, 2, 0xbc]),
      body([0x10, 3, 0xbd]),
    ])),
  ]);
  const h = new FrameHost();
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { crowdrun: h.imports() }).exports;
  ex.save();
  h.imports().save_frame(1, 0);
  const frames = h.frames();
  assert.deepEqual(frames[0].values, [{ type: F32, bits: BigInt(f32nan) }, { type: F64, bits: f64nan }]);
  h.startRewind(unmarshalFrames(marshalFrames(frames)));
  // load_frame, then the loads, through a fresh instance of the same imports
  const ex2 = new WebAssembly.Instance(new WebAssembly.Module(bytes), { crowdrun: h.imports() }).exports;
  assert.equal(h.imports().load_frame(1), 0);
  assert.equal(ex2.l32() >>> 0, f32nan);
  assert.equal(BigInt.asUintN(64, ex2.l64()), f64nan);
  // Globals, read and written by their bits.
  assert.equal(globalBits(ex.g32, F32, true).get(), BigInt(f32nan));
  assert.equal(globalBits(ex.g64, F64, false).get(), f64nan);
  globalBits(ex.g32, F32, true).set(0xffc12345n);
  assert.equal(globalBits(ex.g32, F32, true).get(), 0xffc12345n);
});
