// The JavaScript worker: connects to a coordinator over WebSocket, speaks
// the native worker's protocol (docs/protocol.md, internal/worker) — hello,
// long-polled lease requests, heartbeats, results, release and bye — and runs
// each lease in a guest worker (a Web Worker in browsers, a worker thread in
// Node), one per slot, through protocol.js's GuestClient and runtime.js's run.
//
// It reconnects with exponential backoff and jitter (100 ms doubling to 5 s),
// pauses for as long as any pause reason holds (a hidden tab, a battery, the
// user), and caps its busy fraction at a duty cycle. When the socket closes,
// every run of the session is stopped and every pending promise settles: the
// guest workers are terminated (their runs reject), module fetches are raced
// against the session's end. Nothing is left hanging (NetWorker.inflight).
//
// Plain ES module, no Node-only API: the embedding supplies WebSocket,
// fetch and newGuest.

import { WorkerLostError, RemoteError } from '../protocol.js';
import {
  PROTOCOL_VERSION, SUBPROTOCOL, MAX_SLOTS, MAX_RESULT_MESSAGE, FEATURE_CHECKPOINT,
  parseMessage, encodeMessage, u64, toBase64, fromBase64, sha256Hex, WireError, siteName,
} from './wire.js';

/** argv[0] of every task, as the native worker names it. */
export const ARGV0 = 'main.wasm';

/** The session ended (socket closed, coordinator silent, bad message). */
export class SessionLostError extends Error {
  constructor(why) { super(`session lost: ${why}`); this.name = 'SessionLostError'; }
}

/** Retrying would not help (the coordinator refuses our protocol version). */
class FatalError extends Error {}

