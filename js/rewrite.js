// Binary rewrites the JavaScript host applies before compiling a guest, so
// that a JS engine enforces the memory limit exactly as the Go host does:
//
//   - the memory's declared maximum is lowered to the limit (in pages,
//     rounded up, as the Go host's allocator reserves it), so the engine
//     fails a memory.grow past it;
//   - each memory.grow becomes a call to an appended function that performs
//     the grow and, when it fails for the limit (the new size is above the
//     cap but within the module's own maximum), sets an appended global: the
//     Go host's "hit the limit" flag, which turns a later failure into
//     memory_limit;
//   - the memory is exported if the module keeps it to itself, since a JS
//     host can reach only exported memory.
//
// Appending (a type, a function, a global) shifts no existing index.
// Plain ES module, no Node-only API.

const enc = new TextEncoder();

class Reader {
  constructor(b, pos, end) { this.b = b; this.pos = pos; this.end = end; }
  byte() {
    if (this.pos >= this.end) throw new Error('unexpected end of code');
    return this.b[this.pos++];
  }
  u32() {
    let r = 0, shift = 0, c;
    do { c = this.byte(); r += (c & 0x7f) * 2 ** shift; shift += 7; } while (c & 0x80);
    return r;
  }
  leb() { while (this.byte() & 0x80); }
  skip(n) { this.pos += n; if (this.pos > this.end) throw new Error('unexpected end of code'); }
}

export function encU32(v) {
  const out = [];
  do {
    let c = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) c |= 0x80;
    out.push(c);
  } while (v > 0);
  return out;
}

function encS64(v) { // non-negative values below 2^53
  const out = [];
  for (;;) {
    const c = v % 128;
    v = Math.floor(v / 128);
    if (v === 0 && (c & 0x40) === 0) { out.push(c); return out; }
    out.push(c | 0x80);
  }
}

const encName = (s) => { const b = enc.encode(s); return [...encU32(b.length), ...b]; };

