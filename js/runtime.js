// crowdrun's JavaScript runtime: runs one untrusted wasm32-wasi module with
// the deterministic host interface (wasi.js), crowdrun's fuel contract
// (docs/fuel.md) and the limits of `crowdrun run`, and turns however the run
// ended into the same report as the Go sandbox (internal/sandbox.Report).
//
// Plain ES module with no Node-only API: it runs in Node and in browsers.

import { rewrite } from './rewrite.js';
import { Host, InputError, HostStateError, ExitSignal, OutputLimitSignal, MODULE_NAME, SIGNATURES } from './wasi.js';
import { FrameHost, FramesError, FRAME_SIGNATURES, marshalFrames, unmarshalFrames, globalBits } from './frames.js';
import { Tracker, sha256, hex, encode, encodeDelta, PAGE_SIZE } from './snapshot.js';

/** Verdicts, as in internal/sandbox. */
export const Status = Object.freeze({
  OK: 'ok', EXIT: 'exit', TRAP: 'trap', MEMORY_LIMIT: 'memory_limit', OUTPUT_LIMIT: 'output_limit',
  TIMEOUT: 'timeout', INVALID_MODULE: 'invalid_module', FORBIDDEN_IMPORT: 'forbidden_import',
  FUEL_EXHAUSTED: 'fuel_exhausted', STACK_OVERFLOW: 'stack_overflow', INVALID_SNAPSHOT: 'invalid_snapshot',
});

export const DEFAULT_MEMORY = 256 * 1024 * 1024;
export const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
/** The most a wasm32 memory can address. */
export const MAX_MEMORY = 4 * 1024 * 1024 * 1024;
/** Fuel handed out at a time (as the Go host's sandbox.DefaultSlice). */
export const DEFAULT_SLICE = 10_000_000n;

const WASM_PAGE = 65536;
const MAX_PAGES = 65536;

// The fuel contract (docs/fuel.md).
const HOST_MODULE = 'crowdrun';
const FUEL_GLOBAL = 'crowdrun.fuel';
const MEM_LIMIT_GLOBAL = 'crowdrun.mem_limit_hit';
const TRAP_STACK_OVERFLOW = 1;
const CUSTOM_SECTION = 'crowdrun';
const CROWDRUN_SIGNATURES = { out_of_fuel: [[], []], trap: [['i32'], []], ...FRAME_SIGNATURES };
// Continuations (docs/continuations.md).
const STATE_EXPORT = 'crowdrun.suspend_state';
const GLOBAL_PREFIX = 'crowdrun.global.';
const STATE_NORMAL = 0, STATE_UNWINDING = 1, STATE_REWINDING = 2;

const U64 = (x) => BigInt.asUintN(64, x);

/** A module refused before it runs (invalid_module or forbidden_import). */
export class ModuleError extends Error {
  constructor(status, message) { super(message); this.name = 'ModuleError'; this.status = status; }
}

class FuelExhausted extends Error { constructor() { super('fuel exhausted'); } }
class StackOverflow extends Error { constructor() { super('call depth limit exceeded'); } }
class CrowdrunTrap extends Error { constructor(code) { super(`crowdrun trap ${code}`); } }
class Timeout extends Error { constructor(msg) { super(msg); } }
class HostTrap extends Error { constructor(msg) { super(msg); } }
/** A continuation that does not fit the module (Go's errBadSnapshot). */
class BadSnapshot extends Error { constructor(msg) { super(`invalid snapshot: ${msg}`); } }
class MemoryLimitOnResume extends Error { constructor(msg) { super(msg); } }
class CheckpointFailed extends Error { constructor(msg) { super(`checkpoint: ${msg}`); } }

// ---- a section-level reader for the wasm binary format ----

const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

