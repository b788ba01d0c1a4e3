// Running guests in a worker (a Web Worker in browsers, a worker thread in
// Node): an explicit message union, every message with an id and a type, and
// every pending request rejected when the worker dies — a lost worker never
// leaves a promise hanging.
//
//   to the worker    {id, type: 'run', module: Uint8Array, input, limits,
//                     key?, control?}
//                    input is runtime.run's without callbacks (args, env,
//                    stdin, files, seed); limits as runtime.run's; key names
//                    the module (its hash) so the worker compiles it once;
//                    control, an Int32Array on a SharedArrayBuffer, holds a
//                    duty cycle in percent that the guest keeps to between
//                    fuel slices (it sleeps in Atomics.wait);
//                    checkpoint: {every, ticks?} runs at that fuel grid and
//                    sends each checkpoint (the worker encodes it: a delta
//                    against the previous one sent, full after a 'rebase');
//                    with ticks, it suspends ticks times per interval to
//                    report progress (as the native worker's Ticks);
//                    resume: {bytes, stateHash, fuel, seq, maxPages} continues
//                    from that encoded snapshot, checked against the hash
//                    and fuel given; awaitFirst: true makes the run wait,
//                    after sending its first checkpoint, for a 'proceed'
//                    {id, type: 'rebase'}  the next checkpoint of run id is
//                    sent full (handled at once, not queued)
//                    {id, type: 'proceed'}  run id, waiting after its first
//                    checkpoint (awaitFirst), goes on (handled at once)
//   from the worker  {id, type: 'alive'}                 still running (≤ 1/s)
//                    {id, type: 'output', fd: 1|2, data: Uint8Array}
//                    {id, type: 'progress', fuel}        fuel reached (a tick)
//                    {id, type: 'checkpoint', seq, fuel, stateHash, base,
//                     snapshot: Uint8Array, costMs}   after the output
//                     that precedes it
//                    {id, type: 'report', report}
//                    {id, type: 'error', message}       the host failed
//
// Both sides talk through an endpoint {post(msg, transfer), listen(onMessage,
// onFailure), terminate()}; workerEndpoint and selfEndpoint adapt the
// browser's Worker and worker scope. Plain ES module, no Node-only API.

import { run, compile, ModuleError } from './runtime.js';
import { decode, hex, DEFAULT_LIMITS } from './snapshot.js';

/** A checkpoint's snapshot plus output, raw (protocol.MaxCheckpoint). */
export const MAX_CHECKPOINT = 11 << 20;

/** How long a run waits for 'proceed' after its first checkpoint (awaitFirst): a bound, not a rhythm. */
const AWAIT_FIRST_MS = 60_000;

/** The worker is gone (crashed, terminated, or its messages could not be read). */
export class WorkerLostError extends Error {
  constructor(why) { super(`guest worker lost: ${why}`); this.name = 'WorkerLostError'; }
}

/** The client sent a request the worker could not carry out. */
export class RemoteError extends Error {
  constructor(message) { super(message); this.name = 'RemoteError'; }
}

/** An endpoint for a browser Worker, seen from the page. */
export function workerEndpoint(worker) {
  return {
    worker,
    post: (msg, transfer = []) => worker.postMessage(msg, transfer),
    listen(onMessage, onFailure) {
      worker.addEventListener('message', (e) => onMessage(e.data));
      worker.addEventListener('error', (e) => {
        if (e.preventDefault) e.preventDefault();
        onFailure(e.message || 'uncaught error in the worker');
      });
      worker.addEventListener('messageerror', () => onFailure('a message from the worker could not be read'));
    },
    terminate: () => worker.terminate(),
  };
}

/** The endpoint of a worker's own scope (self), seen from inside. */
export function selfEndpoint(scope = globalThis) {
  return {
    post: (msg, transfer = []) => scope.postMessage(msg, transfer),
    listen(onMessage) { scope.addEventListener('message', (e) => onMessage(e.data)); },
    terminate: () => scope.close(),
  };
}

/**
 * The page side: runs guests in one worker, one at a time in order.
 *
 * A worker can also die without a word (terminated, or its execution
 * stopped by the browser): with opts.stallMs > 0, a worker that sends
 * nothing for that long while a run is pending is declared lost — it says
 * 'alive' at least once a second while it runs — so no run hangs.
 */
