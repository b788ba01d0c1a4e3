// The JavaScript side of snapshot's TestJSDifferential: runs js/snapshot.js
// on each input Go's decoder judged and reports every disagreement.
// Usage: node jsdiff.mjs VECTORS.json (written by the Go test).
import { readFileSync } from 'node:fs';
import { decode, applyDelta, hex, hexBytes, SnapshotError } from '../../../js/snapshot.js';

const { limits, base, vectors } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const baseSnap = await decode(hexBytes(base));

let bad = 0;
for (const [i, v] of vectors.entries()) {
  const data = hexBytes(v.data);
  let got;
  try {
    const r = v.delta ? await applyDelta(baseSnap.snapshot, baseSnap.digest, data, limits) : await decode(data, limits);
    got = { kind: '', state: hex(r.digest.state), fuel: r.snapshot.fuel.toString(), pages: r.snapshot.pages.length };
  } catch (e) {
    if (!(e instanceof SnapshotError)) {
      got = { kind: `not a SnapshotError: ${e && e.stack}` };
    } else {
      got = { kind: e.kind, message: e.message };
    }
  }
  const want = v.kind === '' ? { kind: '', state: v.state, fuel: v.fuel, pages: v.pages } : { kind: v.kind };
  const same = got.kind === want.kind && (want.kind !== '' || (got.state === want.state && got.fuel === want.fuel && got.pages === want.pages));
  if (!same) {
    bad++;
    if (bad <= 20) console.log(`vector ${i} (${v.delta ? 'delta' : 'full'}, ${data.length} bytes): Go ${JSON.stringify(want)}, JS ${JSON.stringify(got)}`);
  }
}
console.log(`${vectors.length} vectors, ${bad} disagreements`);
process.exit(bad ? 1 : 0);