class Reader {
  constructor(b, pos = 0, end = b.length) { this.b = b; this.pos = pos; this.end = end; }
  byte() {
    if (this.pos >= this.end) throw new Error('unexpected end');
    return this.b[this.pos++];
  }
  u32() {
    let r = 0, shift = 0, c;
    do { c = this.byte(); r += (c & 0x7f) * 2 ** shift; shift += 7; } while (c & 0x80);
    return r;
  }
  name() {
    const n = this.u32();
    if (this.pos + n > this.end) throw new Error('unexpected end');
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  limits() {
    const start = this.pos;
    const flags = this.byte();
    const min = this.u32();
    const max = flags & 1 ? this.u32() : null;
    return { flags, min, max, start, end: this.pos };
  }
}

/**
 * What the host needs to know of a module, read from its sections: the types
 * of its function imports, its memory, its exports.
 */
export function inspect(bytes) {
  const r = new Reader(bytes, 8);
  const info = { types: [], imports: [], funcTypes: [], memories: [], exports: [], sections: [], customs: [], globals: [] };
  while (r.pos < r.end) {
    const headerStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos, end = r.pos + size;
    info.sections.push({ id, headerStart, start, end });
    const s = new Reader(bytes, start, end);
    switch (id) {
      case 0: { // custom
        const name = s.name();
        info.customs.push({ name, data: bytes.subarray(s.pos, end) });
        break;
      }
      case 1: { // type
        for (let n = s.u32(); n > 0; n--) {
          if (s.byte() !== 0x60) { info.types.push(null); break; }
          const p = [], q = [];
          for (let k = s.u32(); k > 0; k--) p.push(VALTYPES[s.byte()] ?? 'unknown');
          for (let k = s.u32(); k > 0; k--) q.push(VALTYPES[s.byte()] ?? 'unknown');
          info.types.push([p, q]);
        }
        break;
      }
      case 2: { // import
        for (let n = s.u32(); n > 0; n--) {
          const module = s.name(), name = s.name(), kind = s.byte();
          const imp = { module, name, kind };
          if (kind === 0) { imp.type = s.u32(); info.funcTypes.push(imp.type); }
          else if (kind === 1) { s.byte(); s.limits(); }
          else if (kind === 2) { imp.limits = s.limits(); info.memories.push({ imported: true, ...imp.limits }); }
          else if (kind === 3) { s.byte(); s.byte(); }
          else if (kind === 4) { s.byte(); s.u32(); }
          info.imports.push(imp);
        }
        break;
      }
      case 3: // function
        for (let n = s.u32(); n > 0; n--) info.funcTypes.push(s.u32());
        break;
      case 5: // memory
        for (let n = s.u32(); n > 0; n--) info.memories.push({ imported: false, ...s.limits() });
        break;
      case 6: // global
        try {
          for (let n = s.u32(); n > 0; n--) {
            const type = s.byte(), mutable = s.byte() === 1;
            skipConstExpr(s);
            info.globals.push({ type, mutable });
          }
        } catch {
          info.globals = null; // an initializer we do not know: not suspendable here
        }
        break;
      case 7: // export
        for (let n = s.u32(); n > 0; n--) info.exports.push({ name: s.name(), kind: s.byte(), index: s.u32() });
        break;
    }
    r.pos = end;
  }
  return info;
}

// skipConstExpr steps over a constant expression (a global's initializer).
function skipConstExpr(s) {
  const leb = () => { while (s.byte() & 0x80); };
  for (;;) {
    const op = s.byte();
    switch (op) {
      case 0x0b: return;
      case 0x41: case 0x42: leb(); break; // i32.const, i64.const
      case 0x43: s.pos += 4; break; // f32.const
      case 0x44: s.pos += 8; break; // f64.const
      case 0x23: case 0xd2: s.u32(); break; // global.get, ref.func
      case 0xd0: leb(); break; // ref.null heaptype
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break; // extended constants
      case 0xfd: if (s.u32() !== 12) throw new Error('unknown constant'); s.pos += 16; break; // v128.const
      default: throw new Error('unknown constant');
    }
    if (s.pos > s.end) throw new Error('unexpected end');
  }
}

const sig = (p, q) => `(${p.join(', ')}) -> (${q.join(', ')})`;

const KINDS = ['func', 'table', 'memory', 'global', 'tag'];

/**
 * The import check of internal/sandbox, refused before anything runs: only
 * functions of the host interface, with its signatures; the crowdrun
 * imports only in an instrumented module.
 */
function checkImports(info, instrumented) {
  for (const imp of info.imports) {
    if (imp.kind !== 0) {
      return new ModuleError(Status.FORBIDDEN_IMPORT, `forbidden import: ${KINDS[imp.kind] ?? `externkind(${imp.kind})`} ${imp.module}.${imp.name} (the host provides only functions; a module must define its own memory, tables and globals)`);
    }
    let want;
    if (imp.module === MODULE_NAME) {
      want = Object.hasOwn(SIGNATURES, imp.name) ? SIGNATURES[imp.name] : null;
      if (!want) {
        return new ModuleError(Status.FORBIDDEN_IMPORT, `forbidden import: function ${imp.module}.${imp.name} is not part of the host interface`);
      }
    } else if (imp.module === HOST_MODULE && instrumented && Object.hasOwn(CROWDRUN_SIGNATURES, imp.name)) {
      want = CROWDRUN_SIGNATURES[imp.name];
    } else {
      return new ModuleError(Status.FORBIDDEN_IMPORT, `forbidden import: function ${imp.module}.${imp.name} (only ${MODULE_NAME} functions are offered)`);
    }
    const got = info.types[imp.type];
    if (!got) return new ModuleError(Status.INVALID_MODULE, `invalid module: import ${imp.module}.${imp.name} has an unknown type`);
    if (got[0].join() !== want[0].join() || got[1].join() !== want[1].join()) {
      return new ModuleError(Status.FORBIDDEN_IMPORT, `forbidden import: function ${imp.module}.${imp.name} has the wrong signature ${sig(got[0], got[1])}, want ${sig(want[0], want[1])}`);
    }
  }
  return null;
}

/**
 * @typedef {object} Guest  a validated module, ready to run any number of times
 * @property {Uint8Array} bytes
 * @property {ReturnType<typeof inspect>} info
 * @property {WebAssembly.Module} module
 * @property {boolean} instrumented  it follows docs/fuel.md (it has crowdrun's custom section)
 * @property {object|null} metadata  that section's JSON
 * @property {number} minMem   bytes its exported memory starts with (as Go's check)
 * @property {Map<number, Promise<WebAssembly.Module>>} variants  by memory cap
 */

/**
 * Validates a module that crowdrun instrumented on trusted ground (a
 * coordinator's module, checked against its hash; the output of
 * prepare.js) and checks its imports against the host interface and the
 * fuel contract: the JS twin of Go's Engine.CompileInstrumented. A module
 * from a user goes through prepare.js first. Rejects with a ModuleError if
 * the module is refused.
 * @param {Uint8Array|ArrayBuffer} input
 * @returns {Promise<Guest>}
 */
export async function compile(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || magic.some((c, i) => bytes[i] !== c)) {
    throw new ModuleError(Status.INVALID_MODULE, 'invalid module: not a WebAssembly binary (bad magic number)');
  }
  let module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (e) {
    throw new ModuleError(Status.INVALID_MODULE, 'invalid module: ' + firstLine(String(e && e.message)));
  }
  let info;
  try {
    info = inspect(bytes);
  } catch (e) {
    throw new ModuleError(Status.INVALID_MODULE, 'invalid module: ' + e.message);
  }
  for (const m of info.memories) {
    // The Go host runs without the threads and memory64 features.
    if (!m.imported && (m.flags & ~1) !== 0) {
      throw new ModuleError(Status.INVALID_MODULE, 'invalid module: shared or 64-bit memory is not supported');
    }
  }
  // The module must be instrumented already (as a coordinator ships it, as
  // run.mjs makes it with prepare.js): it carries crowdrun's custom section,
  // whose metadata says how it was instrumented. A module from a user never
  // comes here as it is (Go's CompileInstrumented; docs/fuel.md).
  const custom = info.customs.find((c) => c.name === CUSTOM_SECTION);
  if (!custom) {
    throw new ModuleError(Status.INVALID_MODULE, 'invalid module: not instrumented by crowdrun (no crowdrun custom section)');
  }
  let metadata = null;
  try { metadata = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(custom.data)); } catch { metadata = null; }
  if (!metadata || typeof metadata !== 'object' || metadata.version !== 1) {
    throw new ModuleError(Status.INVALID_MODULE, 'invalid module: unreadable crowdrun instrumentation metadata');
  }
  const instrumented = true;
  const refused = checkImports(info, instrumented);
  if (refused) throw refused;
  const funcs = info.exports.filter((e) => e.kind === 0 && e.name === '_start');
  const t = funcs.length === 1 ? info.types[info.funcTypes[funcs[0].index]] : null;
  if (!t || t[0].length !== 0 || t[1].length !== 0) {
    throw new ModuleError(Status.INVALID_MODULE, 'invalid module: no _start function of type [] -> [] is exported (is it a wasm32-wasi command?)');
  }
  let minMem = 0;
  const memExport = info.exports.find((e) => e.kind === 2);
  if (memExport && info.memories[memExport.index]) minMem = info.memories[memExport.index].min * WASM_PAGE;
  // A suspendable module (internal/suspend) exports its suspend state.
  const suspendable = instrumented && info.exports.some((e) => e.kind === 3 && e.name === STATE_EXPORT) && info.globals !== null;
  return { bytes, info, module, instrumented, suspendable, metadata, minMem, variants: new Map(), hash: null };
}

