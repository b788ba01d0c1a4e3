// prepare.wasm (../prepare.js) in Node: read and compiled once per process.
import fs from 'node:fs';
import { prepare } from '../prepare.js';

let compiled = null;

/** prepare.wasm, compiled (once per process). */
export function preparer() {
  if (!compiled) compiled = WebAssembly.compile(fs.readFileSync(new URL('../prepare.wasm', import.meta.url)));
  return compiled;
}

/** prepare.js's prepare with this process's prepare.wasm. */
export async function prepareModule(bytes, opts = {}) {
  return prepare(await preparer(), bytes, opts);
}
