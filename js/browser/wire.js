// The worker protocol's wire format (docs/protocol.md) for JavaScript
// workers: one JSON text frame per message, byte strings in base64, and
// 64-bit integers (fuel, seeds) exact — JSON.parse would round any integer
// above 2^53, so parseMessage reads long integer literals as BigInt.
//
// Plain ES module, no Node-only API: browsers and Node.

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'crowdrun.v1';
/** Any frame, either way (protocol.MaxMessage). */
export const MAX_MESSAGE = 16 << 20;
export const MAX_SLOTS = 256;
/** A checkpoint's snapshot plus output, raw (protocol.MaxCheckpoint). */
export const MAX_CHECKPOINT = 11 << 20;
/** The feature a worker declares in hello when it honours checkpoint_every and resume. */
export const FEATURE_CHECKPOINT = 'checkpoint';
/** A result's message, as the native worker clips it (bytes ≤ 4000). */
export const MAX_RESULT_MESSAGE = 1000;

/** The longest site name (protocol.MaxSite): a DNS name's text form. */
export const MAX_SITE = 253;

/**
 * The site a worker's work is credited to, as hello carries it: a DNS host
 * name — labels of 1 to 63 ASCII letters, digits and hyphens, neither
 * starting nor ending with a hyphen, joined by dots, at most 253 bytes, no
 * trailing dot — lower-cased (ASCII only). The same rule as the
 * coordinator's protocol.ParseSite (internal/protocol/testdata/sites.json
 * holds both to it). Returns the name, or throws an Error saying what is
 * wrong.
 */
export function siteName(s) {
  if (typeof s !== 'string' || s === '') throw new Error('a site must be a non-empty host name');
  if (s.length > MAX_SITE) throw new Error(`site is ${s.length} characters, longer than a host name's ${MAX_SITE}`);
  // Checked before lower-casing: toLowerCase maps some non-ASCII letters
  // (the Kelvin sign) to ASCII ones.
  if (!/^[A-Za-z0-9.-]+$/.test(s)) throw new Error(`site ${JSON.stringify(s)} is not a host name: only letters, digits, hyphens and dots are allowed`);
  for (const label of s.split('.')) {
    if (label === '') throw new Error(`site ${JSON.stringify(s)} is not a host name: an empty label`);
    if (label.length > 63) throw new Error(`site ${JSON.stringify(s)} is not a host name: a label longer than 63 bytes`);
    if (label.startsWith('-') || label.endsWith('-')) throw new Error(`site ${JSON.stringify(s)} is not a host name: a label starts or ends with a hyphen`);
  }
  return s.toLowerCase();
}

/** A message the coordinator sent that this worker cannot read. */
export class WireError extends Error {
  constructor(message) { super(message); this.name = 'WireError'; }
}

const BIG = /^-?\d{16,}$/;

/**
 * Parses one frame. Integer literals of 16 digits or more become BigInt, so
 * a seed or a fuel budget above 2^53 survives; everything else is
 * JSON.parse's. Throws WireError on anything that is not a message object
 * with a type and a positive id.
 */