/**
 * The module as this host compiles it for a memory cap (see rewrite.js),
 * compiled once per cap. Resolves to {module, memoryExport, hitExport,
 * capped, guessHit}.
 */
function variant(guest, capPages) {
  const mem = guest.info.memories[0];
  const exported = guest.info.exports.some((e) => e.kind === 2 && e.index === 0);
  const lower = !!mem && (mem.max ?? MAX_PAGES) > capPages;
  const plain = { module: guest.module, memoryExport: null, hitExport: null, capped: false, guessHit: false };
  if (!mem || (!lower && exported)) return Promise.resolve(plain);
  if (!guest.variants.has(capPages)) {
    const want = { capPages: lower ? capPages : null, exportMemory: !exported, detectGrow: true };
    let r, guessHit = false;
    try {
      r = rewrite(guest.bytes, guest.info, want);
    } catch {
      // An instruction our decoder does not know: cap without flagging.
      r = rewrite(guest.bytes, guest.info, { ...want, detectGrow: false });
      guessHit = lower;
    }
    const p = WebAssembly.compile(r.bytes).then((module) => ({
      module, memoryExport: r.memoryExport, hitExport: r.hitExport, capped: lower, guessHit,
    }));
    p.catch(() => {}); // surfaced by whoever awaits it
    guest.variants.set(capPages, p);
  }
  return guest.variants.get(capPages);
}

