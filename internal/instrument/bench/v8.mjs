#!/usr/bin/env node
// Overhead of instrumentation in V8: every kernel of examples/kernels, the
// original and the instrumented module (crowdrun instrument, default
// options) run alternately through the JS host (js/runtime.js), three times
// each; the minimum wall time of each, their ratio and the geomean.
//
//   node internal/instrument/bench/v8.mjs [RUNS]
//
// Run from the repository root; needs `go` to build the instrumented modules.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { compile, run } from '../../../js/runtime.js';

// Problem sizes, as in bench_test.go (benchSizes).
const sizes = {
  fib: 32, floats: 2000000, hash: 16, matmul: 300, memops: 16, 'memops-bulk': 16,
  nbody: 500000, simd: 2000000, sort: 250000, stencil: 512, strings: 600000, gokernel: 30000,
};
const runs = Number(process.argv[2] || 3);
const dir = 'examples/kernels';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crowdrun-v8bench-'));
const bin = path.join(tmp, 'crowdrun');
execFileSync('go', ['build', '-o', bin, './cmd/crowdrun']);

const rows = [];
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.wasm')).sort()) {
  const name = f.replace(/\.wasm$/, '');
  if (!(name in sizes)) continue;
  if (process.env.KERNELS && !process.env.KERNELS.split(',').includes(name)) continue;
  const instPath = path.join(tmp, f);
  execFileSync(bin, ['instrument', '-q', path.join(dir, f), '-o', instPath]);
  const orig = await compile(fs.readFileSync(path.join(dir, f)));
  const inst = await compile(fs.readFileSync(instPath));
  const input = () => {
    const chunks = [];
    return { args: [name, String(sizes[name])], stdout: (b) => chunks.push(Buffer.from(b)), out: chunks };
  };
  let to = Infinity, ti = Infinity, fuel = 0n, outO = '', outI = '';
  for (let i = 0; i < runs; i++) {
    for (const [g, which] of [[orig, 'o'], [inst, 'i']]) {
      const inp = input();
      const t0 = performance.now();
      const rep = await run(g, inp);
      const dt = performance.now() - t0;
      if (rep.status !== 'ok') throw new Error(`${name} (${which}): ${rep.status} ${rep.message}`);
      if (which === 'o') { to = Math.min(to, dt); outO = Buffer.concat(inp.out).toString(); }
      else { ti = Math.min(ti, dt); outI = Buffer.concat(inp.out).toString(); fuel = rep.fuel; }
    }
  }
  const same = outO === outI ? '' : '  (output differs: NaN payloads?)';
  rows.push({ name, to, ti, fuel });
  console.log(`${name.padEnd(12)} ${to.toFixed(1).padStart(10)} ms ${ti.toFixed(1).padStart(10)} ms ${(ti / to).toFixed(3).padStart(7)} ${String(fuel).padStart(14)}${same}`);
}
const geo = Math.exp(rows.reduce((s, r) => s + Math.log(r.ti / r.to), 0) / rows.length);
console.log(`${'geomean'.padEnd(12)} ${''.padStart(13)} ${''.padStart(13)} ${geo.toFixed(3).padStart(7)}`);
fs.rmSync(tmp, { recursive: true, force: true });