// Bytes builds a byte string from small arrays and large views without
// spreading large arrays into arguments.
class Bytes {
  constructor() { this.chunks = []; this.length = 0; }
  add(...small) { return this.append(Uint8Array.from(small)); }
  append(u8) { this.chunks.push(u8); this.length += u8.length; return this; }
  bytes() {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
}

function blocktype(r) {
  const c = r.b[r.pos];
  if (c === 0x40 || (c >= 0x6f && c <= 0x7f)) r.pos++;
  else r.leb(); // a type index, s33
}

function memarg(r) {
  const align = r.u32();
  if (align & 0x40) r.u32(); // memory index (multi-memory)
  r.leb();
}

/**
 * Finds every memory.grow in a function body's instructions, as [start, end)
 * byte ranges. Throws on an instruction it does not know.
 */
function findGrows(b, pos, end) {
  const r = new Reader(b, pos, end);
  const grows = [];
  while (r.pos < r.end) {
    const at = r.pos;
    const op = r.byte();
    switch (op) {
      case 0x02: case 0x03: case 0x04: case 0x06: blocktype(r); break;
      case 0x07: case 0x08: case 0x09: case 0x18: r.u32(); break;
      case 0x0c: case 0x0d: r.u32(); break;
      case 0x0e: for (let n = r.u32() + 1; n > 0; n--) r.u32(); break;
      case 0x10: case 0x12: case 0x14: case 0x15: r.u32(); break;
      case 0x11: case 0x13: r.u32(); r.u32(); break;
      case 0x1c: for (let n = r.u32(); n > 0; n--) r.byte(); break;
      case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: r.u32(); break;
      case 0x3f: r.u32(); break;
      case 0x40: r.u32(); grows.push([at, r.pos]); break;
      case 0x41: case 0x42: r.leb(); break;
      case 0x43: r.skip(4); break;
      case 0x44: r.skip(8); break;
      case 0xd0: r.leb(); break;
      case 0xd2: case 0xd4: case 0xd5: r.u32(); break;
      case 0xfc: {
        const sub = r.u32();
        if (sub <= 7) break;
        if (sub === 8 || sub === 10 || sub === 12 || sub === 14) { r.u32(); r.u32(); break; }
        if (sub <= 17) { r.u32(); break; }
        throw new Error(`unknown instruction 0xfc ${sub}`);
      }
      case 0xfd: {
        const sub = r.u32();
        if (sub <= 11 || sub === 92 || sub === 93) memarg(r);
        else if (sub === 12 || sub === 13) r.skip(16);
        else if (sub >= 21 && sub <= 34) r.byte();
        else if (sub >= 84 && sub <= 91) { memarg(r); r.byte(); }
        break;
      }
      case 0xfe: {
        const sub = r.u32();
        if (sub === 3) r.byte();
        else memarg(r);
        break;
      }
      case 0x1f: case 0xfb:
        throw new Error(`unsupported instruction 0x${op.toString(16)}`);
      default:
        if (op >= 0x28 && op <= 0x3e) memarg(r);
        // every other opcode has no immediate
    }
  }
  return grows;
}

function uniqueName(info, base) {
  let name = base;
  while (info.exports.some((e) => e.name === name)) name += '_';
  return name;
}

/**
 * @param {Uint8Array} b  the module
 * @param {object} info   runtime.inspect(b)
 * @param {{capPages: number|null, detectGrow: boolean, exportMemory: boolean}} want
 *   capPages: lower the memory's maximum to this (null: leave it);
 *   detectGrow: also flag grows that fail for the cap (throws on an
 *   instruction the decoder does not know)
 * @returns {{bytes: Uint8Array, memoryExport: string|null, hitExport: string|null}}
 */
export function rewrite(b, info, want) {
  const mem = info.memories[0];
  const secs = new Map(info.sections.filter((s) => s.id !== 0).map((s) => [s.id, s]));
  const replace = new Map(); // section id -> new content
  const insertBeforeExport = [];
  let memoryExport = null, hitExport = null;
  const exportsAdded = [];

  if (want.capPages !== null) {
    const capPages = want.capPages;
    // memory: lower the maximum
    const content = new Bytes().add(...encU32(info.memories.length));
    info.memories.forEach((m, i) => {
      if (i === 0) content.add(0x01, ...encU32(m.min), ...encU32(capPages));
      else content.append(b.subarray(m.start, m.end));
    });
    replace.set(5, content.bytes());
  }
  if (want.capPages !== null && want.detectGrow) {
    const capPages = want.capPages;
    const origMax = mem.max ?? 65536;

    // code: memory.grow -> call $grow
    const code = secs.get(10);
    const r = new Reader(b, code.start, code.end);
    const nBodies = r.u32();
    const bodies = [];
    let found = 0;
    for (let i = 0; i < nBodies; i++) {
      const size = r.u32();
      const start = r.pos, end = r.pos + size;
      const br = new Reader(b, start, end);
      for (let n = br.u32(); n > 0; n--) { br.u32(); br.byte(); } // locals
      const grows = findGrows(b, br.pos, end);
      bodies.push({ start, end, grows });
      found += grows.length;
      r.pos = end;
    }
    if (found > 0) {
      const growFunc = info.funcTypes.length; // the index after every imported and defined function
      const importedGlobals = info.imports.filter((x) => x.kind === 3).length;
      let definedGlobals = 0;
      if (secs.has(6)) definedGlobals = new Reader(b, secs.get(6).start, secs.get(6).end).u32();
      const hit = importedGlobals + definedGlobals;
      const typeIdx = info.types.length;

      const out = new Bytes().add(...encU32(nBodies + 1));
      for (const body of bodies) {
        const parts = new Bytes();
        let p = body.start;
        for (const [s, e] of body.grows) {
          parts.append(b.subarray(p, s)).add(0x10, ...encU32(growFunc));
          p = e;
        }
        parts.append(b.subarray(p, body.end));
        out.add(...encU32(parts.length)).append(parts.bytes());
      }
      // (func (param $d i32) (result i32) (local $r i32) (local $s i64)
      //   (local.tee $r (memory.grow (local.get $d)))
      //   (if (i32.eq (i32.const -1)) (then
      //     (local.set $s (i64.add (i64.extend_i32_u (memory.size)) (i64.extend_i32_u (local.get $d))))
      //     (if (i32.and (i64.gt_u (local.get $s) (i64.const cap)) (i64.le_u (local.get $s) (i64.const max)))
      //       (then (global.set $hit (i32.const 1))))))
      //   (local.get $r))
      const fn = [
        0x02, 0x01, 0x7f, 0x01, 0x7e,
        0x20, 0x00, 0x40, 0x00, 0x22, 0x01, 0x41, 0x7f, 0x46, 0x04, 0x40,
        0x3f, 0x00, 0xad, 0x20, 0x00, 0xad, 0x7c, 0x21, 0x02,
        0x20, 0x02, 0x42, ...encS64(capPages), 0x56,
        0x20, 0x02, 0x42, ...encS64(origMax), 0x58, 0x71,
        0x04, 0x40, 0x41, 0x01, 0x24, ...encU32(hit), 0x0b,
        0x0b, 0x20, 0x01, 0x0b,
      ];
      out.add(...encU32(fn.length), ...fn);
      replace.set(10, out.bytes());

      const types = secs.get(1);
      const tr = new Reader(b, types.start, types.end);
      const nTypes = tr.u32();
      replace.set(1, new Bytes().add(...encU32(nTypes + 1)).append(b.subarray(tr.pos, types.end)).add(0x60, 0x01, 0x7f, 0x01, 0x7f).bytes());

      const funcs = secs.get(3);
      const fr = new Reader(b, funcs.start, funcs.end);
      const nFuncs = fr.u32();
      replace.set(3, new Bytes().add(...encU32(nFuncs + 1)).append(b.subarray(fr.pos, funcs.end)).add(...encU32(typeIdx)).bytes());

      const global = [0x7f, 0x01, 0x41, 0x00, 0x0b]; // (mut i32) (i32.const 0)
      if (secs.has(6)) {
        const g = secs.get(6);
        const gr = new Reader(b, g.start, g.end);
        gr.u32();
        replace.set(6, new Bytes().add(...encU32(definedGlobals + 1)).append(b.subarray(gr.pos, g.end)).add(...global).bytes());
      } else {
        insertBeforeExport.push([6, Uint8Array.from([0x01, ...global])]);
      }
      hitExport = uniqueName(info, 'crowdrun.js_grow_hit');
      exportsAdded.push([hitExport, 3, hit]);
    }
  }
  if (want.exportMemory) {
    memoryExport = uniqueName(info, 'crowdrun.js_memory');
    exportsAdded.push([memoryExport, 2, 0]);
  }
  if (exportsAdded.length > 0) {
    const ex = secs.get(7);
    const er = new Reader(b, ex.start, ex.end);
    const n = er.u32();
    const content = new Bytes().add(...encU32(n + exportsAdded.length)).append(b.subarray(er.pos, ex.end));
    for (const [name, kind, idx] of exportsAdded) content.add(...encName(name), kind, ...encU32(idx));
    replace.set(7, content.bytes());
  }

  const out = new Bytes().append(b.subarray(0, 8));
  for (const s of info.sections) {
    if (s.id === 7) {
      for (const [id, content] of insertBeforeExport) out.add(id, ...encU32(content.length)).append(content);
    }
    if (s.id !== 0 && replace.has(s.id)) {
      const content = replace.get(s.id);
      out.add(s.id, ...encU32(content.length)).append(content);
    } else {
      out.append(b.subarray(s.headerStart, s.end));
    }
  }
  return { bytes: out.bytes(), memoryExport, hitExport };
}