/**
 * @typedef {object} Input   what the guest sees of the world
 * @property {(string|Uint8Array)[]} [args]
 * @property {(string|Uint8Array)[]} [env]
 * @property {Uint8Array} [stdin]
 * @property {(b: Uint8Array) => void} [stdout]
 * @property {(b: Uint8Array) => void} [stderr]
 * @property {{name: string, data: Uint8Array}[]} [files]
 * @property {bigint|number} [seed]
 * @property {AbortSignal} [signal]   cancels the run (verdict timeout, "run cancelled")
 * @property {(bytes: number) => void} [onMemory]  told the guest's memory size now and then
 *
 * @typedef {object} Limits  zero or absent fields take the defaults
 * @property {number} [memoryBytes]
 * @property {number} [maxOutput]
 * @property {number} [timeoutMs]   0: none
 * @property {bigint|number} [fuel] instruction budget (instrumented modules); 0: none
 * @property {bigint|number} [slice]
 *
 * @typedef {object} Report  the JSON form is reportJSON's
 * @property {string} status
 * @property {number} exit_code
 * @property {string} message
 * @property {number} wall_ms
 * @property {number} peak_memory_bytes
 * @property {bigint} fuel
 */

/**
 * Runs a module's _start once. Resolves with a report whatever the guest
 * did; rejects only if the host itself fails.
 * @param {Guest|Uint8Array} guestOrBytes
 * @param {Input} input
 * @param {Limits} limits
 * @returns {Promise<Report>}
 */
export async function run(guestOrBytes, input = {}, limits = {}) {
  const start = performance.now();
  let rep;
  if (guestOrBytes instanceof Uint8Array || guestOrBytes instanceof ArrayBuffer) {
    try {
      guestOrBytes = await compile(guestOrBytes);
    } catch (e) {
      if (!(e instanceof ModuleError)) throw e;
      rep = report(e.status, 0, e.message);
    }
  }
  if (!rep && guestOrBytes.suspendable && !guestOrBytes.hash) guestOrBytes.hash = await sha256(guestOrBytes.bytes);
  if (!rep) rep = await runGuest(guestOrBytes, input, limits);
  rep.wall_ms = Math.floor(performance.now() - start);
  return rep;
}

function report(status, exitCode = 0, message = '', fuel = 0n) {
  return { status, exit_code: exitCode, message, wall_ms: 0, peak_memory_bytes: 0, fuel };
}

