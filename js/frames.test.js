// node --test js/frames.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameHost, FramesError, marshalFrames, unmarshalFrames, valueBits, bitsValue } from './frames.js';

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
