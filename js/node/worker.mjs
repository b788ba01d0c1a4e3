// The guest side of run.mjs: runs one module in a worker thread so that the
// main thread can stop it at the wall-clock limit even while wasm is busy.
// stdout goes through a shared buffer the main thread drains if it has to
// terminate us; stderr is unbuffered, as in `crowdrun run`.
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { run } from '../runtime.js';

const { bytes, input, limits, out, mem } = workerData;
const outLen = new Int32Array(out, 0, 1);
const outBuf = new Uint8Array(out, 8);
const peak = new Float64Array(mem);

function writeAll(fd, b) {
  let off = 0;
  while (off < b.length) {
    try {
      off += fs.writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function flush() {
  const n = Atomics.load(outLen, 0);
  if (n === 0) return;
  const b = outBuf.slice(0, n);
  Atomics.store(outLen, 0, 0);
  writeAll(1, b);
}

function stdout(b) {
  const n = Atomics.load(outLen, 0);
  if (n + b.length > outBuf.length) {
    flush();
    if (b.length >= outBuf.length) return writeAll(1, b);
  }
  const m = Atomics.load(outLen, 0);
  outBuf.set(b, m);
  Atomics.store(outLen, 0, m + b.length);
}

try {
  parentPort.postMessage({ type: 'started' }); // the wall clock starts now
  const rep = await run(bytes, {
    ...input,
    stdout,
    stderr: (b) => writeAll(2, b),
    onMemory: (n) => { peak[0] = n; },
  }, limits);
  flush();
  parentPort.postMessage({ type: 'report', report: rep });
} catch (e) {
  flush();
  parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) });
}
