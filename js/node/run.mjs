#!/usr/bin/env node
// `crowdrun run` on the JavaScript host: same flags, same verdicts, same fuel,
// same JSON report, same exit codes as the Go command (internal/cli/run.go),
// so the two hosts can be compared run for run. Every module given here is
// instrumented as the Go command instruments it — by Go's internal/prepare
// itself, compiled to wasm (../prepare.wasm, through ../prepare.js) — and a
// module that already carries crowdrun's names is refused.
//
//   node js/node/run.mjs [flags] MODULE.wasm [--] [ARGS...]
//   node js/node/run.mjs resume [--report FILE] [--timeout D] [--checkpoint-dir DIR] DIR/NNNNNN.snap  (flags before or after)
//   node js/node/run.mjs --server URL [--slots N]   (a worker: js/node/net-worker.mjs)
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { run, compile, ModuleError, reportJSON, exitCodeFor, Status, DEFAULT_MEMORY, DEFAULT_MAX_OUTPUT, MAX_MEMORY } from '../runtime.js';
import { PrepareRefusal } from '../prepare.js';
import { prepareModule } from './preparer.mjs';
import { decode, sha256, hex, SnapshotError, MAX_PAGES } from '../snapshot.js';
import { createCheckpointDir, CheckpointWriter, CheckpointUsageError, readCheckpointDir, canonicalMetadata, RUN_CONFIG_VERSION } from './checkpoint-dir.mjs';

const EXIT_INTERNAL = 1, EXIT_USAGE = 2;

class UsageError extends Error {}

/** Go's cli.ParseSize. */
export function parseSize(s) {
  const t = s.trim();
  const m = /^([0-9]+)(.*)$/.exec(t);
  if (!m) throw new Error(`invalid size "${s}": want a number such as 64MiB`);
  const n = BigInt(m[1]);
  const mult = { '': 1n, b: 1n, k: 1n << 10n, kb: 1n << 10n, kib: 1n << 10n, m: 1n << 20n, mb: 1n << 20n, mib: 1n << 20n, g: 1n << 30n, gb: 1n << 30n, gib: 1n << 30n }[m[2].trim().toLowerCase()];
  if (mult === undefined) throw new Error(`invalid size "${s}": unit must be B, KiB, MiB or GiB`);
  if (n * mult >= 1n << 64n) throw new Error(`invalid size "${s}": too large`);
  return n * mult;
}

/** Go's time.ParseDuration, in milliseconds. */
export function parseDuration(s) {
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let t = s, sign = 1;
  if (t[0] === '-' || t[0] === '+') { if (t[0] === '-') sign = -1; t = t.slice(1); }
  if (t === '0') return 0;
  if (t === '') throw new Error(`time: invalid duration "${s}"`);
  let total = 0;
  const re = /^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/;
  while (t !== '') {
    const m = re.exec(t);
    if (!m || m[1] === '' || m[1] === '.') throw new Error(`time: invalid duration "${s}"`);
    total += parseFloat(m[1]) * units[m[2]];
    t = t.slice(m[0].length);
  }
  return sign * total;
}

/** Go's strconv.ParseUint(s, 0, 64). */
export function parseUint64(s) {
  let t = s.replace(/_/g, '');
  if (s.includes('_') && !/^0[xXbBoO]/.test(s)) throw new Error('invalid syntax');
  let v;
  if (/^0[xX][0-9a-fA-F]+$/.test(t) || /^0[bB][01]+$/.test(t) || /^0[oO][0-7]+$/.test(t)) v = BigInt(t);
  else if (/^0[0-7]+$/.test(t)) v = BigInt('0o' + t.slice(1));
  else if (/^[0-9]+$/.test(t)) v = BigInt(t);
  else throw new Error('invalid syntax');
  if (v >= 1n << 64n) throw new Error('value out of range');
  return v;
}

const FLAGS = {
  memory: 'guest linear memory limit (KiB/MiB/GiB)',
  'max-output': 'limit on stdout+stderr together',
  timeout: 'wall-clock limit, e.g. 10s (0: none)',
  env: 'set a guest environment variable `K=V` (repeatable)',
  file: 'expose host file PATH to the guest read-only as /NAME: `NAME=PATH` (repeatable)',
  seed: "seed of the guest's deterministic random source",
  report: "write a JSON report to `FILE` ('-' for stderr)",
  fuel: 'instruction budget: stop with fuel_exhausted beyond it (0: unlimited)',
  stack: 'call depth limit: stop with stack_overflow beyond it',
  'checkpoint-every': 'take a checkpoint each time this much `FUEL` has been used (needs --checkpoint-dir)',
  'checkpoint-dir': 'write checkpoints into this new `DIR` (see `crowdrun resume`)',
};

