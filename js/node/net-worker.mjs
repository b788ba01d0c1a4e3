// crowdrun's worker on Node: `node js/node/run.mjs --server URL [--slots N]
// [--name NAME] [--duty PCT] [--token TOKEN] [--site HOST] [--quiet]` (run.mjs hands its
// argv to main).
// The same worker as the browser's (../browser/client.js): it speaks the
// native worker's WebSocket protocol and runs each lease in a worker thread,
// one per slot, with runtime.js.
//
// Node 22 has a global WebSocket; Node 20 does not, so this file carries a
// minimal RFC 6455 client (text frames, fragmentation, ping/pong, close) over
// node:http — the JavaScript host stays dependency-free and embeddable
// without node_modules. Loaded as a worker thread (workerData.crowdrunGuest),
// the same file serves guests instead.

import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import crypto from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { GuestClient, serveGuests } from '../protocol.js';
import { NetWorker } from '../browser/client.js';
import { MAX_MESSAGE } from '../browser/wire.js';

if (!isMainThread && workerData && workerData.crowdrunGuest) {
  serveGuests({
    post: (msg, transfer = []) => parentPort.postMessage(msg, transfer),
    listen(onMessage) { parentPort.on('message', onMessage); },
    terminate: () => process.exit(0),
  });
}

