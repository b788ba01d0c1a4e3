// The rewrite of js/rewrite.js on every example module: the decoder knows
// every instruction they use, and the result is valid and still runs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, run } from './runtime.js';
import { rewrite } from './rewrite.js';
import { prepareModule } from './node/preparer.mjs';

const examples = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples');

function wasmFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return wasmFiles(p);
    return e.name.endsWith('.wasm') ? [p] : [];
  });
}

test('every example rewrites to a valid module, memory.grow found', () => {
  const files = wasmFiles(examples);
  let checked = 0;
  for (const f of files) {
    const bytes = new Uint8Array(fs.readFileSync(f));
    if (!WebAssembly.validate(bytes)) continue; // corrupt.wasm and the like
    const info = inspect(bytes);
    if (info.memories.length === 0) continue;
    const r = rewrite(bytes, info, { capPages: 40, detectGrow: true, exportMemory: true });
    assert.ok(WebAssembly.validate(r.bytes), `${f}: the rewrite is not valid`);
    const after = inspect(r.bytes);
    assert.equal(after.memories[0].max, 40, f);
    assert.ok(after.exports.some((e) => e.name === r.memoryExport && e.kind === 2), f);
    // programs that allocate (malloc, Go's runtime) grow memory
    if (/membomb|gokernel/.test(path.basename(f))) assert.ok(r.hitExport, `${f}: no memory.grow found`);
    checked++;
  }
  assert.ok(checked >= 10 || files.length === 0, `only ${checked} examples checked`);
});

test('a grow past the cap sets the flag, a grow past the module maximum does not', async () => {
  // (module (memory 1 8) (func (export "_start")
  //   (drop (memory.grow (i32.const N)))))  with N patched in
  const mod = (n) => Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 1, 1, 8,
    7, 10, 1, 6, 95, 115, 116, 97, 114, 116, 0, 0, 10, 9, 1, 7, 0, 65, n, 64, 0, 26, 11]);
  for (const [n, memory, hit] of [[2, 2 << 16, true], [1, 2 << 16, false], [9, 2 << 16, false], [3, 8 << 16, false]]) {
    const bytes = mod(n);
    const info = inspect(bytes);
    const capPages = memory >> 16;
    const r = rewrite(bytes, info, { capPages: capPages < 8 ? capPages : null, detectGrow: true, exportMemory: true });
    const { instance } = await WebAssembly.instantiate(r.bytes);
    instance.exports._start();
    assert.equal(r.hitExport ? instance.exports[r.hitExport].value : 0, hit ? 1 : 0, `grow ${n} with ${capPages} pages`);
  }
  // and through run(), instrumented as run.mjs does: the failed grow alone
  // does not end the run
  const rep = await run(await prepareModule(mod(5), { memoryCapPages: 2 }), {}, { memoryBytes: 2 << 16 });
  assert.equal(rep.status, 'ok');
});