async function runGuest(guest, input, limits) {
  const memoryBytes = limits.memoryBytes || DEFAULT_MEMORY;
  const maxOutput = limits.maxOutput || DEFAULT_MAX_OUTPUT;
  const budget = U64(BigInt(limits.fuel || 0));
  const sliceSize = U64(BigInt(limits.slice || DEFAULT_SLICE));
  const deadline = limits.timeoutMs > 0 ? performance.now() + limits.timeoutMs : 0;
  // Checkpoints (docs/continuations.md, "Checkpoints"): only for a
  // suspendable module, as in the Go host.
  const every = guest.suspendable ? U64(BigInt(limits.checkpointEvery || 0)) : 0n;
  const resume = input.resume ?? null;

  if (guest.minMem > memoryBytes) {
    return report(Status.MEMORY_LIMIT, 0, `the module's initial memory (${guest.minMem} bytes) exceeds the limit of ${memoryBytes} bytes`);
  }
  let global = null; // crowdrun.fuel
  let stateG = null; // crowdrun.suspend_state
  let base = 0n, s = 0n; // fuel used before this slice; its size
  let next = 0n, running = false, pending = false, asked = 0;
  const used = () => (global ? U64(base + s - global.value) : base);
  const hostCfg = {
    args: input.args, env: input.env, stdin: input.stdin, stdout: input.stdout, stderr: input.stderr,
    files: input.files, seed: input.seed, maxOutput,
    fuelUsed: used,
    // An instrumented module is stopped only where the Go host stops it:
    // when a slice runs out. Others have no such point but host calls.
    onCall: () => (guest.instrumented ? peek() : check()),
  };
  let host;
  if (resume) {
    if (!guest.suspendable) return report(Status.INVALID_SNAPSHOT, 0, 'invalid snapshot: the module is not suspendable');
    try {
      host = Host.restore(hostCfg, resume.host);
    } catch (e) {
      if (!(e instanceof HostStateError) && !(e instanceof InputError)) throw e;
      return report(Status.INVALID_SNAPSHOT, 0, 'invalid snapshot: host state: ' + e.message);
    }
  } else {
    try {
      host = new Host(hostCfg);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return report(Status.INVALID_MODULE, 0, 'invalid input: ' + e.message);
    }
  }
  let memory = null;
  const peek = () => {
    if (memory && input.onMemory) input.onMemory(memory.buffer.byteLength);
  };
  // Wall-clock and cancellation checks, each time a slice runs out.
  const check = () => {
    if (deadline && performance.now() >= deadline) throw stop(new Timeout('wall-clock timeout'));
    if (input.signal && input.signal.aborted) throw stop(new Timeout('run cancelled'));
    peek();
  };
  const stop = (e) => { if (!host.stopped) host.stopped = e; return host.stopped; };
  const frames = new FrameHost((e) => { throw stop(e); });
  const checkpointing = () => every > 0n && running && stateG !== null;
  const gridPoint = () => U64(next * every) === next * every ? next * every : (1n << 64n) - 1n;
  // begin: from here on checkpoints are taken, the first at the first grid
  // point the fuel used has not exceeded yet.
  const begin = () => {
    running = true;
    if (every > 0n) next = base % every !== 0n ? base / every + 1n : (base / every > 1n ? base / every : 1n);
  };
  const closeSlice = () => {
    base = used();
    s = 0n;
    global.value = 0n;
    if (budget > 0n && base > budget) throw stop(new FuelExhausted());
  };
  const openSlice = () => {
    let n = sliceSize;
    // (base > budget only when resuming a snapshot beyond the budget: a
    // slice of 0, so the first check ends the run.)
    if (budget > 0n && budget - base < n) n = budget > base ? budget - base : 0n;
    if (checkpointing()) {
      // A slice never ends beyond the next grid point, so the checkpoint is
      // the same check whatever other slices there were.
      const g = gridPoint();
      n = g > base ? (g - base < n ? g - base : n) : 0n;
    }
    s = n;
    global.value = BigInt.asIntN(64, n);
  };
  const imports = { [MODULE_NAME]: host.imports() };
  if (guest.instrumented) {
    imports[HOST_MODULE] = {
      out_of_fuel: () => {
        if (host.stopped) throw host.stopped;
        if (stateG) {
          const st = stateG.value;
          if (st === STATE_REWINDING) {
            // The rewind arrived where the guest suspended: its fuel was
            // accounted for then.
            try {
              frames.rewindDone();
            } catch (e) {
              throw stop(new BadSnapshot(e.message));
            }
            stateG.value = STATE_NORMAL;
            return;
          }
          if (st !== STATE_NORMAL) throw stop(new BadSnapshot('out_of_fuel called while unwinding'));
        }
        closeSlice();
        check();
        if (checkpointing() && base > gridPoint()) {
          // Unwind to the host; the counter stays 0 (the canonical state).
          stateG.value = STATE_UNWINDING;
          pending = true;
          asked = performance.now();
          return;
        }
        openSlice();
      },
      trap: (code) => {
        code >>>= 0;
        throw stop(code === TRAP_STACK_OVERFLOW ? new StackOverflow() : new CrowdrunTrap(code));
      },
      ...frames.imports(),
    };
  }

  const capPages = Math.min(MAX_PAGES, Math.ceil(memoryBytes / WASM_PAGE));
  const mem0 = guest.info.memories[0];
  if (mem0 && mem0.min > capPages) {
    return report(Status.MEMORY_LIMIT, 0, `the module's initial memory (${mem0.min * WASM_PAGE} bytes) exceeds the limit of ${memoryBytes} bytes`);
  }
  let thrown = null, instance = null, v = null, checkpoints = 0;
  try {
    v = await variant(guest, capPages);
    instance = await WebAssembly.instantiate(v.module, imports);
    const ex = instance.exports;
    memory = (v.memoryExport ? ex[v.memoryExport] : Object.values(ex).find((x) => x instanceof WebAssembly.Memory)) ?? null;
    host.setMemory(memory);
    peek();
    if (guest.instrumented) {
      const g = ex[FUEL_GLOBAL];
      if (!(g instanceof WebAssembly.Global) || typeof g.value !== 'bigint') {
        throw new HostTrap(`instrumented module does not export a mutable global "${FUEL_GLOBAL}"`);
      }
      try { g.value = g.value; } catch {
        throw new HostTrap(`instrumented module does not export a mutable global "${FUEL_GLOBAL}"`);
      }
      global = g;
      if (guest.suspendable) {
        stateG = ex[STATE_EXPORT];
        if (!(stateG instanceof WebAssembly.Global) || typeof stateG.value !== 'number') {
          throw new HostTrap(`suspendable module without a mutable ${STATE_EXPORT}`);
        }
      }
    }
    const cont = { guest, ex, memory, host, frames, used: () => used() };
    if (resume) {
      await restore(cont, resume, memoryBytes);
      base = resume.fuel;
      s = 0n;
      begin();
      openSlice();
      stateG.value = STATE_REWINDING;
    } else if (global) {
      closeSlice();
      begin();
      openSlice();
    }
    const tracker = new Tracker();
    for (;;) {
      ex._start();
      if (!stateG || stateG.value === STATE_NORMAL) break;
      if (stateG.value !== STATE_UNWINDING || !pending) {
        throw new BadSnapshot(`_start returned in suspend state ${stateG.value}`);
      }
      const saved = frames.frames();
      const snap = capture(cont, saved);
      const digest = await tracker.hash(snap);
      checkpoints++;
      if (input.onCheckpoint) {
        const cp = {
          seq: (snap.fuel - 1n) / every, fuel: snap.fuel, snapshot: snap, digest, stateHash: hex(digest.state),
          captureMs: performance.now() - asked,
          /** The snapshot's file: full, or a delta against base (a digest). */
          encode: (opts = {}) => (opts.base ? encodeDelta(opts.base, snap, digest, opts) : encode(snap, digest, opts)),
        };
        try {
          await input.onCheckpoint(cp);
        } catch (e) {
          throw new CheckpointFailed(e && e.message);
        }
      }
      // Go on in this instance: the state is what a fresh one would restore.
      pending = false;
      begin();
      openSlice();
      frames.startRewind(saved);
      stateG.value = STATE_REWINDING;
    }
  } catch (e) {
    thrown = e;
  }
  // A guest that caught our unwinding (exception handling) still ends as we said.
  if (host.stopped) thrown = host.stopped;
  const fuel = guest.instrumented ? used() : 0n;
  let rep = classify(thrown);
  rep.fuel = fuel;
  if (checkpoints > 0) rep.checkpoints = checkpoints;
  rep.peak_memory_bytes = memory ? memory.buffer.byteLength : 0;
  peek();
  if (rep.status !== Status.OK && rep.status !== Status.OUTPUT_LIMIT && rep.status !== Status.TIMEOUT && rep.status !== Status.INVALID_SNAPSHOT &&
      hitLimit(guest, instance, v, rep.peak_memory_bytes, capPages)) {
    const memCap = guest.metadata && guest.metadata.memory_cap_pages ? guest.metadata.memory_cap_pages * WASM_PAGE : MAX_MEMORY;
    rep.message = `memory limit of ${Math.min(memoryBytes, memCap)} bytes reached (guest then: ${describe(rep)})`;
    rep.status = Status.MEMORY_LIMIT;
  }
  return rep;
}

