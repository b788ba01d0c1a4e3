// A checkpoint directory, as `crowdrun run --checkpoint-dir` writes it and
// `crowdrun resume` reads it (internal/cli/checkpoint.go), so that either
// host resumes the other's checkpoints:
//
//   run.json          the run's configuration (version 2)
//   module.wasm       the module as it was given to `run`; resume instruments
//                     it again with run.json's instrumentation and checks the
//                     result against module_sha256 (docs/fuel.md)
//   stdin             the whole stdin
//   files/N           the N-th input file
//   stdout, stderr    the output, as the guest wrote it
//   NNNNNN.snap       checkpoint NNNNNN: a full snapshot, compressed
//   NNNNNN.json       its sidecar, written after it
//
// NNNNNN is the checkpoint's sequence number, zero-padded to six digits.
import fs from 'node:fs';
import path from 'node:path';

export const RUN_CONFIG_VERSION = 2;

/**
 * Instrumentation metadata as Go's instrument.Metadata marshals it: its
 * fields in order, memory_cap_pages omitted when 0, nothing else.
 */
export function canonicalMetadata(md) {
  const m = md && typeof md === 'object' ? md : {};
  const int = (x) => (Number.isSafeInteger(x) && x >= 0 ? x : 0);
  const out = { version: int(m.version), schedule: typeof m.schedule === 'string' ? m.schedule : '', stack_limit: int(m.stack_limit) };
  if (int(m.memory_cap_pages) !== 0) out.memory_cap_pages = int(m.memory_cap_pages);
  out.nan_canonicalization = m.nan_canonicalization === true;
  return out;
}

/** run.json as Go's runConfig marshals it (fields in order, unknown ones dropped). */
function canonicalConfig(c) {
  return {
    version: c.version, args: c.args ?? null, env: c.env ?? null, seed: c.seed, files: c.files ?? null,
    memory_bytes: c.memory_bytes, max_output: c.max_output, fuel: c.fuel, checkpoint_every: c.checkpoint_every,
    module_sha256: typeof c.module_sha256 === 'string' ? c.module_sha256 : '', instrumentation: canonicalMetadata(c.instrumentation),
  };
}

/** JSON as Go's json.MarshalIndent(v, "", "  "), bigints as numbers. */
export function goJSON(v) {
  const s = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `__bigint__${x}` : x), 2);
  return s.replace(/"__bigint__(\d+)"/g, '$1').replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '\n';
}

class UsageError extends Error {}
export { UsageError as CheckpointUsageError };

/**
 * Creates dir (empty or absent) with the run's configuration; prefixOut and
 * prefixErr are output that came before (a resumed run's).
 */
export function createCheckpointDir(dir, cfg, module, stdin, files, prefixOut, prefixErr) {
  let entries = [];
  try { entries = fs.readdirSync(dir); } catch { /* absent */ }
  if (entries.length > 0) throw new UsageError(`--checkpoint-dir ${dir} is not empty`);
  fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'run.json'), goJSON(cfg));
  fs.writeFileSync(path.join(dir, 'module.wasm'), module);
  fs.writeFileSync(path.join(dir, 'stdin'), stdin);
  files.forEach((f, i) => fs.writeFileSync(path.join(dir, 'files', String(i)), f.data));
  fs.writeFileSync(path.join(dir, 'stdout'), prefixOut);
  fs.writeFileSync(path.join(dir, 'stderr'), prefixErr);
}

/**
 * The writer side of a created directory: tees the guest's output into its
 * logs and saves checkpoints. nOut, nErr: bytes already in the logs.
 */
export class CheckpointWriter {
  constructor(dir, nOut, nErr) {
    this.dir = dir;
    this.out = { fd: fs.openSync(path.join(dir, 'stdout'), 'a'), n: nOut };
    this.err = { fd: fs.openSync(path.join(dir, 'stderr'), 'a'), n: nErr };
  }

  /** Wraps output callbacks so that the logs get every byte. */
  wrap(stdout, stderr) {
    const tee = (log, w) => (b) => {
      writeAll(log.fd, b);
      log.n += b.length;
      w(b);
    };
    return { stdout: tee(this.out, stdout), stderr: tee(this.err, stderr) };
  }

