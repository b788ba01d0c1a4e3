// node --test js/snapshot.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encode, encodeDelta, decode, applyDelta, hash, Tracker, crc32c, sha256, hex, readHeader,
  SnapshotError, PAGE_SIZE, ZERO_PAGE_HASH, I32, I64, F32, F64, V128,
} from './snapshot.js';

const enc = new TextEncoder();

// The test vector of docs/snapshot.md (Go: vectorSnapshot in
// internal/snapshot/vector_test.go).
async function vectorSnapshot() {
  const p1 = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i++) p1[i] = i % 251;
  return {
    moduleHash: await sha256(enc.encode('module')),
    fuel: 12345n,
    pages: [null, p1, null],
    globals: [
      { type: I32, lo: 7n, hi: 0n },
      { type: I64, lo: 0xFFFFFFFFFFFFFFFFn, hi: 0n },
      { type: F32, lo: 0x7FC00000n, hi: 0n },
      { type: F64, lo: 0x3FF0000000000000n, hi: 0n },
      { type: V128, lo: 1n, hi: 2n },
    ],
    frames: enc.encode('frames'),
    host: enc.encode('host'),
  };
}

test('crc32c check value', () => {
  assert.equal(crc32c(enc.encode('123456789')), 0xE3069283);
  // slicing by 8 and byte at a time agree, and the crc continues
  const b = new Uint8Array(1000).map((_, i) => (i * 31) & 0xff);
  assert.equal(crc32c(b.subarray(300), crc32c(b.subarray(0, 300))), crc32c(b));
});

test('the vector of docs/snapshot.md, byte for byte', async () => {
  const s = await vectorSnapshot();
  const d = await hash(s);
  assert.equal(hex(d.pages[1]), '4b640d85ab3ba30fd02c9fc9db4a8928f416322ad27022ea58a65aaee68a4df2');
  assert.equal(hex(await sha256(new Uint8Array(PAGE_SIZE))), hex(ZERO_PAGE_HASH));
  assert.equal(hex(ZERO_PAGE_HASH), 'de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31');
  assert.equal(hex(d.state), 'b78b6900088903bc4fcdc48de00e4f3b364f8d5fbbfa9c1845e5e0af6f4dae63');
  const file = await encode(s, d);
  assert.equal(file.length, 65750);
  assert.equal(hex(await sha256(file)), 'bfb9153e520caec96eadb1cfc2265042e4685456a2a57c68ece29e5ae656660f');
  const cur = { ...s, fuel: 20000n, pages: [null, s.pages[1], new Uint8Array(PAGE_SIZE).fill(0xAB), null] };
  const delta = await encodeDelta(d, cur);
  const cd = await hash(cur);
  assert.equal(hex(cd.state), 'a0b9f170c42b2190edac728e8be40cbd64cd6a33f468b37c4dd87b7f60ee7d9d');
  assert.equal(delta.length, 65750);
  assert.equal(hex(await sha256(delta)), '87aef9307366342ca5f71cb0f43e22bb438837543f70de8b6df389a476567bd8');

  const { snapshot: back, digest } = await decode(file);
  assert.equal(hex(digest.state), hex(d.state));
  assert.deepEqual(back.globals, s.globals);
  const { snapshot: next, digest: nd } = await applyDelta(back, digest, delta);
  assert.equal(hex(nd.state), hex(cd.state));
  assert.equal(next.pages[1], back.pages[1], 'unchanged pages are shared with the base');
  assert.equal(next.fuel, 20000n);
});

test('compressed files decode to the same state', async () => {
  const s = await vectorSnapshot();
  s.frames = new Uint8Array(5000).fill(3);
  const d = await hash(s);
  const c = await encode(s, d, { compress: true });
  assert.ok(c.length < 5000, `compressed to ${c.length}`);
  const { digest } = await decode(c);
  assert.equal(hex(digest.state), hex(d.state));
});

