// The JavaScript side of protocol's TestJSDifferential: parses each frame
// Go judged with js/browser/wire.js and reports every disagreement.
// Usage: node jsdiff.mjs VECTORS.json (written by the Go test).
import { readFileSync } from 'node:fs';
import { parseMessage, fromBase64 } from '../../../js/browser/wire.js';

// Fields Go carries as []byte: base64 in JSON.
const BYTES = new Set(['stdin', 'stdout', 'stderr', 'snapshot', 'data']);

const isZero = (v) => v === undefined || v === null || v === 0 || v === 0n || v === '' || v === false ||
  (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

// same compares the value JS read from the original frame (a) with the
// one it read from Go's re-encoding (b), over b's fields; it returns a
// description of the first difference, or ''.
function same(a, b, path) {
  if (typeof b === 'number' || typeof b === 'bigint') {
    if (typeof a !== 'number' && typeof a !== 'bigint') return `${path}: ${String(a)} is not a number`;
    if (typeof b === 'number' && !Number.isInteger(b)) return a === b ? '' : `${path}: ${a} ≠ ${b}`;
    return BigInt(a) === BigInt(b) ? '' : `${path}: ${a} ≠ ${b}`;
  }
  if (b === null || typeof b !== 'object') {
    if (path.endsWith('.site') && typeof a === 'string' && a.toLowerCase() === b) return ''; // Go lower-cases it
    return a === b ? '' : `${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
  }
  if (Array.isArray(b)) {
    if (!Array.isArray(a) || a.length !== b.length) return `${path}: ${JSON.stringify(a)} is not an array of ${b.length}`;
    for (let i = 0; i < b.length; i++) {
      const d = same(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return '';
  }
  if (a === null || typeof a !== 'object' || Array.isArray(a)) return `${path}: ${JSON.stringify(a)} is not an object`;
  for (const k of Object.keys(b)) {
    let d;
    if (!(k in a)) {
      // Go reads JSON keys case-insensitively; JS does not.
      d = isZero(b[k]) ? '' : `${path}.${k}: missing`;
    } else if (BYTES.has(k) && (typeof b[k] === 'string' || b[k] === null)) {
      let x;
      try { x = fromBase64(a[k], k); } catch (e) { return `${path}.${k}: ${e.message}`; }
      const y = fromBase64(b[k], k);
      d = x.length === y.length && x.every((c, i) => c === y[i]) ? '' : `${path}.${k}: other bytes`;
    } else {
      d = same(a[k], b[k], `${path}.${k}`);
    }
    if (d) return d;
  }
  return '';
}

// keysDeep lists every object key of a parsed JSON value, at any depth.
function keysDeep(v, out = new Set()) {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) { if (!Array.isArray(v)) out.add(k); keysDeep(x, out); }
  }
  return out;
}

// caseOnly reports whether the frame has a key that Go, which matches keys
// case-insensitively, reads as one of its fields and JS does not: a known
// difference (docs/fuzzing.md), counted but not failed.
function caseOnly(text, canonical) {
  let orig;
  try { orig = JSON.parse(text); } catch { return false; }
  const canon = keysDeep(JSON.parse(canonical));
  return [...keysDeep(orig)].some((k) => !canon.has(k) && canon.has(k.toLowerCase()));
}

let caseKeys = 0;
const vectors = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let bad = 0, jsOnly = 0, both = 0;
const report = (i, msg) => { bad++; if (bad <= 20) console.log(`frame ${i}: ${msg}`); };
for (const [i, v] of vectors.entries()) {
  let m, err;
  try { m = parseMessage(v.text); } catch (e) { err = e; }
  if (!v.object && !err) { report(i, `not a JSON object, yet JS accepts it: ${v.text.slice(0, 200)}`); continue; }
  if (!v.ok) { if (!err) jsOnly++; continue; }
  if (caseOnly(v.text, v.canonical)) { caseKeys++; continue; }
  if (err) { report(i, `Go accepts, JS refuses (${err.message}): ${v.text.slice(0, 200)}`); continue; }
  const d = same(m, parseMessage(v.canonical), 'message');
  if (d) report(i, `${d}\n  frame:     ${v.text.slice(0, 300)}\n  canonical: ${v.canonical.slice(0, 300)}`);
  else both++;
}
console.log(`${vectors.length} frames: ${both} read alike by both, ${jsOnly} accepted by JS only (it checks type and id only), ${caseKeys} with a key Go reads case-insensitively (known), ${bad} disagreements`);
process.exit(bad ? 1 : 0);