const RESUME_FLAGS = {
  report: "write a JSON report to `FILE` ('-' for stderr)",
  timeout: 'wall-clock limit for the rest of the run, e.g. 10s (0: none)',
  'checkpoint-dir': "go on writing checkpoints (at the run's interval) into this new `DIR`",
};

function usage(flags = FLAGS, what = 'run [flags] MODULE.wasm [--] [ARGS...]') {
  let u = `usage: crowdrun ${what}\n\nflags:\n`;
  for (const [k, v] of Object.entries(flags)) u += `  -${k}\n    \t${v}\n`;
  return u;
}

/**
 * Parses flags the way Go's flag package does: they stop at the first
 * non-flag — or, with anywhere (`resume`, as internal/cli's parseFlags),
 * flags and arguments may be interleaved until a '--'.
 */
function parseArgs(argv, flags = FLAGS, anywhere = false) {
  const o = { memory: BigInt(DEFAULT_MEMORY), maxOutput: BigInt(DEFAULT_MAX_OUTPUT), timeoutMs: 0, env: [], files: [], seed: 0n, report: '', fuel: 0n, stack: 1000n, every: 0n, dir: '' };
  const pos = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a.length < 2 || a[0] !== '-') {
      if (!anywhere) break;
      pos.push(a);
      continue;
    }
    if (a === '--') { i++; break; }
    let name = a.slice(a[1] === '-' ? 2 : 1);
    if (name === '' || name[0] === '-' || name[0] === '=') throw new UsageError(`bad flag syntax: ${a}`, { cause: 'flag' });
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    if (name === 'h' || name === 'help') return null;
    if (!Object.hasOwn(flags, name)) throw new UsageError(`flag provided but not defined: -${name}`, { cause: 'flag' });
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`, { cause: 'flag' });
      value = argv[++i];
    }
    try {
      switch (name) {
        case 'memory': o.memory = parseSize(value); break;
        case 'max-output': o.maxOutput = parseSize(value); break;
        case 'timeout': o.timeoutMs = parseDuration(value); break;
        case 'env': o.env.push(value); break;
        case 'file': o.files.push(value); break;
        case 'seed': o.seed = parseUint64(value); break;
        case 'report': o.report = value; break;
        case 'fuel': o.fuel = parseUint64(value); break;
        case 'stack': o.stack = parseUint64(value); if (o.stack >= 1n << 32n) throw new Error('value out of range'); break;
        case 'checkpoint-every': o.every = parseUint64(value); break;
        case 'checkpoint-dir': o.dir = value; break;
      }
    } catch (e) {
      throw new UsageError(`invalid value "${value}" for flag -${name}: ${e.message}`, { cause: 'flag' });
    }
  }
  o.rest = [...pos, ...argv.slice(i)];
  return o;
}

function writeAll(fd, s) {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  let off = 0;
  while (off < b.length) {
    try {
      off += fs.writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * The submitted module instrumented with opts, as the Go host's
 * Engine.CompileWith (CompileSuspendable if opts.suspendable) makes it, and
 * compiled: {prepared, guest}, or {refused: {status, message}}.
 */
async function prepareAndCompile(bytes, opts) {
  let prepared;
  try {
    prepared = await prepareModule(bytes, opts);
    return { prepared, guest: await compile(prepared) };
  } catch (e) {
    if (!(e instanceof PrepareRefusal) && !(e instanceof ModuleError)) throw e;
    return { refused: { status: e.status, message: e.message } };
  }
}

/** Instrumentation options from a module's metadata (run.json's instrumentation). */
function optionsOf(md) {
  return { schedule: md.schedule, stackLimit: md.stack_limit, memoryCapPages: md.memory_cap_pages ?? 0, canonicalizeNaN: md.nan_canonicalization };
}

/** A report of a module refused before it ran. */
const refusedReport = (r) => ({ status: r.status, exit_code: 0, message: r.message, wall_ms: 0, peak_memory_bytes: 0, fuel: 0n });

/** Runs the guest (compiled) on this thread: enough when no wall-clock limit is set. */
async function runHere(guest, input, limits, ckpt) {
  let buf = new Uint8Array(64 << 10), n = 0;
  const flush = () => { if (n > 0) writeAll(1, buf.subarray(0, n)); n = 0; };
  const stdout = (b) => {
    if (n + b.length > buf.length) {
      flush();
      if (b.length >= buf.length) return writeAll(1, b);
    }
    buf.set(b, n);
    n += b.length;
  };
  let out = stdout, err = (b) => writeAll(2, b), writer = null;
  if (ckpt) {
    writer = new CheckpointWriter(ckpt.dir, ckpt.nOut, ckpt.nErr);
    ({ stdout: out, stderr: err } = writer.wrap(out, err));
  }
  try {
    return await run(guest, { ...input, stdout: out, stderr: err, onCheckpoint: writer ? (cp) => writer.save(cp, flush) : undefined }, limits);
  } finally {
    flush();
    if (writer) writer.close();
  }
}

/**
 * Runs the guest in a worker, so that the wall-clock limit holds even for a
 * guest that never returns to the host; resolves with its report, rejects if
 * the worker fails.
 */
function runInWorker(bytes, input, limits, ckpt) {
  const out = new SharedArrayBuffer(8 + (64 << 10));
  const mem = new SharedArrayBuffer(8);
  let started = performance.now();
  const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
    workerData: { bytes, input, limits, out, mem, ckpt },
  });
  return new Promise((resolve, reject) => {
    let done = false, killed = false, timer = null;
    const finish = (f, v) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      f(v);
    };
    // The runtime checks the deadline itself whenever it regains control; this
    // is the backstop for a guest that never calls the host.
    const arm = () => {
      if (!(limits.timeoutMs > 0) || timer || done) return;
      started = performance.now();
      timer = setTimeout(async () => {
        timer = null;
        killed = true;
        await worker.terminate();
        // stdout the worker had buffered but not yet written
        const n = Atomics.load(new Int32Array(out, 0, 1), 0);
        if (n > 0) writeAll(1, new Uint8Array(out, 8, n));
        finish(resolve, {
          status: Status.TIMEOUT, exit_code: 0, message: 'wall-clock timeout',
          wall_ms: Math.floor(performance.now() - started), peak_memory_bytes: new Float64Array(mem)[0], fuel: 0n,
        });
      }, limits.timeoutMs + 100);
    };
    worker.on('message', (m) => {
      if (m.type === 'started') arm();
      else if (m.type === 'report') finish(resolve, m.report);
      else finish(reject, new Error(m.message));
    });
    worker.on('error', (e) => finish(reject, e));
    worker.on('exit', (code) => killed || finish(reject, new Error(`the guest's worker exited (code ${code}) without a report`)));
  });
}