/** A guest worker thread, seen from the main thread. */
export function newGuest() {
  const w = new Worker(new URL(import.meta.url), { workerData: { crowdrunGuest: true } });
  w.unref();
  return new GuestClient({
    post: (msg, transfer = []) => w.postMessage(msg, transfer),
    listen(onMessage, onFailure) {
      w.on('message', onMessage);
      w.on('error', (e) => onFailure(String((e && e.message) || e)));
      w.on('messageerror', () => onFailure('a message from the worker could not be read'));
      w.on('exit', (code) => onFailure(`worker thread exited (${code})`));
    },
    terminate: () => { w.terminate(); },
  }, { stallMs: 30_000 });
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// The sockets not closed yet, so that main can let the last frames (release,
// bye, close) reach the coordinator before the process exits.
const open = new Set();

/**
 * The subset of the browser's WebSocket the worker uses — constructor(url,
 * protocol), send(text), close(code, reason), readyState, protocol, and the
 * onopen/onmessage/onerror/onclose handlers — over node:http.
 */
export class MiniWebSocket {
  constructor(url, protocol) {
    this.readyState = 0;
    this.protocol = '';
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    this.socket = null;
    this.buf = Buffer.alloc(0);
    this.frags = [];
    this.fragLen = 0;
    this.closeSent = false;
    open.add(this);
    this.finished = new Promise((resolve) => { this.finish = resolve; });
    const u = new URL(url);
    const key = crypto.randomBytes(16).toString('base64');
    const mod = u.protocol === 'wss:' ? https : http;
    const req = mod.request({
      host: u.hostname, port: u.port || (u.protocol === 'wss:' ? 443 : 80), path: u.pathname + u.search,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Protocol': protocol },
    });
    req.setTimeout(10_000, () => req.destroy(new Error('handshake timed out')));
    req.on('response', (res) => { res.resume(); this.#fail(1006, `handshake refused: HTTP ${res.statusCode}`); });
    req.on('error', (e) => this.#fail(1006, e.message));
    req.on('upgrade', (res, socket, head) => {
      req.setTimeout(0);
      const want = crypto.createHash('sha1').update(key + GUID).digest('base64');
      if (res.headers['sec-websocket-accept'] !== want) {
        socket.destroy();
        this.#fail(1006, 'handshake: bad Sec-WebSocket-Accept');
        return;
      }
      this.protocol = res.headers['sec-websocket-protocol'] || '';
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('data', (d) => this.#data(d));
      socket.on('error', () => {});
      socket.on('close', () => this.#fail(this.closeCode || 1006, this.closeReason || 'connection lost'));
      this.readyState = 1;
      this.#emit('open', {});
      if (head && head.length) this.#data(head);
    });
    req.end();
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('WebSocket is not open');
    this.#frame(0x1, Buffer.from(String(text), 'utf8'));
  }

  close(code = 1000, reason = '') {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    if (!this.socket) return;
    const r = Buffer.from(String(reason).slice(0, 120), 'utf8');
    const p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code);
    r.copy(p, 2);
    this.#frame(0x8, p);
    this.closeSent = true;
    this.closeCode = code;
    this.closeReason = String(reason);
    // The coordinator answers with its close frame; give it a second.
    const t = setTimeout(() => this.#fail(code, String(reason)), 1000);
    t.unref();
  }

  #emit(type, ev) {
    const h = this['on' + type];
    if (typeof h === 'function') h.call(this, ev);
  }

  #fail(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    open.delete(this);
    this.finish();
    if (this.socket) this.socket.destroy();
    if (code === 1006) this.#emit('error', { message: reason });
    this.#emit('close', { code, reason, wasClean: code !== 1006 });
  }

  #frame(opcode, payload) {
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const f = Buffer.alloc(head + 4 + n);
    f[0] = 0x80 | opcode;
    if (n < 126) f[1] = 0x80 | n;
    else if (n < 65536) { f[1] = 0x80 | 126; f.writeUInt16BE(n, 2); }
    else { f[1] = 0x80 | 127; f.writeBigUInt64BE(BigInt(n), 2); }
    const mask = crypto.randomBytes(4);
    mask.copy(f, head);
    for (let i = 0; i < n; i++) f[head + 4 + i] = payload[i] ^ mask[i & 3];
    this.socket.write(f);
  }

  #data(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.readyState === 1 || this.readyState === 2) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0, op = b[0] & 0x0f, masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f, off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) { this.close(1009, 'message too big'); this.#fail(1009, 'message too big'); return; }
        len = Number(big); off = 10;
      }
      if (masked || (b[0] & 0x70) !== 0) { this.close(1002, 'protocol error'); this.#fail(1002, 'server frame masked or with reserved bits'); return; }
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.buf = b.subarray(off + len);
      if (op === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
        if (!this.closeSent) this.close(code === 1005 ? 1000 : code);
        this.closeCode = code;
        this.closeReason = reason;
        this.socket.end();
        this.#fail(code, reason);
        return;
      }
      if (op === 0x9) { if (this.readyState === 1) this.#frame(0xA, payload); continue; }
      if (op === 0xA) continue;
      if (op === 0x1 || op === 0x2 || op === 0x0) {
        if (op !== 0x0) { this.frags = []; this.fragLen = 0; this.fragOp = op; }
        this.frags.push(Buffer.from(payload));
        this.fragLen += payload.length;
        if (this.fragLen > MAX_MESSAGE) { this.close(1009, 'message too big'); this.#fail(1009, 'message too big'); return; }
        if (!fin) continue;
        const msg = Buffer.concat(this.frags);
        this.frags = [];
        this.fragLen = 0;
        if (this.fragOp === 0x1) this.#emit('message', { data: msg.toString('utf8') });
        else this.#emit('message', { data: msg }); // binary: the worker refuses it
        continue;
      }
      this.close(1002, 'protocol error');
      this.#fail(1002, `unknown opcode ${op}`);
      return;
    }
  }
}

const USAGE = `usage: node js/node/run.mjs --server URL [--slots N] [--name NAME] [--duty PCT] [--token TOKEN] [--site HOST] [--quiet]

Runs a crowdrun worker on Node: connects to the coordinator at URL and runs
the tasks it leases, each in a worker thread.

  --server URL   coordinator URL (env CROWDRUN_SERVER)
  --slots N      tasks run in parallel (default: the number of CPUs)
  --name NAME    this worker's stable name (default: the host name)
  --duty PCT     cap the busy fraction of each slot at PCT percent (default 100)
  --token TOKEN  a volunteer token (crowdrun token create --kind volunteer): the work is
                 credited to, and checked against, its account; without one the account
                 is anon:NAME, a fresh identity (default: env CROWDRUN_TOKEN)
  --site HOST    a web site's host name this work is done for: the site's credit shows it;
                 attribution only, the work is checked and credited as the account's
  --quiet        log warnings and errors only
`;

/**
 * The worker command. argv: the flags above. Resolves with the exit code:
 * 0 after SIGINT/SIGTERM (running leases given back), 1 if the coordinator
 * refuses us for good, 2 on a usage error.
 */
export async function main(argv) {
  const o = { server: process.env.CROWDRUN_SERVER || '', slots: os.availableParallelism ? os.availableParallelism() : os.cpus().length, name: os.hostname(), duty: 100, quiet: false, token: process.env.CROWDRUN_TOKEN || '', site: '' };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i], v = null;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    const val = () => {
      if (v !== null) return v;
      if (i + 1 >= argv.length) throw new Error(`flag ${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--server': case '-server': o.server = val(); break;
      case '--slots': case '-slots': o.slots = Number(val()); break;
      case '--name': case '-name': o.name = val(); break;
      case '--duty': case '-duty': o.duty = Number(val()); break;
      case '--token': case '-token': o.token = val(); break;
      case '--site': case '-site': o.site = val(); break;
      case '--quiet': case '-quiet': o.quiet = true; break;
      case '-h': case '--help': process.stdout.write(USAGE); return 0;
      default:
        process.stderr.write(`unknown argument ${a}\n${USAGE}`);
        return 2;
    }
  }
  let w;
  try {
    if (!o.server) throw new Error('--server URL is required');
    w = new NetWorker({
      server: o.server, name: o.name, slots: o.slots, duty: o.duty, token: o.token, site: o.site,
      runtime: `js/node ${process.version}`,
      WebSocket: globalThis.WebSocket || MiniWebSocket,
      newGuest, sliceThrottle: true, checkpoints: true,
      log: (level, msg, fields = {}) => {
        if (o.quiet && level === 'info') return;
        process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${msg} worker=${o.name}${Object.entries(fields).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('')}\n`);
      },
    });
  } catch (e) {
    process.stderr.write(`crowdrun worker: ${e.message}\n${USAGE}`);
    return 2;
  }
  let lastState = '';
  w.onChange = () => {
    if (w.state === lastState || w.state === 'backoff' || w.state === 'connecting') return; // the warning said it
    lastState = w.state;
    if (!o.quiet || w.state === 'failed') process.stderr.write(`${new Date().toISOString()} INFO ${w.state}${w.error ? ' err=' + JSON.stringify(w.error) : ''} worker=${o.name}\n`);
  };
  const stop = () => { w.stop(); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await w.start();
  // Let the last frames out before the process exits.
  await Promise.race([Promise.all([...open].map((s) => s.finished)), new Promise((r) => setTimeout(r, 2000))]);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  w.dispose();
  if (w.state === 'failed') {
    process.stderr.write(`crowdrun worker: ${w.error}\n`);
    return 1;
  }
  return 0;
}

// Run directly: node js/node/net-worker.mjs --server URL ...
if (isMainThread && process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
