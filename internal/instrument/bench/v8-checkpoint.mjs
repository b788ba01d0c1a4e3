#!/usr/bin/env node
// Checkpoints of a real 64 MiB guest in V8 (the JS host), as
// internal/sandbox's BenchmarkCheckpointGuest64MiB measures them in wazero:
// examples/bigstate fills 64 MiB, then writes 16 pages a round; at every
// checkpoint (about one round) the worker's side — unwind, capture, hash
// (Tracker: compare with a shadow copy, re-hash changed pages), encode a delta
// against the previous checkpoint — is timed (ckpt-ms, goal ≤ 100), with the
// bytes shipped and pages changed; then the coordinator's side, applying each
// delta (apply-ms); then a full re-hash and a full decode of 64 MiB, and the
// restore of the last checkpoint in a fresh instance up to the end of the run
// (restore-ms: decode not included; instantiate, grow, copy 64 MiB, rewind,
// the last round).
//
//   node internal/instrument/bench/v8-checkpoint.mjs
//
// Run from the repository root; needs `go` to build the suspendable module.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { compile, run } from '../../../js/runtime.js';
import { encode, encodeDelta, decode, applyDelta, hash, changedPages } from '../../../js/snapshot.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crowdrun-v8ckpt-'));
const bin = path.join(tmp, 'crowdrun');
execFileSync('go', ['build', '-o', bin, './cmd/crowdrun']);
const mod = path.join(tmp, 'bigstate.wasm');
execFileSync(bin, ['instrument', '-q', '--suspendable', 'examples/bigstate.wasm', '-o', mod]);
const guest = await compile(fs.readFileSync(mod));
const args = ['bigstate', '64', '100', '16'];
const every = 466_000n; // about one round
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

// The CPU time of checkpointing, robust to a loaded machine: a run's CPU
// time with checkpoints (the coordinator's side excluded) minus without.
const c0 = cpuMs();
const plain = await run(guest, { args, stdout: () => {}, stderr: () => {} }, {});
const plainCpu = cpuMs() - c0;
if (plain.status !== 'ok') throw new Error(plain.message);

for (const compress of [false, true]) {
  let n = 0, shipped = 0, pages = 0, ckpt = 0, apply = 0, prev = null, coord = null, last = null, applyCpu = 0;
  const cStart = cpuMs();
  const rep = await run(guest, {
    args, stdout: () => {}, stderr: () => {},
    onCheckpoint: async (cp) => {
      const t0 = performance.now();
      const b = prev ? await cp.encode({ base: prev, compress }) : await cp.encode({ compress });
      const took = cp.captureMs + performance.now() - t0;
      const measured = prev && cp.fuel > 45_000_000n; // after the heap is filled
      if (measured) {
        n++;
        ckpt += took;
        shipped += b.length;
        pages += changedPages(prev, cp.digest).length;
      }
      prev = cp.digest;
      const t1 = performance.now(), u1 = cpuMs();
      coord = coord ? await applyDelta(coord.snapshot, coord.digest, b) : await decode(b);
      if (measured) apply += performance.now() - t1;
      applyCpu += cpuMs() - u1;
      last = b;
    },
  }, { checkpointEvery: every });
  const ckptCpu = (cpuMs() - cStart - applyCpu - plainCpu) / rep.checkpoints;
  if (rep.status !== 'ok' || n < 50) throw new Error(`${JSON.stringify(rep, (_, v) => (typeof v === 'bigint' ? String(v) : v))}, ${n} checkpoints measured`);
  const t2 = performance.now();
  const full = await encode(coord.snapshot, coord.digest, { compress });
  const encodeFull = performance.now() - t2;
  const t3 = performance.now();
  await hash(coord.snapshot);
  const rehash = performance.now() - t3;
  const t4 = performance.now();
  const dec = await decode(full);
  const decodeFull = performance.now() - t4;
  const t5 = performance.now();
  const res = await run(guest, { args, stdout: () => {}, stderr: () => {}, resume: dec.snapshot }, {});
  const restore = performance.now() - t5;
  if (res.status !== 'ok' || res.fuel !== rep.fuel) throw new Error(`resume: ${res.status} ${res.message}, fuel ${res.fuel}, want ${rep.fuel}`);
  console.log(`${compress ? 'deflate' : 'raw    '}  ckpt-ms ${(ckpt / n).toFixed(1)} (cpu ${ckptCpu.toFixed(1)})  bytes/ckpt ${Math.round(shipped / n)}  pages/ckpt ${(pages / n).toFixed(1)}  apply-ms ${(apply / n).toFixed(1)}` +
    `  | full re-hash ${rehash.toFixed(0)} ms, full encode ${encodeFull.toFixed(0)} ms (${full.length} B), full decode ${decodeFull.toFixed(0)} ms, restore ${restore.toFixed(0)} ms  (${n} checkpoints, ${rep.checkpoints} taken)`);
}
fs.rmSync(tmp, { recursive: true, force: true });