test('Tracker re-hashes only what changed and agrees with hash', async () => {
  const mem = new Uint8Array(8 * PAGE_SIZE);
  const s = { moduleHash: new Uint8Array(32), fuel: 1n, globals: [], frames: new Uint8Array(0), host: new Uint8Array(0) };
  const pagesOf = () => Array.from({ length: mem.length / PAGE_SIZE }, (_, i) => mem.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
  const t = new Tracker();
  for (let round = 0; round < 5; round++) {
    mem[round * 70000 + 5] ^= 0x5a;
    if (round === 3) mem.fill(0, 0, PAGE_SIZE);
    s.pages = pagesOf();
    s.fuel = BigInt(round);
    const a = await t.hash(s), b = await hash(s);
    assert.equal(hex(a.state), hex(b.state), `round ${round}`);
    assert.deepEqual(a.pages.map(hex), b.pages.map(hex));
  }
});

async function rejects(p, kinds) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${e && e.stack}`);
    if (kinds) assert.ok(kinds.includes(e.kind), `kind ${e.kind}, want ${kinds}: ${e.message}`);
    return e;
  }
  assert.fail('accepted');
}

test('hostile files: a clear SnapshotError, nothing else', async () => {
  const s = await vectorSnapshot();
  const d = await hash(s);
  const raw = await encode(s, d);
  const comp = await encode({ ...s, frames: new Uint8Array(3000).fill(9) }, null, { compress: true });
  const cur = { ...s, pages: [null, null, new Uint8Array(PAGE_SIZE).fill(1)] };
  const delta = await encodeDelta(d, cur, null, { compress: true });

  await rejects(decode(raw.subarray(0, 100)), ['format']);
  await rejects(decode(delta), ['kind']);
  await rejects(applyDelta(s, d, raw), ['kind']);
  await rejects(applyDelta(cur, null, delta), ['base']);
  await rejects(decode(raw, { maxPages: 2 }), ['limit']);
  await rejects(decode(raw, { maxFrames: 2 }), ['limit']);
  await rejects(decode(raw, { maxPages: 2n, maxFrames: undefined }), ['limit']);
  await decode(raw, { maxPages: undefined, maxFrames: null }); // the defaults, not zero
  const bump = (b, off, v) => { const c = b.slice(); c[off] = v; return c; };
  await rejects(decode(bump(raw, 8, 2)), ['version']);
  await rejects(decode(bump(raw, 11, 1)), ['format']);
  await rejects(decode(bump(raw, raw.length - 1, raw[raw.length - 1] ^ 1)), ['checksum']);
  await rejects(decode(new Uint8Array([...raw, 0])), ['format']);
  // A wrong state hash with a right CRC.
  const forged = bump(raw, 64, raw[64] ^ 1);
  const dv = new DataView(forged.buffer);
  dv.setUint32(forged.length - 4, crc32c(forged.subarray(0, forged.length - 4)), true);
  await rejects(decode(forged), ['state_hash']);

  // Random damage: truncation, flipped bytes, spliced lengths.
  let seed = 1;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (const file of [raw, comp, delta]) {
    for (let k = 0; k < 150; k++) {
      let b = file.slice();
      switch (k % 3) {
        case 0: b = b.subarray(0, rnd(b.length)); break;
        case 1: for (let j = 0; j <= rnd(4); j++) b[rnd(b.length)] = rnd(256); break;
        case 2: { const off = 128 + rnd(Math.min(400, b.length - 132)); new DataView(b.buffer).setUint32(off, rnd(2) ? 0xFFFFFFFF : rnd(1 << 20), true); }
      }
      // Recompute the CRC half of the time, so damage reaches the parser.
      if (k % 2 && b.length >= 132) new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32c(b.subarray(0, b.length - 4)), true);
      try {
        if (file === delta) await applyDelta(s, d, b);
        else await decode(b);
      } catch (e) {
        assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${e && e.stack}`);
      }
    }
  }
});

test('deflate streams: trailing bytes, cut streams and long streams are refused', async () => {
  const s = await vectorSnapshot();
  s.frames = new Uint8Array(5000).fill(3);
  const good = await encode(s, null, { compress: true });
  const at = 128 + 45; // the frames blob, after the vector's globals
  assert.equal(good[at], 1, 'frames are deflated');
  const dv = new DataView(good.buffer);
  const stored = dv.getUint32(at + 5, true);
  const edit = (raw, data) => {
    const b = new Uint8Array(good.length - stored + data.length);
    b.set(good.subarray(0, at + 1));
    const v = new DataView(b.buffer);
    v.setUint32(at + 1, raw, true);
    v.setUint32(at + 5, data.length, true);
    b.set(data, at + 9);
    b.set(good.subarray(at + 9 + stored), at + 9 + data.length);
    v.setUint32(b.length - 4, crc32c(b.subarray(0, b.length - 4)), true);
    return b;
  };
  const data = good.subarray(at + 9, at + 9 + stored);
  await decode(edit(5000, data)); // the edit itself is sound
  await rejects(decode(edit(5000, Uint8Array.from([...data, 0]))), ['format']);
  await rejects(decode(edit(5000, data.subarray(0, data.length - 1))), ['format']);
  await rejects(decode(edit(4999, data)), ['format']);
  await rejects(decode(edit(5001, data)), ['format']);
});

test('readHeader', async () => {
  const s = await vectorSnapshot();
  const h = readHeader(await encode(s));
  assert.equal(h.pages, 3);
  assert.equal(h.fuel, 12345n);
  assert.equal(h.delta, false);
  assert.throws(() => readHeader(new Uint8Array(10)), SnapshotError);
});
