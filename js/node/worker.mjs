// The guest side of run.mjs: runs one module in a worker thread so that the
// main thread can stop it at the wall-clock limit even while wasm is busy.
// stdout goes through a shared buffer the main thread drains if it has to
// terminate us; stderr is unbuffered, as in `crowdrun run`.
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { run } from '../runtime.js';
import { CheckpointWriter } from './checkpoint-dir.mjs';

const { bytes, input, limits, out, mem, ckpt } = workerData;
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

// A checkpoint directory's logs get every output byte; checkpoints are
// written from here (internal/cli's format, checkpoint-dir.mjs).
let writer = null, out1 = stdout, out2 = (b) => writeAll(2, b);
if (ckpt) {
  writer = new CheckpointWriter(ckpt.dir, ckpt.nOut, ckpt.nErr);
  ({ stdout: out1, stderr: out2 } = writer.wrap(out1, out2));
}

try {
  parentPort.postMessage({ type: 'started' }); // the wall clock starts now
  const rep = await run(bytes, {
    ...input,
    stdout: out1,
    stderr: out2,
    onMemory: (n) => { peak[0] = n; },
    onCheckpoint: writer ? (cp) => writer.save(cp, flush) : undefined,
  }, limits);
  flush();
  if (writer) writer.close();
  parentPort.postMessage({ type: 'report', report: rep });
} catch (e) {
  flush();
  parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) });
}
