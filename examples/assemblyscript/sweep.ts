// sweep: a parameter sweep of the logistic map x ← r·x·(1 − x).
//
// stdin holds one or more lines "RMIN RMAX STEPS ITERS". For each line and
// each of the STEPS values r = RMIN + i·(RMAX − RMIN)/(STEPS − 1), the map
// starts at x = 0.5, runs 1000 steps to settle, then ITERS steps during
// which it sums ln|r·(1 − 2x)|: the mean is the Lyapunov exponent λ(r)
// (negative: the orbit settles on a cycle; positive: chaos). stdout gets
// one line per r, "r=… lambda=… period=…" (the cycle length up to 64, 0
// when none was found), then "sweep points=N chaotic=C checksum=…" with an
// FNV-1a checksum of every λ's bits. A bad line prints "sweep: line N: …"
// on stderr and exits 2.
//
// A job is one task per range of r. Built by examples/build.sh with the npm
// assemblyscript compiler and @assemblyscript/wasi-shim (which maps
// process.stdin/stdout, Math.random's seed and the clock onto WASI). Math.log
// is AssemblyScript's own (a port of musl's), compiled into the module: the
// same bits on every engine.

const SETTLE = 1000;
const MAX_PERIOD = 64;

// readAll returns the whole of stdin.
function readAll(): string {
  const chunks = new Array<ArrayBuffer>();
  let total = 0;
  while (true) {
    const buf = new ArrayBuffer(4096);
    const n = process.stdin.read(buf);
    if (n <= 0) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    all.set(Uint8Array.wrap(chunks[i]), at);
    at += chunks[i].byteLength;
  }
  return String.UTF8.decode(all.buffer);
}

function fail(line: i32, msg: string): void {
  process.stderr.write("sweep: line " + line.toString() + ": " + msg + "\n");
  process.exit(2);
}

// period returns the length of the cycle the settled orbit is on, or 0.
function period(r: f64, x: f64): i32 {
  const start = x;
  for (let p = 1; p <= MAX_PERIOD; p++) {
    x = r * x * (1 - x);
    if (Math.abs(x - start) < 1e-9) return p;
  }
  return 0;
}

// lyapunov returns λ(r) and leaves the settled x in settled[0].
function lyapunov(r: f64, iters: i32, settled: StaticArray<f64>): f64 {
  let x = 0.5;
  for (let i = 0; i < SETTLE; i++) x = r * x * (1 - x);
  let sum = 0.0;
  for (let i = 0; i < iters; i++) {
    x = r * x * (1 - x);
    sum += Math.log(Math.abs(r * (1 - 2 * x)) + 1e-300);
  }
  settled[0] = x;
  return sum / iters;
}

let fnv: u64 = 0xcbf29ce484222325;
function mix(bits: u64): void {
  for (let i = 0; i < 8; i++) {
    fnv = (fnv ^ ((bits >> (i * 8)) & 0xff)) * 0x100000001b3;
  }
}

function hex16(v: u64): string {
  const digits = "0123456789abcdef";
  let s = "";
  for (let i = 15; i >= 0; i--) s += digits.charAt(<i32>((v >> (i * 4)) & 0xf));
  return s;
}

const lines = readAll().split("\n");
let points = 0;
let chaotic = 0;
const settled = new StaticArray<f64>(1);
for (let ln = 0; ln < lines.length; ln++) {
  const fields = lines[ln].trim().split(" ").filter((f: string) => f.length > 0);
  if (fields.length == 0) continue;
  if (fields.length != 4) {
    fail(ln + 1, "want RMIN RMAX STEPS ITERS, got " + fields.length.toString() + " fields");
    break;
  }
  const rmin = parseFloat(fields[0]);
  const rmax = parseFloat(fields[1]);
  const steps = I32.parseInt(fields[2]);
  const iters = I32.parseInt(fields[3]);
  if (!isFinite(rmin) || !isFinite(rmax) || rmin < 0 || rmax > 4 || rmin > rmax) {
    fail(ln + 1, "want 0 <= RMIN <= RMAX <= 4");
    break;
  }
  if (steps < 1 || steps > 1000000 || iters < 1 || iters > 100000000) {
    fail(ln + 1, "want 1 <= STEPS <= 1000000 and 1 <= ITERS <= 100000000");
    break;
  }
  // One line of output per r, built as strings: the runtime's allocator
  // and garbage collector work as they would in any AssemblyScript program.
  let out = new Array<string>();
  for (let i = 0; i < steps; i++) {
    const r = steps == 1 ? rmin : rmin + (rmax - rmin) * (<f64>i / <f64>(steps - 1));
    const lambda = lyapunov(r, iters, settled);
    const p = lambda < 0 ? period(r, settled[0]) : 0;
    if (lambda > 0) chaotic++;
    points++;
    mix(reinterpret<u64>(lambda));
    out.push("r=" + r.toString() + " lambda=" + lambda.toString() + " period=" + p.toString());
    if (out.length == 64) {
      process.stdout.write(out.join("\n") + "\n");
      out = new Array<string>();
    }
  }
  if (out.length > 0) process.stdout.write(out.join("\n") + "\n");
}
process.stdout.write("sweep points=" + points.toString() + " chaotic=" + chaotic.toString() + " checksum=" + hex16(fnv) + "\n");