export class GuestClient {
  /**
   * @param {{post: Function, listen: Function, terminate: Function}} endpoint
   * @param {{stallMs?: number}} [opts]
   */
  constructor(endpoint, opts = {}) {
    this.endpoint = endpoint;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, onOutput?: Function}>} */
    this.pending = new Map();
    this.lost = null;
    this.stallMs = opts.stallMs > 0 ? opts.stallMs : 0;
    this.heard = Date.now();
    this.watch = null;
    endpoint.listen((msg) => this.#receive(msg), (why) => this.#fail(new WorkerLostError(why)));
  }

  #watchdog() {
    if (!this.stallMs || this.watch || this.lost) return;
    this.watch = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.watch);
        this.watch = null;
      } else if (Date.now() - this.heard > this.stallMs) {
        this.#fail(new WorkerLostError(`no sign of life for ${this.stallMs} ms`));
        this.endpoint.terminate();
      }
    }, Math.max(50, Math.min(1000, this.stallMs / 4)));
  }

  /**
   * Runs module with input and limits; resolves with the report, rejects if
   * the host or the worker fails. onOutput(fd, bytes) receives the guest's
   * stdout (1) and stderr (2) as it is written. opts: {key, control,
   * checkpoint, resume, awaitFirst} (see the message union above) and
   * onCheckpoint(msg, rebase, proceed), told each checkpoint; rebase()
   * makes the next one full, proceed() lets a run waiting after its first
   * checkpoint (awaitFirst) go on.
   */
  run(module, input = {}, limits = {}, onOutput = null, opts = {}) {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.heard = Date.now();
      this.pending.set(id, { resolve, reject, onOutput });
      this.#watchdog();
      try {
        const msg = { id, type: 'run', module, input, limits };
        if (opts.key) msg.key = opts.key;
        if (opts.control) msg.control = opts.control;
        if (opts.checkpoint) msg.checkpoint = opts.checkpoint;
        if (opts.resume) msg.resume = opts.resume;
        if (opts.awaitFirst) msg.awaitFirst = true;
        this.pending.get(id).onCheckpoint = opts.onCheckpoint;
        this.pending.get(id).onProgress = opts.onProgress;
        this.endpoint.post(msg);
      } catch (e) {
        this.pending.delete(id);
        reject(e);
      }
    });
  }

  /** Stops the worker; pending runs reject. */
  close() {
    this.#fail(new WorkerLostError('closed'));
    this.endpoint.terminate();
  }

  #receive(msg) {
    this.heard = Date.now();
    const p = msg && this.pending.get(msg.id);
    if (!p) return; // not ours, or already settled
    switch (msg.type) {
      case 'alive':
        break;
      case 'progress':
        if (p.onProgress) p.onProgress(msg.fuel);
        break;
      case 'checkpoint':
        if (p.onProgress) p.onProgress(msg.fuel);
        if (p.onCheckpoint) {
          p.onCheckpoint(msg, () => { if (!this.lost) this.endpoint.post({ id: msg.id, type: 'rebase' }); },
            () => { if (!this.lost) this.endpoint.post({ id: msg.id, type: 'proceed' }); });
        }
        break;
      case 'output':
        if (p.onOutput) p.onOutput(msg.fd, msg.data);
        break;
      case 'report':
        this.pending.delete(msg.id);
        p.resolve(msg.report);
        break;
      case 'error':
        this.pending.delete(msg.id);
        p.reject(new RemoteError(msg.message));
        break;
      default:
        this.#fail(new WorkerLostError(`unknown message type ${JSON.stringify(msg.type)}`));
        this.endpoint.terminate();
    }
  }

  #fail(err) {
    if (!this.lost) this.lost = err;
    if (this.watch) {
      clearInterval(this.watch);
      this.watch = null;
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.lost);
  }
}

/** The worker side: answers 'run' requests, one at a time in order. */
export function serveGuests(endpoint) {
  let queue = Promise.resolve();
  const cache = new Map(); // key → compiled guest, the last few
  const runs = new Map(); // id → checkpoint state of the run in progress
  endpoint.listen((msg) => {
    if (msg && msg.type === 'rebase') {
      const ck = runs.get(msg.id);
      if (ck) ck.rebase = true;
      return;
    }
    if (msg && msg.type === 'proceed') {
      const ck = runs.get(msg.id);
      if (ck && ck.proceed) ck.proceed();
      return;
    }
    queue = queue.then(() => serve(endpoint, msg, cache, runs));
  });
}

// guestFor compiles msg.module, once per key. A module the host refuses is
// left to run, which reports why.
async function guestFor(msg, cache) {
  if (typeof msg.key !== 'string') return msg.module;
  let g = cache.get(msg.key);
  if (!g) {
    try {
      g = await compile(msg.module);
    } catch (e) {
      if (e instanceof ModuleError) return msg.module;
      throw e;
    }
    if (cache.size >= 4) cache.delete(cache.keys().next().value);
    cache.set(msg.key, g);
  }
  return g;
}

// sliceHook returns the hook run() calls between fuel slices (and at host
// calls): it says 'alive' at most once a second and, given a control array,
// sleeps so that busy time ≤ duty% of the elapsed time. Atomics.wait blocks
// this worker only, never the page.
function sliceHook(endpoint, id, control) {
  let said = performance.now();
  const alive = () => {
    const t = performance.now();
    if (t - said >= 1000) {
      said = t;
      endpoint.post({ id, type: 'alive' });
    }
  };
  if (!(control instanceof Int32Array) || typeof Atomics.wait !== 'function') return alive;
  let mark = performance.now();
  let busy = 0;
  return () => {
    alive();
    const duty = Atomics.load(control, 0);
    const t = performance.now();
    busy += t - mark;
    mark = t;
    if (duty >= 100 || duty <= 0 || busy < 20) return;
    const rest = (busy * (100 - duty)) / duty;
    try { Atomics.wait(control, 1, 0, rest); } catch { return; } // not allowed on this thread
    busy = 0;
    mark = performance.now();
  };
}

