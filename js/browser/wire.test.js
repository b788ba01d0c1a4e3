import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseMessage, encodeMessage, toBase64, fromBase64, sha256, u64, WireError, siteName } from './wire.js';

test('parseMessage keeps 64-bit integers exact and leaves strings and floats alone', () => {
  const m = parseMessage('{"type":"leases","id":3,"leases":[{"seed":18446744073709551615,"limits":{"fuel":12345678901234567,' +
    '"x":1.2345678901234567,"y":-1e-20,"z":-12345678901234567},"args":["12345678901234567890","a\\"b 1234567890123456789"]}]}');
  const l = m.leases[0];
  assert.equal(l.seed, 18446744073709551615n);
  assert.equal(l.limits.fuel, 12345678901234567n);
  assert.equal(l.limits.x, 1.2345678901234567);
  assert.equal(l.limits.y, -1e-20);
  assert.equal(l.limits.z, -12345678901234567n);
  assert.deepEqual(l.args, ['12345678901234567890', 'a"b 1234567890123456789']);
  assert.equal(u64(l.seed, 'seed'), 18446744073709551615n);
  assert.equal(u64(7, 'x'), 7n);
  assert.throws(() => u64(l.limits.z, 'z'), WireError);
  assert.throws(() => u64(1.5, 'x'), WireError);
});

test('parseMessage refuses what is not a message', () => {
  for (const bad of ['', 'null', '[]', '{"id":1}', '{"type":"ack"}', '{"type":"ack","id":0}', '{"type":"ack","id":-1}',
    '{"type":"ack","id":1.5}', '{"type":1,"id":1}', '{"type":"ack","id":1', '\u0001big:1']) {
    assert.throws(() => parseMessage(bad), WireError, bad);
  }
  assert.throws(() => parseMessage(new Uint8Array(3)), WireError);
  // A string that looks like our internal marker stays a string.
  assert.equal(parseMessage('{"type":"x","id":1,"s":"\\u0001big:123"}').s, '\u0001big:123');
});

test('encodeMessage writes BigInt exactly', () => {
  assert.equal(encodeMessage({ type: 'result', id: 1, fuel: 18446744073709551615n, s: 'x' }),
    '{"type":"result","id":1,"fuel":18446744073709551615,"s":"x"}');
  assert.equal(encodeMessage({ a: [1n, 2n], b: 'q' }), '{"a":[1,2],"b":"q"}');
});

test('base64 round-trips as Go encodes it, and refuses junk', () => {
  const b = new Uint8Array(300).map((_, i) => (i * 37) & 255);
  for (let n = 0; n <= 300; n += 1) {
    const e = toBase64(b.subarray(0, n));
    assert.equal(e, Buffer.from(b.subarray(0, n)).toString('base64'));
    assert.deepEqual(fromBase64(e), b.subarray(0, n));
  }
  assert.deepEqual(fromBase64(null), new Uint8Array(0));
  for (const bad of ['a', 'ab=c', '!!!!', 'ab\u00e9=', 5]) assert.throws(() => fromBase64(bad), WireError, String(bad));
});

test('sha256 matches node:crypto', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 100000]) {
    const d = new Uint8Array(n).map((_, i) => (i * 7) & 255);
    assert.equal(sha256(d), crypto.createHash('sha256').update(d).digest('hex'), `n=${n}`);
  }
});

test('siteName follows the coordinator\'s rule (internal/protocol/testdata/sites.json)', () => {
  const v = JSON.parse(fs.readFileSync(new URL('../../internal/protocol/testdata/sites.json', import.meta.url), 'utf8'));
  assert.ok(v.valid.length > 0 && v.invalid.length > 0);
  for (const [given, want] of v.valid) assert.equal(siteName(given), want, given);
  for (const bad of v.invalid) assert.throws(() => siteName(bad), Error, JSON.stringify(bad));
});
