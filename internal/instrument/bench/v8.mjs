#!/usr/bin/env node
// Overhead of instrumentation in V8: every kernel of examples/kernels as the
// original module, instrumented (crowdrun instrument, default options) and
// instrumented and suspendable (crowdrun instrument --suspendable: fuel,
// stack limit and suspension all on, never suspending), run in turn through
// the JS host (js/runtime.js), RUNS times each; the minimum time of each,
// their ratios and the geomeans, all measured side by side in one run. Times
// are the process's CPU time (wasm runs on this thread; V8's background
// compilation and GC count too), which a shared, loaded machine disturbs far
// less than wall time; the wall-time geomeans follow.
//
//   node internal/instrument/bench/v8.mjs [RUNS]      (KERNELS=fib,sort to pick)
//
// Run from the repository root; needs `go` to build the instrumented modules.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { compile, run } from '../../../js/runtime.js';

// Problem sizes, as in internal/suspend BenchmarkOverhead (instrument's benchSizes,
// with fib at 35: at 32 it runs for 20 ms, too short to measure here).
const sizes = {
  fib: 35, floats: 2000000, hash: 16, matmul: 300, memops: 16, 'memops-bulk': 16,
  nbody: 500000, simd: 2000000, sort: 250000, stencil: 512, strings: 600000, gokernel: 30000,
};
const runs = Number(process.argv[2] || 3);
const dir = 'examples/kernels';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crowdrun-v8bench-'));
const bin = path.join(tmp, 'crowdrun');
execFileSync('go', ['build', '-o', bin, './cmd/crowdrun']);

const variants = ['original', 'instrumented', 'suspendable'];
const rows = [];
console.log(`CPU time, min of ${runs}`);
console.log(`${'kernel'.padEnd(12)} ${'original'.padStart(11)} ${'instrum.'.padStart(11)} ${'suspend.'.padStart(11)} ${'i/o'.padStart(7)} ${'s/o'.padStart(7)} ${'s/i'.padStart(7)} ${'fuel'.padStart(14)}`);
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.wasm')).sort()) {
  const name = f.replace(/\.wasm$/, '');
  if (!(name in sizes)) continue;
  if (process.env.KERNELS && !process.env.KERNELS.split(',').includes(name)) continue;
  const instPath = path.join(tmp, f), suspPath = path.join(tmp, 's-' + f);
  execFileSync(bin, ['instrument', '-q', path.join(dir, f), '-o', instPath]);
  execFileSync(bin, ['instrument', '-q', '--suspendable', path.join(dir, f), '-o', suspPath]);
  const guests = [
    await compile(fs.readFileSync(path.join(dir, f))),
    await compile(fs.readFileSync(instPath)),
    await compile(fs.readFileSync(suspPath)),
  ];
  if (!guests[2].suspendable) throw new Error(`${name}: --suspendable gave a module that is not suspendable`);
  const input = () => {
    const chunks = [];
    return { args: [name, String(sizes[name])], stdout: (b) => chunks.push(Buffer.from(b)), out: chunks };
  };
  const best = [Infinity, Infinity, Infinity], wall = [Infinity, Infinity, Infinity], outs = ['', '', ''], fuels = [0n, 0n, 0n];
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < 3; k++) {
      const v = (i + k) % 3; // rotate the order between rounds
      const inp = input();
      const t0 = performance.now(), c0 = process.cpuUsage();
      const rep = await run(guests[v], inp);
      const c = process.cpuUsage(c0), dt = performance.now() - t0;
      if (rep.status !== 'ok') throw new Error(`${name} (${variants[v]}): ${rep.status} ${rep.message}`);
      best[v] = Math.min(best[v], (c.user + c.system) / 1000);
      wall[v] = Math.min(wall[v], dt);
      outs[v] = Buffer.concat(inp.out).toString();
      fuels[v] = rep.fuel;
    }
  }
  if (fuels[1] !== fuels[2]) throw new Error(`${name}: fuel ${fuels[1]} instrumented, ${fuels[2]} suspendable`);
  const same = outs[0] === outs[1] && outs[1] === outs[2] ? '' : '  (output differs: NaN payloads?)';
  const [o, i, s] = best;
  rows.push({ name, o, i, s, wo: wall[0], wi: wall[1], ws: wall[2] });
  console.log(`${name.padEnd(12)} ${o.toFixed(1).padStart(8)} ms ${i.toFixed(1).padStart(8)} ms ${s.toFixed(1).padStart(8)} ms ${(i / o).toFixed(3).padStart(7)} ${(s / o).toFixed(3).padStart(7)} ${(s / i).toFixed(3).padStart(7)} ${String(fuels[1]).padStart(14)}${same}`);
}
const geo = (f) => Math.exp(rows.reduce((a, r) => a + Math.log(f(r)), 0) / rows.length);
console.log(`${'geomean'.padEnd(12)} ${''.padStart(11)} ${''.padStart(11)} ${''.padStart(11)} ${geo((r) => r.i / r.o).toFixed(3).padStart(7)} ${geo((r) => r.s / r.o).toFixed(3).padStart(7)} ${geo((r) => r.s / r.i).toFixed(3).padStart(7)}`);
console.log(`${'(wall time)'.padEnd(12)} ${''.padStart(11)} ${''.padStart(11)} ${''.padStart(11)} ${geo((r) => r.wi / r.wo).toFixed(3).padStart(7)} ${geo((r) => r.ws / r.wo).toFixed(3).padStart(7)} ${geo((r) => r.ws / r.wi).toFixed(3).padStart(7)}`);
fs.rmSync(tmp, { recursive: true, force: true });
