#!/usr/bin/env node
// The V8 half of crowdrun-bench (cmd/crowdrun-bench): reads the manifest
// the Go command wrote (every kernel's original, instrumented and
// suspendable module, its argv and the number of runs), runs each kernel's
// variants alternately through the JS host (js/runtime.js), rotating their
// order each round, and prints one JSON line per kernel: the process CPU
// time of each run (wasm runs on this thread; V8's background tier-up and
// GC count too), the output and the fuel. js/runtime.js takes instrumented
// modules only, so the original runs bare: instantiated with the same WASI
// host (js/wasi.js) and nothing else; both timings cover instantiation and
// _start. The Go command runs node with --no-liftoff
// --no-wasm-lazy-compilation: every function is compiled by TurboFan before
// the runs, so that no background tier-up of one variant is counted in the
// CPU time of the next; and each variant runs once untimed first. Run from
// the repository root:
//
//   node --no-liftoff --no-wasm-lazy-compilation cmd/crowdrun-bench/v8.mjs MANIFEST.json
import fs from 'node:fs';
import { compile, run } from '../../js/runtime.js';
import { Host, ExitSignal, MODULE_NAME } from '../../js/wasi.js';

const m = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const names = ['original', 'instrumented', 'suspendable', 'instrumented-nonan'];

async function once(guest, args) {
  const chunks = [];
  const stdout = (b) => chunks.push(Buffer.from(b));
  const c0 = process.cpuUsage();
  let fuel = 0n;
  if (guest instanceof WebAssembly.Module) {
    const host = new Host({ args, stdout });
    const inst = await WebAssembly.instantiate(guest, { [MODULE_NAME]: host.imports() });
    host.setMemory(Object.values(inst.exports).find((x) => x instanceof WebAssembly.Memory) ?? null);
    try {
      inst.exports._start();
    } catch (e) {
      if (!(e instanceof ExitSignal) || e.code !== 0) throw e;
    }
  } else {
    const rep = await run(guest, { args, stdout });
    if (rep.status !== 'ok') throw new Error(`${rep.status} ${rep.message}`);
    fuel = rep.fuel;
  }
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, out: Buffer.concat(chunks).toString(), fuel };
}

const cache = new Map(); // file -> compiled (kernels of two sizes share modules)
const compiled = async (file, f) => {
  if (!cache.has(file)) cache.set(file, await f(fs.readFileSync(file)));
  return cache.get(file);
};

for (const k of m.kernels) {
  const r = { name: k.name, times_ms: [[], [], [], []], compile_ms: [0, 0, 0, 0], out: ['', '', '', ''], fuel: [0, 0, 0, 0] };
  try {
    const guests = [];
    guests.push(await compiled(k.files[0], (b) => WebAssembly.compile(b)));
    const nv = m.nan_split && k.files[3] ? 4 : 3;
    for (let v = 1; v < nv; v++) guests.push(await compiled(k.files[v], compile));
    if (!guests[2].suspendable) throw new Error('the suspendable module is not suspendable to js/runtime.js');
    // One untimed run of each first: js/runtime.js compiles the module it
    // runs (its memory-cap variant) on the first run, and its own JS warms up.
    for (let v = 0; v < nv; v++) await once(guests[v], k.args);
    for (let i = 0; i < m.runs; i++) {
      for (let j = 0; j < nv; j++) {
        const v = (i + j) % nv;
        let x;
        try {
          x = await once(guests[v], k.args);
        } catch (e) {
          throw new Error(`${names[v]}: ${e.message}`);
        }
        if (i > 0 && x.out !== r.out[v]) throw new Error(`${names[v]}: output changed between runs`);
        r.times_ms[v].push(x.ms);
        r.out[v] = x.out;
        r.fuel[v] = Number(x.fuel);
      }
    }
    if (r.out[0] !== r.out[1] && k.files[3] && nv === 3) {
      const x = await once(await compiled(k.files[3], compile), k.args);
      r.times_ms[3].push(x.ms);
      r.out[3] = x.out;
      r.fuel[3] = Number(x.fuel);
    }
  } catch (e) {
    r.err = String(e.message || e);
  }
  console.log(JSON.stringify(r));
}