/** The coordinator's WebSocket URL for a base URL. */
export function wsURL(server) {
  const u = new URL('/v1/workers/ws', server);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

const now = () => (globalThis.performance ? performance.now() : Date.now());

/**
 * @typedef {object} Options
 * @property {string} server     coordinator base URL, http(s)://
 * @property {string} name       stable worker name (1–128 bytes)
 * @property {number} [slots]    parallel runs, 1–256; default 1
 * @property {number} [duty]     busy-fraction cap, percent 1–100; default 100
 * @property {string} [runtime]  told to the coordinator in hello
 * @property {string} [token]    a volunteer token (crowdrun token create --kind
 *   volunteer), sent in hello: the work is credited to, and checked against,
 *   its account; without one the account is "anon:" + name
 * @property {string} [site]     the web site this work is done for (a DNS
 *   host name; siteName), sent in hello: the site's credit shows the
 *   verified work done under its name. Attribution only: the work is still
 *   checked and credited as the account's
 * @property {() => import('../protocol.js').GuestClient} newGuest  a guest worker
 * @property {typeof WebSocket} [WebSocket]
 * @property {typeof fetch} [fetch]
 * @property {boolean} [checkpoints]  declare the checkpoint feature (the
 *   environment can hash and compress snapshots: crypto.subtle,
 *   CompressionStream, or Node)
 * @property {boolean} [sliceThrottle]  guests can sleep between fuel slices
 *   (a SharedArrayBuffer is available): the duty cycle holds within a run,
 *   not only between runs
 * @property {number} [minBackoffMs]  default 100
 * @property {number} [maxBackoffMs]  default 5000
 * @property {(level: string, msg: string, fields?: object) => void} [log]
 * @property {() => void} [onChange]  state or counters changed
 */

/** A worker; start() runs it until stop(). */
export class NetWorker {
  /** @param {Options} o */
  constructor(o) {
    if (!/^https?:\/\//.test(o.server || '')) throw new Error(`server ${JSON.stringify(o.server)} must start with http:// or https://`);
    if (!o.name || new TextEncoder().encode(o.name).length > 128) throw new Error('a worker name of 1 to 128 bytes is required');
    if (typeof o.newGuest !== 'function') throw new Error('newGuest is required');
    if (o.token !== undefined && o.token !== '' && (typeof o.token !== 'string' || o.token.length > 256 || /\s/.test(o.token))) {
      throw new Error('a token must be a string of at most 256 characters without spaces');
    }
    this.server = o.server.replace(/\/+$/, '');
    this.name = o.name;
    this.runtime = o.runtime || 'js';
    this.token = o.token || '';
    this.site = o.site ? siteName(o.site) : '';
    this.newGuest = o.newGuest;
    this.WebSocket = o.WebSocket || globalThis.WebSocket;
    this.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this.checkpoints = !!o.checkpoints;
    this.minBackoff = o.minBackoffMs || 100;
    this.maxBackoff = o.maxBackoffMs || 5000;
    this.log = o.log || (() => {});
    this.onChange = o.onChange || (() => {});
    this.slots = 1;
    this.duty = 100;
    // The duty cycle as the guests read it between slices, if they can.
    this.control = o.sliceThrottle && typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(8)) : null;
    this.setSlots(o.slots || 1);
    this.setDuty(o.duty || 100);

    /** off | connecting | working | paused | backoff | failed */
    this.state = 'off';
    this.error = '';
    this.stats = { sessions: 0, tasks: 0, fuel: 0n, busyMs: 0, refused: 0, released: 0, checkpoints: 0, resumes: 0 };
    this.enabled = false;
    this.pauses = new Set();
    /** Every promise of a run in progress; empty once everything settled. */
    this.inflight = new Set();
    this.guests = [];
    this.readyAt = []; // per slot: when the duty cycle lets it run again
    this.modules = new Map(); // hash → Promise<Uint8Array>
    this.sess = null;
    this.wakers = [];
    this.loopDone = null;
  }

  setSlots(n) {
    n = Math.floor(Number(n));
    if (!(n >= 1 && n <= MAX_SLOTS)) throw new Error(`slots must be between 1 and ${MAX_SLOTS}`);
    const changed = this.slots !== n;
    this.slots = n;
    // The coordinator learns the slot count in hello: reconnect to change it.
    if (changed && this.sess) this.#drain('slots changed');
  }

  setDuty(pct) {
    pct = Math.floor(Number(pct));
    if (!(pct >= 1 && pct <= 100)) throw new Error('duty must be between 1 and 100 (percent)');
    this.duty = pct;
    if (this.control) {
      Atomics.store(this.control, 0, pct);
      Atomics.notify(this.control, 1); // resting guests look again
    }
    this.#changed();
  }

  /** Starts working (consent given). Resolves when stop() has finished. */
  start() {
    if (!this.enabled) {
      this.enabled = true;
      this.loopDone = this.#loop();
    }
    this.#wake();
    return this.loopDone;
  }

  /** Stops working: running leases are given back, the session says bye. */
  async stop() {
    this.enabled = false;
    if (this.sess) this.#drain('contribution turned off');
    this.#wake();
    if (this.loopDone) await this.loopDone;
  }

  /** Pauses for a reason (hidden, battery, …) until resume(reason). */
  pause(reason) {
    if (this.pauses.has(reason)) return;
    this.pauses.add(reason);
    if (this.sess) this.#drain(`paused: ${reason}`);
    this.#changed();
  }

  resume(reason) {
    if (!this.pauses.delete(reason)) return;
    this.#wake();
    this.#changed();
  }

  /** Closes every guest worker (for a page that goes away). */
  dispose() {
    for (const g of this.guests) if (g) g.close();
    this.guests = [];
  }

  #changed() {
    try { this.onChange(); } catch (e) { this.log('error', 'onChange failed', { err: String(e) }); }
  }

  #setState(s, err = '') {
    this.state = s;
    this.error = err;
    this.#changed();
  }

  #wake() {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  #sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() { clearTimeout(t); resolve(); }
      this.wakers.push(done);
    });
  }

  async #loop() {
    let backoff = this.minBackoff;
    while (this.enabled) {
      if (this.pauses.size > 0) {
        this.#setState('paused');
        await this.#sleep(60_000);
        continue;
      }
      const start = now();
      try {
        await this.#session();
        backoff = this.minBackoff; // ended on purpose (pause, slots, stop)
        continue;
      } catch (e) {
        if (!this.enabled) break;
        if (e instanceof FatalError) {
          this.enabled = false;
          this.#setState('failed', e.message);
          return;
        }
        if (now() - start > 10_000) backoff = this.minBackoff;
        const d = backoff / 2 + Math.random() * (backoff / 2);
        this.log('warn', 'disconnected; reconnecting', { err: e.message, in_ms: Math.round(d) });
        this.#setState('backoff', e.message);
        await this.#sleep(d);
        backoff = Math.min(2 * backoff, this.maxBackoff);
      }
    }
    this.#setState('off');
  }

  // One connection, from hello to its end. Resolves if it ended on purpose
  // (drained), rejects with why it was lost otherwise.
  #session() {
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WebSocket(wsURL(this.server), SUBPROTOCOL);
      } catch (e) {
        reject(new SessionLostError(e.message));
        return;
      }
      let endSession;
      const ended = new Promise((_, rej) => { endSession = rej; });
      ended.catch(() => {});
      const s = {
        ws, nextId: 0, welcome: null, requested: false, running: new Map(), lastHeard: now(),
        timers: [], done: false, ended, draining: false, checkpointIds: new Map(),
      };
      this.sess = s;
      const end = (err) => {
        if (s.done) return;
        s.done = true;
        this.sess = null;
        for (const t of s.timers) { clearTimeout(t); clearInterval(t); }
        endSession(err || new SessionLostError('session ended'));
        // Stop every run of this session: its leases are the coordinator's
        // again. Closing a guest worker rejects its pending run. Idle
        // guests go too: off, paused or disconnected, the page keeps no
        // Web Worker (nor its memory) alive.
        for (let i = 0; i < this.guests.length; i++) this.#closeGuest(i);
        s.running.clear();
        try { ws.close(err ? 4000 : 1000, err ? 'worker: ' + err.message.slice(0, 100) : 'worker leaving'); } catch { /* already closed */ }
        if (err) reject(err); else resolve();
        this.#changed();
      };
      s.end = end;
      s.timers.push(setTimeout(() => { if (!s.welcome) end(new SessionLostError('no welcome within 10s')); }, 10_000));
      ws.onopen = () => {
        const hello = { type: 'hello', protocol: PROTOCOL_VERSION, worker: this.name, slots: this.slots, runtime: this.runtime };
        if (this.checkpoints) hello.features = [FEATURE_CHECKPOINT];
        if (this.token) hello.token = this.token;
        if (this.site) hello.site = this.site;
        this.#send(s, hello);
      };
      ws.onerror = () => {}; // onclose follows with the code
      ws.onclose = (e) => end(new SessionLostError(`connection closed (${e.code}${e.reason ? ' ' + e.reason : ''})`));
      ws.onmessage = (e) => {
        let m;
        try {
          m = parseMessage(e.data);
        } catch (err) {
          end(new SessionLostError('coordinator sent a bad message: ' + err.message));
          return;
        }
        s.lastHeard = now();
        try {
          this.#receive(s, m);
        } catch (err) {
          end(new SessionLostError(err instanceof WireError ? 'coordinator sent a bad message: ' + err.message : String(err && err.stack || err)));
        }
      };
    });
  }

  #send(s, m) {
    if (s.done) return 0;
    m.id = ++s.nextId;
    s.ws.send(encodeMessage(m));
    return m.id;
  }

  #receive(s, m) {
    if (!s.welcome) {
      if (m.type === 'welcome') {
        s.welcome = m;
        this.stats.sessions++;
        const hb = Number(m.heartbeat_ms) > 0 ? Number(m.heartbeat_ms) : 2000;
        s.timers.push(setInterval(() => this.#heartbeat(s, hb), hb));
        this.#setState('working');
        this.#pump(s);
        return;
      }
      if (m.type === 'error') {
        const why = `coordinator refused us: ${m.code}: ${m.message}`;
        s.end(m.code === 'unsupported_version' ? new FatalError(why) : new SessionLostError(why));
        return;
      }
      s.end(new SessionLostError(`expected welcome, got ${m.type}`));
      return;
    }
    switch (m.type) {
      case 'leases':
        s.requested = false;
        if (!Array.isArray(m.leases)) throw new WireError('leases: "leases" is not a list');
        for (const l of m.leases) {
          if (!l || typeof l.lease_id !== 'string') throw new WireError('leases: a lease has no lease_id');
          const slot = s.draining ? -1 : this.#freeSlot(s);
          if (slot < 0) {
            this.#send(s, { type: 'release', lease_ids: [l.lease_id] });
            this.stats.released++;
            continue;
          }
          this.#start(s, l, slot);
        }
        this.#pump(s);
        break;
      case 'revoke':
        for (const id of m.lease_ids || []) {
          const r = s.running.get(id);
          if (!r) continue;
          r.revoked = true;
          s.running.delete(id);
          this.#closeGuest(r.slot); // the only way to stop a guest mid-run
        }
        this.#pump(s);
        break;
      case 'error': {
        if (m.code === 'lease_not_held' || m.code === 'too_large') this.stats.refused++;
        // A refused checkpoint: the replica's next one goes full.
        const ck = s.checkpointIds.get(Number(m.reply_to));
        if (ck) {
          s.checkpointIds.delete(Number(m.reply_to));
          ck.rebase();
          if (ck.proceed) ck.proceed();
        }
        this.log('warn', 'coordinator refused a message', { code: m.code, message: m.message });
        break;
      }
      case 'ack': {
        // A lease's first checkpoint answered: the run goes on (a
        // revocation, if the lease was an audit of that link, came first).
        const ck = s.checkpointIds.get(Number(m.reply_to));
        s.checkpointIds.delete(Number(m.reply_to));
        if (ck && ck.proceed) ck.proceed();
        break;
      }
      case 'heartbeat_ack':
        break;
      default:
        this.log('warn', 'unexpected message', { type: m.type });
    }
    this.#changed();
  }

  #heartbeat(s, hb) {
    if (now() - s.lastHeard > 3 * hb) {
      s.end(new SessionLostError(`coordinator silent for ${Math.round(now() - s.lastHeard)} ms`));
      return;
    }
    const beat = { type: 'heartbeat', running: [...s.running.keys()] };
    const progress = {};
    let any = false;
    for (const [id, r] of s.running) if (r.progress > 0n) { progress[id] = r.progress; any = true; }
    if (any) beat.progress = progress;
    this.#send(s, beat);
  }

  #freeSlot(s) {
    const busy = new Set([...s.running.values()].map((r) => r.slot));
    const t = now();
    for (let i = 0; i < this.slots; i++) if (!busy.has(i) && !(this.readyAt[i] > t)) return i;
    return -1;
  }

  // Asks for as many leases as slots are free (one request outstanding at a
  // time, as the native worker does); a slot resting for the duty cycle is
  // not free until its rest is over.
  #pump(s) {
    if (s.done || s.draining || !s.welcome || s.requested || !this.enabled || this.pauses.size > 0) return;
    const busy = new Set([...s.running.values()].map((r) => r.slot));
    const t = now();
    let free = 0, nextReady = Infinity;
    for (let i = 0; i < this.slots; i++) {
      if (busy.has(i)) continue;
      if (this.readyAt[i] > t) nextReady = Math.min(nextReady, this.readyAt[i]);
      else free++;
    }
    if (free > 0) {
      this.#send(s, { type: 'lease_request', max: free });
      s.requested = true;
    } else if (nextReady < Infinity && !s.restTimer) {
      s.restTimer = setTimeout(() => { s.restTimer = null; this.#pump(s); }, nextReady - t + 1);
      s.timers.push(s.restTimer);
    }
  }

  #guest(slot) {
    if (!this.guests[slot] || this.guests[slot].lost) this.guests[slot] = this.newGuest();
    return this.guests[slot];
  }

  #closeGuest(slot) {
    const g = this.guests[slot];
    this.guests[slot] = null;
    if (g) g.close();
  }

  #start(s, lease, slot) {
    const r = { lease, slot, revoked: false, progress: 0n };
    s.running.set(lease.lease_id, r);
    const p = this.#run(s, r).catch((e) => this.log('error', 'running a lease failed', { lease: lease.lease_id, err: String(e && e.stack || e) }));
    this.inflight.add(p);
    p.finally(() => { this.inflight.delete(p); this.#changed(); });
  }

  async #run(s, r) {
    const l = r.lease;
    const start = now();
    const out = { 1: [], 2: [] };
    let report;
    try {
      let bytes;
      try {
        bytes = await Promise.race([this.#module(l.module_hash), s.ended]);
      } catch (e) {
        if (s.done || r.revoked) return;
        // Not the task's verdict: the network or a coordinator going away
        // (the chaos harness, docs/chaos.md, caught this reported as a trap
        // and accepted). Give the lease back; another try runs it.
        s.running.delete(l.lease_id);
        this.#send(s, { type: 'release', lease_ids: [l.lease_id] });
        this.stats.released++;
        this.log('warn', 'gave a lease back', { lease: l.lease_id, err: 'could not fetch the module: ' + e.message });
        this.#pump(s);
        return;
      }
      if (!report) {
        const input = {
          args: [ARGV0, ...(l.args || [])], env: l.env || [], stdin: fromBase64(l.stdin, 'stdin'),
          files: (l.files || []).map((f) => ({ name: f.name, data: fromBase64(f.data, 'file data') })),
          seed: u64(l.seed, 'seed'),
        };
        const lim = l.limits || {};
        // The wall-clock limit is a backstop (fuel is the real limit): a
        // worker that rests for its duty cycle gives runs that much longer.
        const timeoutMs = Number(lim.timeout_ms) > 0 ? Math.ceil((Number(lim.timeout_ms) * 100) / this.duty) : 0;
        const limits = { memoryBytes: Number(lim.memory_bytes) || 0, maxOutput: Number(lim.max_output) || 0, timeoutMs, fuel: u64(lim.fuel, 'limits.fuel') };
        const opts = { key: l.module_hash, control: this.control };
        if (this.checkpoints && l.resume) {
          opts.resume = await Promise.race([this.#snapshot(s, l), s.ended]);
          r.progress = opts.resume.fuel;
          this.stats.resumes++;
        }
        const every = this.checkpoints ? u64(l.checkpoint_every, 'checkpoint_every') : 0n;
        if (every > 0n) {
          opts.checkpoint = { every, ticks: 8 };
          opts.onProgress = (fuel) => { r.progress = BigInt(fuel); };
          const sent = { 1: 0, 2: 0 }; // output bytes sent with checkpoints
          // A lease waits for the answer to its first checkpoint
          // (docs/protocol.md, "A lease's first checkpoint waits for its
          // answer").
          opts.awaitFirst = true;
          let first = true;
          opts.onCheckpoint = (c, rebase, proceed) => {
            if (s.done || r.revoked) {
              if (first) proceed(); // nobody will answer; the guest is being stopped anyway
              return;
            }
            r.progress = BigInt(c.fuel);
            const since = (fd) => {
              const all = concat(out[fd]);
              const b = all.subarray(sent[fd]);
              sent[fd] = all.length;
              return b;
            };
            const m = {
              type: 'checkpoint', lease_id: l.lease_id, seq: BigInt(c.seq), fuel: BigInt(c.fuel), state_hash: c.stateHash,
              snapshot: toBase64(c.snapshot), stdout: toBase64(since(1)), stderr: toBase64(since(2)),
              cost_ms: Math.max(0, Number(c.costMs) || 0),
            };
            if (c.base) m.base = c.base;
            const id = this.#send(s, m);
            if (id) s.checkpointIds.set(id, { rebase, proceed: first ? proceed : null });
            else if (first) proceed();
            first = false;
            this.stats.checkpoints++;
          };
        }
        const guest = this.#guest(r.slot);
        report = await guest.run(bytes, input, limits, (fd, b) => out[fd] && out[fd].push(b), opts);
      }
    } catch (e) {
      if (s.done || r.revoked) return; // the session or the lease is gone; nobody wants it
      // The guest worker died or the host failed: no verdict to report.
      // Give the lease back so another worker runs it.
      s.running.delete(l.lease_id);
      this.#send(s, { type: 'release', lease_ids: [l.lease_id] });
      this.stats.released++;
      this.log('warn', 'gave a lease back', { lease: l.lease_id, err: e instanceof WorkerLostError || e instanceof RemoteError ? e.message : String(e) });
      this.#closeGuest(r.slot);
      this.#pump(s);
      return;
    }
    if (s.done || r.revoked) return;
    s.running.delete(l.lease_id);
    const wall = now() - start;
    this.stats.busyMs += wall;
    // The duty cycle: a run that took w ms busy rests its slot for
    // w·(100−duty)/duty ms, unless the guest already rested between slices.
    if (this.duty < 100 && !this.control) this.readyAt[r.slot] = now() + (wall * (100 - this.duty)) / this.duty;
    this.#send(s, {
      type: 'result', lease_id: l.lease_id, status: report.status, exit_code: report.exit_code >>> 0,
      message: String(report.message || '').slice(0, MAX_RESULT_MESSAGE),
      stdout: toBase64(concat(out[1])), stderr: toBase64(concat(out[2])),
      fuel: BigInt(report.fuel || 0), wall_ms: Math.floor(report.wall_ms || 0),
    });
    this.stats.tasks++;
    this.stats.fuel += BigInt(report.fuel || 0);
    this.#pump(s);
  }

  // Fetches a module once, checking that its SHA-256 is the hash it was
  // asked by; a failed fetch is forgotten so the next lease tries again.
  #module(hash) {
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return Promise.reject(new Error(`bad module hash ${JSON.stringify(hash)}`));
    let p = this.modules.get(hash);
    if (!p) {
      p = (async () => {
        const resp = await this.fetch(`${this.server}/v1/modules/${hash}`);
        if (!resp.ok) throw new Error(`GET module ${hash.slice(0, 12)}: ${resp.status} ${resp.statusText}`);
        const b = new Uint8Array(await resp.arrayBuffer());
        if ((await sha256Hex(b)) !== hash) throw new Error(`module ${hash.slice(0, 12)}: content does not match its hash`);
        return b;
      })();
      this.modules.set(hash, p);
      p.catch(() => { if (this.modules.get(hash) === p) this.modules.delete(hash); });
    }
    return p;
  }

  // Fetches the snapshot a lease resumes from, with the session's token,
  // checking its hash; the guest worker decodes and checks it.
  async #snapshot(s, l) {
    const r = l.resume;
    if (!r || !/^[0-9a-f]{64}$/.test(r.snapshot || '') || !/^[0-9a-f]{64}$/.test(r.state_hash || '')) throw new Error('bad resume point');
    const resp = await this.fetch(`${this.server}/v1/workers/snapshots/${r.snapshot}`, {
      headers: { Authorization: `Session ${s.welcome.session_id}:${s.welcome.session_token}` },
    });
    if (!resp.ok) throw new Error(`GET snapshot ${r.snapshot.slice(0, 12)}: ${resp.status} ${resp.statusText}`);
    const bytes = new Uint8Array(await resp.arrayBuffer());
    if ((await sha256Hex(bytes)) !== r.snapshot) throw new Error(`snapshot ${r.snapshot.slice(0, 12)}: content does not match its hash`);
    const memory = Number((l.limits && l.limits.memory_bytes) || 0);
    return {
      bytes, stateHash: r.state_hash, fuel: u64(r.fuel, 'resume.fuel'), seq: u64(r.seq, 'resume.seq'),
      maxPages: memory > 0 ? Math.ceil(memory / 65536) : 0,
    };
  }

  // Ends the session on purpose: running leases go back to the coordinator
  // at once, then bye.
  #drain(why) {
    const s = this.sess;
    if (!s || s.draining) return;
    s.draining = true;
    this.log('info', 'leaving the session', { why });
    const ids = [...s.running.keys()];
    if (s.welcome) {
      if (ids.length) {
        this.#send(s, { type: 'release', lease_ids: ids });
        this.stats.released += ids.length;
      }
      this.#send(s, { type: 'bye' });
    }
    s.end(null);
  }
}

function concat(chunks) {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const b = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { b.set(c, o); o += c.length; }
  return b;
}
