// The worker protocol (protocol.js) over a real Node worker thread.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { GuestClient, WorkerLostError, RemoteError } from './protocol.js';
import { prepareModule } from './node/preparer.mjs';

const protocolURL = new URL('./protocol.js', import.meta.url).href;

// A worker thread serving guests; `extra` runs in it after it is set up.
function nodeEndpoint(extra = '') {
  const src = `
    import { parentPort } from 'node:worker_threads';
    import { serveGuests } from ${JSON.stringify(protocolURL)};
    serveGuests({
      post: (m, t) => parentPort.postMessage(m, t),
      listen: (f) => parentPort.on('message', f),
      terminate: () => process.exit(0),
    });
    ${extra}`;
  const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(src)));
  return {
    worker: w,
    post: (m, t) => w.postMessage(m, t),
    listen(onMessage, onFailure) {
      w.on('message', onMessage);
      w.on('error', (e) => onFailure(e.message));
      w.on('messageerror', () => onFailure('a message could not be read'));
      w.on('exit', (code) => onFailure(`exited with code ${code}`));
    },
    terminate: () => w.terminate(),
  };
}

// (module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
//   (memory (export "memory") 1) (data (i32.const 16) "hi\n")
//   (func (export "_start") ;; "hi\n" to fd 1, then to fd 2
//     (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 3))
//     (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//     (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))))
const HELLO_SUBMITTED = Uint8Array.from('0061736d01000000010c0260047f7f7f7f017f60000002230116776173695f736e617073686f745f70726576696577310866645f77726974650000030201010503010001071302066d656d6f72790200065f737461727400010a280126004100411036020041044103360200410141004101410810001a410241004101410810001a0b0b09010041100b0368690a'.match(/../g), (x) => parseInt(x, 16));
// A worker is given modules its coordinator instrumented: HELLO is.
const HELLO = await prepareModule(HELLO_SUBMITTED);

test('runs guests in order, streaming their output', async () => {
  const c = new GuestClient(nodeEndpoint());
  try {
    const out = [];
    const reps = await Promise.all([1, 2, 3].map(() => c.run(HELLO, { args: ['hello'] }, {}, (fd, b) => out.push([fd, new TextDecoder().decode(b)]))));
    assert.deepEqual(reps.map((r) => r.status), ['ok', 'ok', 'ok']);
    assert.equal(out.length, 6);
    const bad = await c.run(new Uint8Array([1, 2, 3]));
    assert.equal(bad.status, 'invalid_module');
    // A module that was not instrumented is never run as it is.
    const raw = await c.run(HELLO_SUBMITTED);
    assert.deepEqual([raw.status, raw.message], ['invalid_module', 'invalid module: not instrumented by crowdrun (no crowdrun custom section)']);
  } finally {
    c.close();
  }
});

test('a lost worker rejects every pending run, and later ones', async () => {
  // the worker dies while the first run is under way
  const ep = nodeEndpoint(`parentPort.on('message', () => setTimeout(() => { throw new Error('boom'); }, 0));`);
  const c = new GuestClient(ep);
  const a = c.run(HELLO), b = c.run(HELLO);
  await assert.rejects(a, WorkerLostError);
  await assert.rejects(b, WorkerLostError);
  await assert.rejects(c.run(HELLO), WorkerLostError);
  c.close();
});

test('closing rejects pending runs', async () => {
  const c = new GuestClient(nodeEndpoint());
  const p = c.run(HELLO, {}, {});
  c.close();
  await assert.rejects(p, WorkerLostError);
});

test('a host failure rejects that run only', async () => {
  const c = new GuestClient(nodeEndpoint());
  try {
    // an argument that is neither a string nor bytes makes the host itself fail
    await assert.rejects(c.run(HELLO, { args: [{}] }), RemoteError);
    assert.equal((await c.run(HELLO)).status, 'ok');
  } finally {
    c.close();
  }
});