async function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeAll(2, e.message + '\n' + usage());
    return EXIT_USAGE;
  }
  if (o === null) {
    writeAll(1, usage()); // asked-for help goes to stdout, as in Go
    return 0;
  }
  try {
    if (o.rest.length === 0) {
      writeAll(2, usage());
      throw new UsageError('a module is required');
    }
    checkReport(o.report);
    const modPath = o.rest[0];
    let guestArgs = o.rest.slice(1);
    if (guestArgs[0] === '--') guestArgs = guestArgs.slice(1);
    // Memory is capped in whole wasm pages, as in crowdrun run.
    o.memory &= ~0xFFFFn;
    if (o.memory === 0n || o.memory > BigInt(MAX_MEMORY)) throw new UsageError('--memory must be between 64KiB (one wasm page) and 4GiB');
    if (o.maxOutput === 0n || o.maxOutput > 1n << 62n) throw new UsageError('--max-output must be at least 1B');
    if (o.timeoutMs < 0) throw new UsageError('--timeout must not be negative');
    if (o.stack === 0n || o.stack > 1n << 20n) throw new UsageError(`--stack must be between 1 and ${1 << 20}`);
    if ((o.every === 0n) !== (o.dir === '')) throw new UsageError('--checkpoint-every and --checkpoint-dir go together');
    // argv[0] is what every task sees on a worker (crowdrun run's too).
    const input = { args: ['main.wasm', ...guestArgs], env: o.env, seed: o.seed, files: [] };
    for (const spec of o.files) {
      const eq = spec.indexOf('=');
      const name = eq >= 0 ? spec.slice(0, eq) : '', p = eq >= 0 ? spec.slice(eq + 1) : '';
      if (eq < 0 || name === '' || p === '') throw new UsageError(`--file ${JSON.stringify(spec)}: want NAME=PATH`);
      let data;
      try { data = fs.readFileSync(p); } catch (e) { throw new UsageError(`--file ${name}: ${e.message}`); }
      input.files.push({ name: name.startsWith('/') ? name.slice(1) : name, data: new Uint8Array(data) });
    }
    let bytes;
    try { bytes = new Uint8Array(fs.readFileSync(modPath)); } catch (e) { throw new UsageError(e.message); }
    // Instrumented as `crowdrun run` instruments it, whatever it says about itself.
    const memoryCapPages = Number(o.memory / 65536n);
    const { prepared, guest, refused } = await prepareAndCompile(bytes, { stackLimit: Number(o.stack), memoryCapPages, suspendable: o.every > 0n });
    if (guest && o.every > 0n && !guest.suspendable) {
      throw new UsageError(`${modPath} cannot be checkpointed: the suspend rewrite does not support it (a start function, reference-typed locals, or v128 or imported globals)`);
    }
    let rep;
    if (refused) {
      rep = refusedReport(refused);
    } else {
      input.stdin = await readStdin();
      const limits = { memoryBytes: Number(o.memory), maxOutput: Number(o.maxOutput), timeoutMs: o.timeoutMs, fuel: o.fuel };
      let ckpt = null;
      if (o.every > 0n) {
        limits.checkpointEvery = o.every;
        // module.wasm is the module as given; resume instruments it again
        // and checks it against module_sha256 (internal/cli/checkpoint.go).
        const cfg = {
          version: RUN_CONFIG_VERSION, args: input.args, env: input.env, seed: o.seed, files: input.files.length ? input.files.map((f) => f.name) : null,
          memory_bytes: o.memory, max_output: o.maxOutput, fuel: o.fuel, checkpoint_every: o.every,
          module_sha256: hex(await sha256(prepared)), instrumentation: canonicalMetadata(guest.metadata),
        };
        createCheckpointDir(o.dir, cfg, bytes, input.stdin, input.files, new Uint8Array(0), new Uint8Array(0));
        ckpt = { dir: o.dir, nOut: 0, nErr: 0 };
      }
      rep = limits.timeoutMs > 0 ? await runInWorker(prepared, input, limits, ckpt) : await runHere(guest, input, limits, ckpt);
    }
    if (o.report === '-') writeAll(2, reportJSON(rep));
    else if (o.report !== '') fs.writeFileSync(o.report, reportJSON(rep));
    if (rep.status !== Status.OK && rep.status !== Status.EXIT && o.report === '') {
      writeAll(2, `crowdrun run: ${rep.status}: ${rep.message}\n`);
    }
    return exitCodeFor(rep);
  } catch (e) {
    if (e instanceof UsageError || e instanceof CheckpointUsageError) {
      writeAll(2, `crowdrun run: ${e.message}\n`);
      return EXIT_USAGE;
    }
    writeAll(2, `crowdrun run: ${e && e.message}\n`);
    return EXIT_INTERNAL;
  }
}