  /**
   * Saves one checkpoint (the runtime's onCheckpoint argument): the snapshot,
   * then its sidecar, each through a temporary file. flush() first pushes
   * out the process's own buffered stdout.
   */
  async save(cp, flush) {
    const start = performance.now();
    if (flush) flush();
    const base = path.join(this.dir, String(cp.seq).padStart(6, '0'));
    const bytes = await cp.encode({ compress: true });
    writeAtomic(base + '.snap', bytes);
    const info = {
      seq: cp.seq, fuel: cp.fuel, state_hash: cp.stateHash, stdout_bytes: BigInt(this.out.n), stderr_bytes: BigInt(this.err.n),
      capture_ms: BigInt(Math.floor(cp.captureMs + performance.now() - start)), bytes: BigInt(bytes.length),
    };
    writeAtomic(base + '.json', goJSON(info));
  }

  close() {
    fs.closeSync(this.out.fd);
    fs.closeSync(this.err.fd);
  }
}

function writeAtomic(p, data) {
  fs.writeFileSync(p + '.tmp', data);
  fs.renameSync(p + '.tmp', p);
}

export function writeAll(fd, b) {
  let off = 0;
  while (off < b.length) {
    try {
      off += fs.writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

/**
 * Reads what `resume` needs besides the snapshot from the directory of
 * snapPath. Throws CheckpointUsageError for a directory that is not one.
 */
export function readCheckpointDir(snapPath) {
  const dir = path.dirname(snapPath);
  const read = (name) => {
    try {
      return new Uint8Array(fs.readFileSync(path.join(dir, name)));
    } catch (e) {
      throw new UsageError(`${snapPath} is not in a checkpoint directory: ${e.message}`);
    }
  };
  const json = (b) => JSON.parse(new TextDecoder().decode(b).replace(/("(?:seed|fuel|memory_bytes|max_output|checkpoint_every|stdout_bytes|stderr_bytes)":\s*)(\d+)/g, '$1"$2"'));
  let cfg;
  try {
    cfg = json(read('run.json'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${dir}: unreadable run.json: ${e.message}`);
  }
  if (!cfg || typeof cfg !== 'object' || cfg.version !== RUN_CONFIG_VERSION) {
    throw new UsageError(`${dir}: unreadable run.json (version ${cfg && Number.isSafeInteger(cfg.version) ? cfg.version : 0}): <nil>`);
  }
  let info;
  const side = path.basename(snapPath).replace(/\.snap$/, '') + '.json';
  try {
    info = json(read(side));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${snapPath}: unreadable checkpoint sidecar: ${e.message}`);
  }
  const big = (x) => { try { return BigInt(x ?? 0); } catch { return -1n; } };
  cfg.seed = big(cfg.seed); cfg.fuel = big(cfg.fuel); cfg.memory_bytes = big(cfg.memory_bytes);
  cfg.max_output = big(cfg.max_output); cfg.checkpoint_every = big(cfg.checkpoint_every);
  cfg = canonicalConfig(cfg);
  info.fuel = big(info.fuel); info.stdout_bytes = big(info.stdout_bytes); info.stderr_bytes = big(info.stderr_bytes);
  const module = read('module.wasm');
  const stdin = read('stdin');
  const files = (cfg.files ?? []).map((name, i) => ({ name, data: read(path.join('files', String(i))) }));
  const outLog = read('stdout'), errLog = read('stderr');
  if (info.stdout_bytes < 0n || info.stderr_bytes < 0n || info.stdout_bytes > BigInt(outLog.length) || info.stderr_bytes > BigInt(errLog.length)) {
    throw new UsageError(`${snapPath}: the sidecar's output sizes do not match the directory's stdout and stderr`);
  }
  return {
    dir, cfg, info, module, stdin, files,
    prefixOut: outLog.subarray(0, Number(info.stdout_bytes)), prefixErr: errLog.subarray(0, Number(info.stderr_bytes)),
  };
}
