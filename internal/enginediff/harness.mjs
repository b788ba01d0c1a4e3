// The Node side of internal/enginediff: a long-lived process that runs
// instrumented modules in V8 through crowdrun's JavaScript host
// (../runtime.js, as a worker runs what its coordinator ships) and answers
// with what happened. One JSON request per line on stdin, one JSON answer
// per line on stdout, in order:
//
//   {"module": base64, "args": [...], "stdin": base64, "seed": "N",
//    "memory": bytes, "max_output": bytes, "fuel": "N", "every": "N",
//    "snapshots": bool, "keep": "SEQ", "resume": base64 snapshot?}
//   {"status", "exit_code", "message", "fuel": "N", "stdout": base64,
//    "stderr": base64, "checkpoints": [{"seq", "fuel", "hash", "stdout", "snapshot"?}]}
//
// A refused module answers with its verdict; a failure of the host itself
// with status "host_error" and the stack.
import readline from 'node:readline';
import { compile, run, ModuleError } from '../runtime.js';
import { decode } from '../snapshot.js';

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line === '') continue;
  const q = JSON.parse(line);
  const out = [], err = [], cps = [];
  let outLen = 0;
  let rep;
  try {
    const guest = await compile(new Uint8Array(Buffer.from(q.module, 'base64')));
    const resume = q.resume ? (await decode(new Uint8Array(Buffer.from(q.resume, 'base64')))).snapshot : undefined;
    rep = await run(guest, {
      resume,
      args: q.args, env: [], stdin: new Uint8Array(Buffer.from(q.stdin ?? '', 'base64')), seed: BigInt(q.seed),
      stdout: (b) => { out.push(Buffer.from(b)); outLen += b.length; },
      stderr: (b) => { err.push(Buffer.from(b)); },
      onCheckpoint: async (cp) => {
        const k = { seq: String(cp.seq), fuel: String(cp.fuel), hash: cp.stateHash, stdout: outLen };
        if (q.snapshots || String(cp.seq) === q.keep) k.snapshot = Buffer.from(await cp.encode()).toString('base64');
        cps.push(k);
      },
    }, { memoryBytes: q.memory, maxOutput: q.max_output, fuel: BigInt(q.fuel), checkpointEvery: BigInt(q.every) });
  } catch (e) {
    if (e instanceof ModuleError) rep = { status: e.status, exit_code: 0, message: e.message, fuel: 0n };
    else rep = { status: 'host_error', exit_code: 0, message: String(e && e.stack), fuel: 0n };
  }
  process.stdout.write(JSON.stringify({
    status: rep.status, exit_code: rep.exit_code, message: rep.message ?? '', fuel: String(rep.fuel),
    stdout: Buffer.concat(out).toString('base64'), stderr: Buffer.concat(err).toString('base64'), checkpoints: cps,
  }) + '\n');
}