/**
 * Checks before anything runs that a --report file can be written (Go's
 * openReport): an unwritable path is a usage error, not a lost report.
 */
function checkReport(p) {
  if (p === '' || p === '-') return;
  try {
    if (fs.existsSync(p)) fs.accessSync(p, fs.constants.W_OK);
    else fs.accessSync(path.dirname(path.resolve(p)), fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`--report ${p}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message}`);
  }
}

/** `crowdrun resume [flags] DIR/NNNNNN.snap` (internal/cli/checkpoint.go). */
async function resumeMain(argv) {
  let o;
  try {
    o = parseArgs(argv, RESUME_FLAGS, true);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeAll(2, e.message + '\n' + usage(RESUME_FLAGS, 'resume [flags] DIR/NNNNNN.snap'));
    return EXIT_USAGE;
  }
  if (o === null) {
    writeAll(1, usage(RESUME_FLAGS, 'resume [flags] DIR/NNNNNN.snap'));
    return 0;
  }
  try {
    if (o.rest.length !== 1) {
      writeAll(2, usage(RESUME_FLAGS, 'resume [flags] DIR/NNNNNN.snap'));
      throw new UsageError('one snapshot is required');
    }
    if (o.timeoutMs < 0) throw new UsageError('--timeout must not be negative');
    checkReport(o.report);
    const snapPath = o.rest[0];
    // A snapshot that does not fit is a verdict, with its report (Go's
    // reportFile.verdict).
    const invalidSnapshot = (message) => {
      const rep = { status: Status.INVALID_SNAPSHOT, exit_code: 0, message, wall_ms: 0, peak_memory_bytes: 0, fuel: 0n, checkpoints: 0 };
      if (o.report === '-') writeAll(2, reportJSON(rep));
      else if (o.report !== '') fs.writeFileSync(o.report, reportJSON(rep));
      else writeAll(2, `crowdrun resume: ${rep.status}: ${rep.message}\n`);
      return exitCodeFor(rep);
    };
    const d = readCheckpointDir(snapPath);
    let snapBytes;
    try { snapBytes = new Uint8Array(fs.readFileSync(snapPath)); } catch (e) { throw new UsageError(e.message); }
    const mem = d.cfg.memory_bytes;
    let snapshot, digest;
    try {
      ({ snapshot, digest } = await decode(snapBytes, { maxPages: Number(mem / 65536n < BigInt(MAX_PAGES) ? mem / 65536n : BigInt(MAX_PAGES)) }));
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      return invalidSnapshot(`${snapPath}: ${e.message}`);
    }
    if (hex(digest.state) !== d.info.state_hash || snapshot.fuel !== d.info.fuel) {
      return invalidSnapshot(`${snapPath}: the snapshot does not match its sidecar`);
    }
    // module.wasm is the module as given to `run`: instrumented here as run.json
    // says, it must come out as the module the snapshots belong to.
    const { prepared, guest, refused } = await prepareAndCompile(d.module, { ...optionsOf(d.cfg.instrumentation), suspendable: true });
    if (guest && (!guest.suspendable || hex(await sha256(prepared)) !== d.cfg.module_sha256)) {
      return invalidSnapshot(`${d.dir}: module.wasm instrumented as run.json says is not the module ${d.cfg.module_sha256.slice(0, 12)} of the run`);
    }
    let rep;
    if (refused) {
      rep = refusedReport(refused);
    } else {
      const input = { args: d.cfg.args ?? [], env: d.cfg.env ?? [], seed: d.cfg.seed, files: d.files, stdin: d.stdin, resume: snapshot };
      const limits = { memoryBytes: Number(mem), maxOutput: Number(d.cfg.max_output), fuel: d.cfg.fuel, timeoutMs: o.timeoutMs };
      let ckpt = null;
      if (o.dir !== '') {
        createCheckpointDir(o.dir, d.cfg, d.module, d.stdin, d.files, d.prefixOut, d.prefixErr);
        ckpt = { dir: o.dir, nOut: d.prefixOut.length, nErr: d.prefixErr.length };
        limits.checkpointEvery = d.cfg.checkpoint_every;
      }
      // The output up to the checkpoint, then the rest.
      writeAll(1, d.prefixOut);
      writeAll(2, d.prefixErr);
      rep = limits.timeoutMs > 0 ? await runInWorker(prepared, input, limits, ckpt) : await runHere(guest, input, limits, ckpt);
    }
    if (o.report === '-') writeAll(2, reportJSON(rep));
    else if (o.report !== '') fs.writeFileSync(o.report, reportJSON(rep));
    if (rep.status !== Status.OK && rep.status !== Status.EXIT && o.report === '') {
      writeAll(2, `crowdrun resume: ${rep.status}: ${rep.message}\n`);
    }
    return exitCodeFor(rep);
  } catch (e) {
    if (e instanceof UsageError || e instanceof CheckpointUsageError) {
      writeAll(2, `crowdrun resume: ${e.message}\n`);
      return EXIT_USAGE;
    }
    writeAll(2, `crowdrun resume: ${e && e.message}\n`);
    return EXIT_INTERNAL;
  }
}

const argv = process.argv.slice(2);
if (argv.includes('--server')) {
  // `node js/node/run.mjs --server URL [--slots N]`: a worker of a coordinator
  // (js/node/net-worker.mjs), instead of a local run.
  const { main: serve } = await import('./net-worker.mjs');
  process.exitCode = await serve(argv);
} else if (argv[0] === 'resume') {
  process.exitCode = await resumeMain(argv.slice(1));
  process.stdin.destroy();
} else {
  process.exitCode = await main(argv);
  process.stdin.destroy();
}