async function serve(endpoint, msg, cache = new Map(), runs = new Map()) {
  const id = msg && msg.id;
  if (!msg || msg.type !== 'run') {
    endpoint.post({ id, type: 'error', message: `unknown request type ${JSON.stringify(msg && msg.type)}` });
    return;
  }
  // Output goes out in chunks of up to 64 KiB, in order, before the report.
  const bufs = { 1: [], 2: [] }, sizes = { 1: 0, 2: 0 };
  const flush = (fd) => {
    if (sizes[fd] === 0) return;
    const data = new Uint8Array(sizes[fd]);
    let o = 0;
    for (const b of bufs[fd]) { data.set(b, o); o += b.length; }
    bufs[fd] = [];
    sizes[fd] = 0;
    endpoint.post({ id, type: 'output', fd, data }, [data.buffer]);
  };
  let since = 0; // output bytes since the last checkpoint sent
  const write = (fd) => (b) => {
    bufs[fd].push(b);
    sizes[fd] += b.length;
    since += b.length;
    if (sizes[fd] >= 64 << 10) flush(fd);
  };
  try {
    endpoint.post({ id, type: 'alive' });
    const guest = await guestFor(msg, cache);
    const input = { ...msg.input, stdout: write(1), stderr: write(2), onMemory: sliceHook(endpoint, id, msg.control) };
    const limits = { ...msg.limits };
    const ck = { base: null, seq: 0n, rebase: false, await: !!msg.awaitFirst, proceed: null };
    if (msg.resume) {
      const r = msg.resume;
      let d;
      try {
        d = await decode(r.bytes, { ...DEFAULT_LIMITS, maxPages: r.maxPages > 0 ? Math.min(r.maxPages, DEFAULT_LIMITS.maxPages) : DEFAULT_LIMITS.maxPages });
      } catch (e) {
        throw new Error(`resume: snapshot: ${e.message}`);
      }
      if (hex(d.digest.state) !== r.stateHash || d.snapshot.fuel !== BigInt(r.fuel)) {
        throw new Error(`resume: the snapshot is not checkpoint ${r.seq} (state ${r.stateHash.slice(0, 12)} at fuel ${r.fuel})`);
      }
      input.resume = d.snapshot;
      ck.base = d.digest;
      ck.seq = BigInt(r.seq);
    }
    if (msg.checkpoint && BigInt(msg.checkpoint.every) > 0n) {
      const every = BigInt(msg.checkpoint.every);
      const ticks = BigInt(msg.checkpoint.ticks || 1);
      limits.checkpointEvery = ticks > 1n && every % ticks === 0n ? every / ticks : every;
      runs.set(id, ck);
      // Each checkpoint: encoded here, off the page's thread, as a delta
      // against the last one sent (as the native worker does); skipped if
      // too large to send, keeping the same base.
      input.onCheckpoint = async (cp) => {
        const seq = (cp.fuel - 1n) / every;
        if (seq <= ck.seq) {
          endpoint.post({ id, type: 'progress', fuel: cp.fuel }); // a tick between grid points
          return;
        }
        ck.seq = seq;
        const t0 = performance.now();
        const base = ck.rebase ? null : ck.base;
        ck.rebase = false;
        const file = await cp.encode(base ? { base, compress: true } : { compress: true });
        if (file.length + since > MAX_CHECKPOINT) return;
        flush(1);
        flush(2);
        endpoint.post({
          id, type: 'checkpoint', seq, fuel: cp.fuel, stateHash: cp.stateHash, base: base ? hex(base.state) : '',
          snapshot: file, costMs: cp.captureMs + (performance.now() - t0),
        });
        ck.base = cp.digest;
        since = 0;
        if (ck.await) {
          // The lease may be an audit of just this link: wait for the
          // coordinator's answer (relayed as 'proceed'), which comes after
          // a revocation if there is one (docs/protocol.md). Alive while
          // waiting; a minute at most.
          ck.await = false;
          const beat = setInterval(() => endpoint.post({ id, type: 'alive' }), 1000);
          await new Promise((resolve) => {
            const t = setTimeout(resolve, AWAIT_FIRST_MS);
            ck.proceed = () => { clearTimeout(t); resolve(); };
          });
          clearInterval(beat);
          ck.proceed = null;
        }
      };
    }
    const report = await run(guest, input, limits);
    flush(1);
    flush(2);
    endpoint.post({ id, type: 'report', report });
  } catch (e) {
    flush(1);
    flush(2);
    endpoint.post({ id, type: 'error', message: String((e && e.message) || e) });
  } finally {
    runs.delete(id);
  }
}
