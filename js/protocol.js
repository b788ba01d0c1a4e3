// Running guests in a worker (a Web Worker in browsers, a worker thread in
// Node): an explicit message union, every message with an id and a type, and
// every pending request rejected when the worker dies — a lost worker never
// leaves a promise hanging.
//
//   to the worker    {id, type: 'run', module: Uint8Array, input, limits}
//                    input is runtime.run's without callbacks (args, env,
//                    stdin, files, seed); limits as runtime.run's
//   from the worker  {id, type: 'output', fd: 1|2, data: Uint8Array}
//                    {id, type: 'report', report}
//                    {id, type: 'error', message}       the host failed
//
// Both sides talk through an endpoint {post(msg, transfer), listen(onMessage,
// onFailure), terminate()}; workerEndpoint and selfEndpoint adapt the
// browser's Worker and worker scope. Plain ES module, no Node-only API.

import { run } from './runtime.js';

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

/** The page side: runs guests in one worker, one at a time in order. */
export class GuestClient {
  /** @param {{post: Function, listen: Function, terminate: Function}} endpoint */
  constructor(endpoint) {
    this.endpoint = endpoint;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, onOutput?: Function}>} */
    this.pending = new Map();
    this.lost = null;
    endpoint.listen((msg) => this.#receive(msg), (why) => this.#fail(new WorkerLostError(why)));
  }

  /**
   * Runs module with input and limits; resolves with the report, rejects if
   * the host or the worker fails. onOutput(fd, bytes) receives the guest's
   * stdout (1) and stderr (2) as it is written.
   */
  run(module, input = {}, limits = {}, onOutput = null) {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onOutput });
      try {
        this.endpoint.post({ id, type: 'run', module, input, limits });
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
    const p = msg && this.pending.get(msg.id);
    if (!p) return; // not ours, or already settled
    switch (msg.type) {
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
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.lost);
  }
}

/** The worker side: answers 'run' requests, one at a time in order. */
export function serveGuests(endpoint) {
  let queue = Promise.resolve();
  endpoint.listen((msg) => {
    queue = queue.then(() => serve(endpoint, msg));
  });
}

async function serve(endpoint, msg) {
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
  const write = (fd) => (b) => {
    bufs[fd].push(b);
    sizes[fd] += b.length;
    if (sizes[fd] >= 64 << 10) flush(fd);
  };
  try {
    const report = await run(msg.module, { ...msg.input, stdout: write(1), stderr: write(2) }, msg.limits);
    flush(1);
    flush(2);
    endpoint.post({ id, type: 'report', report });
  } catch (e) {
    flush(1);
    flush(2);
    endpoint.post({ id, type: 'error', message: String((e && e.message) || e) });
  }
}
