/*
 * Speed of the ascii~hex codec in the console's WebAssembly build (sockgate_wasm.js,
 * emcc -O2 of engine/codec.c) under node: the same data and the same method as
 * codec_bench.c (best pass of about half a second; GB/s of raw bytes). Data is copied
 * into the module's memory once, outside the timing, as the C bench has it in memory.
 *
 *   node codec_wasm.js WEB_DIR TEXT_FILE BINARY_FILE BYTES
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const PASS_NS = 500000000n;
const ASCIIHEX = 0;

async function load(webDir) {
  const factory = require(path.resolve(webDir, 'sockgate_wasm.js'));
  /* A separate .wasm is handed over as bytes: this emcc (3.1.6) would fetch() a file
   * path under a node that has a global fetch. A SINGLE_FILE build carries its own. */
  const bin = path.resolve(webDir, 'sockgate_wasm.wasm');
  return factory(fs.existsSync(bin) ? { wasmBinary: fs.readFileSync(bin) } : {});
}

function measure(fn, len) {
  let best = 0;
  const start = process.hrtime.bigint();
  do {
    const t0 = process.hrtime.bigint();
    fn();
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 0) best = Math.max(best, len / ns); /* bytes per ns = GB/s */
  } while (process.hrtime.bigint() - start < PASS_NS);
  return best;
}

async function main() {
  const [webDir, textFile, binFile, bytesArg] = process.argv.slice(2);
  if (!bytesArg) {
    console.error('usage: node codec_wasm.js WEB_DIR TEXT_FILE BINARY_FILE BYTES');
    process.exit(2);
  }
  const len = Number(bytesArg);
  const w = await load(webDir);
  for (const [name, file] of [['text', textFile], ['binary', binFile]]) {
    const fd = fs.openSync(file, 'r');
    const raw = Buffer.alloc(len);
    if (fs.readSync(fd, raw, 0, len, 0) !== len) throw new Error(`short read of ${file}`);
    fs.closeSync(fd);
    const max = w._codec_encoded_max(ASCIIHEX, len);
    const inp = w._malloc(len);
    const enc = w._malloc(max);
    const dec = w._malloc(len);
    if (!inp || !enc || !dec) throw new Error('wasm malloc failed');
    /* Memory may have grown during the mallocs: take the heap view after them. */
    w.HEAPU8.set(raw, inp);
    const enclen = w._codec_encode(ASCIIHEX, inp, len, enc) >>> 0;
    if (w._codec_decode(ASCIIHEX, enc, enclen, dec, 0) !== len ||
        Buffer.compare(Buffer.from(w.HEAPU8.subarray(dec, dec + len)), raw) !== 0) {
      throw new Error(`${name} does not round-trip in wasm`);
    }
    const e = measure(() => {
      if ((w._codec_encode(ASCIIHEX, inp, len, enc) >>> 0) !== enclen) throw new Error('encode');
    }, len);
    const d = measure(() => {
      if (w._codec_decode(ASCIIHEX, enc, enclen, dec, 0) !== len) throw new Error('decode');
    }, len);
    console.log(`${name}_encode_gbps=${e.toFixed(3)}`);
    console.log(`${name}_decode_gbps=${d.toFixed(3)}`);
    w._free(inp);
    w._free(enc);
    w._free(dec);
  }
}

main().catch((err) => {
  console.error(`codec_wasm: ${err.message}`);
  process.exit(1);
});