/** The exported global crowdrun.global.i with its type, or null. */
function globalOf(c, i) {
  const g = c.ex[GLOBAL_PREFIX + i];
  const t = c.guest.info.globals[i];
  return g instanceof WebAssembly.Global && t ? { g, type: t.type, mutable: t.mutable } : null;
}

/** capture is the canonical state of the suspended guest (a snapshot whose pages alias its memory). */
function capture(c, saved) {
  const snap = {
    moduleHash: c.guest.hash, fuel: c.used(), frames: marshalFrames(saved), host: c.host.marshal(), pages: [], globals: [],
  };
  if (c.memory) {
    const buf = c.memory.buffer, n = buf.byteLength / PAGE_SIZE;
    for (let i = 0; i < n; i++) snap.pages.push(new Uint8Array(buf, i * PAGE_SIZE, PAGE_SIZE));
  }
  const n = c.guest.info.globals.length;
  for (let i = 0; i < n; i++) {
    const x = globalOf(c, i);
    if (!x) throw new HostTrap(`suspendable module does not export global ${i}`);
    snap.globals.push({ type: x.type, lo: globalBits(x.g, x.type, x.mutable).get(), hi: 0n });
  }
  return snap;
}

/**
 * restore puts a fresh instance in the state snap describes and prepares
 * the rewind (Go's runner.restore). Nothing of snap is trusted.
 */
