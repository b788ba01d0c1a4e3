// The rewrite every module a user gives the JavaScript host goes through:
// Go's internal/prepare compiled to wasm (prepare.wasm, built by
// cmd/crowdrun-prepare-wasm/build.sh), run on this host's own WASI
// (wasi.js). It instruments a submitted module exactly as the Go host does
// (fuel, call depth, memory cap, NaN canonicalisation; suspendable if
// asked), or refuses it with the Go host's verdict and message — a module
// that already carries crowdrun's names included (docs/fuel.md).
//
// Plain ES module with no Node-only API: the caller compiles prepare.wasm
// (once) and passes the WebAssembly.Module.

import { Host, ExitSignal } from './wasi.js';

/** Instrumentation options, as internal/instrument.DefaultOptions. */
export const DEFAULT_OPTIONS = Object.freeze({ schedule: 'v3', stackLimit: 1000, memoryCapPages: 0, canonicalizeNaN: true });

/** The submitted module is refused: status and message as internal/sandbox's. */
export class PrepareRefusal extends Error {
  constructor(status, message) { super(message); this.name = 'PrepareRefusal'; this.status = status; }
}

const EXIT_REFUSED = 3;

/**
 * Prepares a submitted module.
 * @param {WebAssembly.Module} preparer  prepare.wasm, compiled
 * @param {Uint8Array} bytes              the module as the user gave it
 * @param {{schedule?: string, stackLimit?: number, memoryCapPages?: number, canonicalizeNaN?: boolean, suspendable?: boolean}} [opts]
 * @returns {Promise<Uint8Array>} the module that runs
 * @throws {PrepareRefusal} if the module is refused
 */
export async function prepare(preparer, bytes, opts = {}) {
  const o = { ...DEFAULT_OPTIONS, ...opts };
  const args = ['crowdrun-prepare-wasm', '-schedule', String(o.schedule), '-stack', String(o.stackLimit),
    '-memory-cap-pages', String(o.memoryCapPages), `-nan=${!!o.canonicalizeNaN}`];
  if (o.suspendable) args.push('-suspendable');
  const out = [], err = [];
  let n = 0;
  const host = new Host({
    args, stdin: bytes, env: opts.env ?? [],
    stdout: (b) => { out.push(b.slice()); n += b.length; },
    stderr: (b) => err.push(b.slice()),
  });
  const instance = await WebAssembly.instantiate(preparer, { wasi_snapshot_preview1: host.imports() });
  host.setMemory(instance.exports.memory);
  let code = 0;
  try {
    instance.exports._start();
  } catch (e) {
    if (!(e instanceof ExitSignal)) throw new Error(`prepare.wasm failed: ${e && e.message}`);
    code = e.code;
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const b of out) { all.set(b, off); off += b.length; }
  if (code === 0) return all;
  const text = (parts) => new TextDecoder().decode(Uint8Array.from(parts.flatMap((b) => [...b])));
  if (code === EXIT_REFUSED) {
    let v = null;
    try { v = JSON.parse(new TextDecoder().decode(all)); } catch { /* below */ }
    if (v && typeof v.status === 'string' && typeof v.message === 'string') throw new PrepareRefusal(v.status, v.message);
  }
  throw new Error(`prepare.wasm exited with status ${code}: ${text(err).trim()}`);
}