export function parseMessage(text) {
  if (typeof text !== 'string') throw new WireError('not a text frame');
  if (text.length > MAX_MESSAGE) throw new WireError(`message of ${text.length} bytes exceeds the limit of ${MAX_MESSAGE}`);
  let m;
  try {
    m = JSON.parse(quoteBigIntegers(text), (k, v) => (typeof v === 'string' && v.startsWith(BIG_MARK) ? BigInt(v.slice(BIG_MARK.length)) : v));
  } catch (e) {
    throw new WireError('not JSON: ' + e.message);
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new WireError('not a message object');
  if (typeof m.type !== 'string' || m.type === '') throw new WireError('message has no "type"');
  if (!(typeof m.id === 'number' && Number.isInteger(m.id) && m.id > 0) && !(typeof m.id === 'bigint' && m.id > 0n)) {
    throw new WireError(`${m.type}: "id" must be a positive integer`);
  }
  return m;
}

// The prefix of the strings quoteBigIntegers makes. The nonce keeps a
// string the coordinator relays (a submitter's argument, say) from passing
// for one.
const NONCE = Math.random().toString(36).slice(2, 10);
const BIG_MARK = `\u0001big${NONCE}:`;
const BIG_MARK_JSON = `\\u0001big${NONCE}:`;

// quoteBigIntegers turns every integer literal of 16+ digits outside strings
// into a string carrying BIG_MARK, for the reviver to make a BigInt of.
function quoteBigIntegers(s) {
  let out = '', last = 0, inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inStr) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inStr = false;
      continue;
    }
    if (c === 0x22) { inStr = true; continue; }
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      // A whole number token: digits, sign, point, exponent.
      let j = i + 1;
      while (j < s.length && /[0-9eE.+-]/.test(s[j])) j++;
      const lit = s.slice(i, j);
      if (BIG.test(lit)) {
        out += s.slice(last, i) + '"' + BIG_MARK_JSON + lit + '"';
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

/** A 64-bit unsigned field of a message: number, BigInt or absent. */
export function u64(v, what) {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new WireError(`${what} is not a 64-bit unsigned integer`);
}

/**
 * Encodes one message. BigInt fields (fuel) are written as exact JSON
 * integers, as Go's encoding/json writes a uint64.
 */
export function encodeMessage(m) {
  const marks = [];
  const text = JSON.stringify(m, (k, v) => {
    if (typeof v !== 'bigint') return v;
    marks.push(v.toString());
    return BIG_MARK + (marks.length - 1);
  });
  if (marks.length === 0) return text;
  return text.replace(new RegExp(`"\\\\u0001big${NONCE}:(\\d+)"`, 'g'), (_, i) => marks[Number(i)]);
}

// ---- base64 without Node's Buffer or atob's string limits ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64REV = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/** Standard padded base64 of bytes. */
export function toBase64(b) {
  let out = '';
  const chunk = [];
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    chunk.push(B64[n >> 18], B64[(n >> 12) & 63], B64[(n >> 6) & 63], B64[n & 63]);
    if (chunk.length >= 8192) { out += chunk.join(''); chunk.length = 0; }
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    chunk.push(B64[n >> 18], B64[(n >> 12) & 63], i + 1 < b.length ? B64[(n >> 6) & 63] : '=', '=');
  }
  return out + chunk.join('');
}

/** Decodes standard base64 (as Go's encoding/json writes []byte); null or absent is empty. */
export function fromBase64(s, what = 'base64 field') {
  if (s === null || s === undefined) return new Uint8Array(0);
  if (typeof s !== 'string' || s.length % 4 !== 0) throw new WireError(`${what} is not base64`);
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const c = s.charCodeAt(i + k);
      let v;
      if (c === 0x3d && i + k >= s.length - pad) v = 0;
      else if (c >= 128 || (v = B64REV[c]) < 0) throw new WireError(`${what} is not base64`);
      n = (n << 6) | v;
    }
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

// ---- SHA-256, for pages that are not a secure context (no crypto.subtle) ----

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of bytes, in plain JavaScript. */
export function sha256(data) {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const len = data.length;
  const padded = new Uint8Array(Math.ceil((len + 9) / 64) * 64);
  padded.set(data);
  padded[len] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(len / 2 ** 29));
  dv.setUint32(padded.length - 4, (len * 8) >>> 0);
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  return [...h].map((x) => x.toString(16).padStart(8, '0')).join('');
}

/** SHA-256 hex of bytes: crypto.subtle where the context allows it, else sha256. */
export async function sha256Hex(data) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle) {
    const d = new Uint8Array(await subtle.digest('SHA-256', data));
    return [...d].map((x) => x.toString(16).padStart(2, '0')).join('');
  }
  return sha256(data);
}