async function restore(c, snap, memoryBytes) {
  if (!c.guest.hash) c.guest.hash = await sha256(c.guest.bytes);
  const mh = c.guest.hash;
  if (!(snap.moduleHash instanceof Uint8Array) || hex(snap.moduleHash) !== hex(mh)) {
    throw new BadSnapshot(`it belongs to module ${hex((snap.moduleHash ?? new Uint8Array(8)).subarray(0, 8))}, not ${hex(mh.subarray(0, 8))}`);
  }
  let saved;
  try {
    saved = unmarshalFrames(snap.frames);
  } catch (e) {
    if (!(e instanceof FramesError)) throw e;
    throw new BadSnapshot(e.message);
  }
  if (saved.length === 0) throw new BadSnapshot('no frames');
  if (!c.memory) {
    if (snap.pages.length !== 0) throw new BadSnapshot('memory for a module without memory');
  } else {
    const have = c.memory.buffer.byteLength / PAGE_SIZE, want = snap.pages.length;
    if (want < have) throw new BadSnapshot(`memory of ${want} pages, below the module's minimum of ${have}`);
    if (want > have) {
      try {
        c.memory.grow(want - have);
      } catch {
        throw new MemoryLimitOnResume(`memory limit: the snapshot's memory (${want} pages) is above the limit`);
      }
    }
    const buf = new Uint8Array(c.memory.buffer);
    if (buf.length !== want * PAGE_SIZE) throw new BadSnapshot('cannot map the memory');
    snap.pages.forEach((p, i) => {
      if (p === null) buf.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      else if (p.length !== PAGE_SIZE) throw new BadSnapshot(`page ${i} has ${p.length} bytes`);
      else buf.set(p, i * PAGE_SIZE);
    });
  }
  const n = c.guest.info.globals.length;
  if (snap.globals.length !== n) throw new BadSnapshot(`${snap.globals.length} globals, the module has ${n}`);
  snap.globals.forEach((sg, i) => {
    const x = globalOf(c, i);
    if (!x || x.type !== sg.type || sg.hi !== 0n) throw new BadSnapshot(`global ${i} has the wrong type`);
    const bits = globalBits(x.g, x.type, x.mutable);
    if (x.mutable) bits.set(sg.lo);
    else if (bits.get() !== sg.lo) throw new BadSnapshot(`immutable global ${i} differs from the module's`);
  });
  const st = c.ex[STATE_EXPORT].value;
  if (st !== STATE_UNWINDING) throw new BadSnapshot(`suspend state ${st}, want ${STATE_UNWINDING}`);
  const fuel = c.ex[FUEL_GLOBAL].value;
  if (fuel !== 0n) throw new BadSnapshot(`fuel counter ${fuel}, want 0`);
  c.frames.startRewind(saved);
}

// hitLimit says whether a memory.grow failed because of the memory limit,
// as the Go host's allocator would have seen it; an instrumented module also
// says so itself (crowdrun.mem_limit_hit).
function hitLimit(guest, instance, v, peak, capPages) {
  if (!instance || !v) return false;
  const ex = instance.exports;
  if (guest.instrumented && ex[MEM_LIMIT_GLOBAL] instanceof WebAssembly.Global && Number(ex[MEM_LIMIT_GLOBAL].value) !== 0) return true;
  if (v.hitExport) return Number(ex[v.hitExport].value) !== 0;
  if (!v.guessHit) return false;
  // The module's code could not be rewritten: judge by how close to the cap it got.
  const cap = capPages * WASM_PAGE;
  return peak >= cap - Math.max(WASM_PAGE, Math.floor(cap / 16));
}

function describe(r) {
  if (r.status === Status.EXIT) return `exit status ${r.exit_code}`;
  return r.message || r.status;
}

// V8's trap messages, as wazero words them (the Go host's reports).
const TRAPS = [
  ['unreachable', 'unreachable'],
  ['memory access out of bounds', 'out of bounds memory access'],
  ['divide by zero', 'integer divide by zero'],
  ['remainder by zero', 'integer divide by zero'],
  ['divide result unrepresentable', 'integer overflow'],
  ['float unrepresentable in integer range', 'invalid conversion to integer'],
  ['table index is out of bounds', 'invalid table access'],
  ['null function or function signature mismatch', 'indirect call type mismatch'],
  ['function signature mismatch', 'indirect call type mismatch'],
];

function classify(e) {
  if (e === null) return report(Status.OK);
  if (e instanceof ExitSignal) {
    return e.code === 0 ? report(Status.OK) : report(Status.EXIT, e.code, `exit status ${e.code}`);
  }
  if (e instanceof OutputLimitSignal) return report(Status.OUTPUT_LIMIT, 0, 'output limit exceeded');
  if (e instanceof FuelExhausted) return report(Status.FUEL_EXHAUSTED, 0, e.message);
  if (e instanceof StackOverflow) return report(Status.STACK_OVERFLOW, 0, e.message);
  if (e instanceof Timeout) return report(Status.TIMEOUT, 0, e.message);
  if (e instanceof CrowdrunTrap || e instanceof HostTrap) return report(Status.TRAP, 0, e.message);
  if (e instanceof BadSnapshot) return report(Status.INVALID_SNAPSHOT, 0, firstLine(e.message));
  if (e instanceof FramesError) return report(Status.INVALID_SNAPSHOT, 0, firstLine(e.message));
  if (e instanceof MemoryLimitOnResume) return report(Status.MEMORY_LIMIT, 0, firstLine(e.message));
  if (e instanceof CheckpointFailed) return report(Status.TIMEOUT, 0, firstLine(e.message));
  if (e instanceof WebAssembly.RuntimeError) {
    const m = firstLine(e.message);
    const t = TRAPS.find(([v8]) => m === v8);
    return report(Status.TRAP, 0, 'wasm error: ' + (t ? t[1] : m));
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) return report(Status.TRAP, 0, 'stack overflow'); // as wazero words it
  if (e instanceof WebAssembly.LinkError || e instanceof WebAssembly.CompileError) {
    return report(Status.TRAP, 0, firstLine(e.message));
  }
  throw e; // the host itself failed
}

function firstLine(s) {
  const i = s.indexOf('\n');
  return i >= 0 ? s.slice(0, i) : s;
}

/** The JSON of `crowdrun run --report`, byte for byte as Go's encoding/json. */
export function reportJSON(rep) {
  const q = (s) => JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const lines = [`  "status": ${q(rep.status)}`, `  "exit_code": ${rep.exit_code}`];
  if (rep.message) lines.push(`  "message": ${q(rep.message)}`);
  lines.push(`  "wall_ms": ${rep.wall_ms}`, `  "peak_memory_bytes": ${rep.peak_memory_bytes}`, `  "fuel": ${BigInt(rep.fuel)}`);
  if (rep.checkpoints) lines.push(`  "checkpoints": ${rep.checkpoints}`);
  return '{\n' + lines.join(',\n') + '\n}\n';
}

/** Exit codes of `crowdrun run` for each verdict (internal/cli ExitCodeFor). */
export function exitCodeFor(rep) {
  if (rep.status === Status.EXIT) return Math.min(rep.exit_code, 119);
  return {
    ok: 0, fuel_exhausted: 120, stack_overflow: 121, trap: 122, memory_limit: 123,
    timeout: 124, output_limit: 125, invalid_module: 126, forbidden_import: 127, invalid_snapshot: 126,
  }[rep.status] ?? 0;
}
