/*
 * The JavaScript face of sockgate_wasm.js, the WebAssembly build of web/jsl_parser.c and
 * engine/codec.c: it moves strings in and out of the module's memory and turns the C
 * results into plain values. The console page and the node tests both use it:
 *
 *     const jsl = SockgateJSL(await SockgateWasm());       // browser (globals)
 *     const jsl = require('./jsl.js')(await require('./sockgate_wasm.js')({
 *       wasmBinary: fs.readFileSync('.../sockgate_wasm.wasm') }));              // node
 *
 * Every block it allocates in the module is freed before the call returns.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = factory;
  else root.SockgateJSL = factory;
}(typeof self !== 'undefined' ? self : this, function SockgateJSL(wasm) {
  'use strict';

  const utf8Encoder = new TextEncoder();
  const utf8Decoder = new TextDecoder('utf-8');
  const ENCODINGS = { 'ascii~hex': 0, base64: 1, hex: 2 };
  const MAX_SOURCE = 1 << 20; /* JSL_MAX_SOURCE in web/jsl_parser.h */

  /* Runs fn(ptrs) with one module block per requested size; frees them all afterwards. */
  function withBlocks(sizes, fn) {
    const ptrs = [];
    try {
      for (const size of sizes) {
        const p = wasm._malloc(Math.max(size, 1));
        if (!p) throw new Error('out of WebAssembly memory');
        ptrs.push(p);
      }
      return fn(ptrs);
    } finally {
      for (const p of ptrs) wasm._free(p);
    }
  }

  /* Bytes of module memory (a copy: the heap may move when it grows). */
  function copyOut(ptr, len) {
    return wasm.HEAPU8.slice(ptr, ptr + len);
  }

  function toBytes(data) {
    return typeof data === 'string' ? utf8Encoder.encode(data) : data;
  }

  /* The number of an encoding name, case-insensitively, or throws. */
  function encodingNumber(name) {
    const key = String(name || 'ascii~hex').toLowerCase();
    if (!(key in ENCODINGS)) throw new Error(`unknown encoding "${name}"`);
    return ENCODINGS[key];
  }

  /*
   * Parses JSL source into its syntax tree: {ast: NODE} or {error: {line, column, offset,
   * message}} (web/README.md, "The syntax tree"). Retries once with the exact size when
   * the first guess at the output size was too small.
   */
  function parse(source) {
    const src = utf8Encoder.encode(source);
    if (src.length > MAX_SOURCE) {
      return { error: { line: 1, column: 1, offset: 0,
        message: `the script is longer than ${MAX_SOURCE} bytes, the most the parser reads` } };
    }
    const workSize = wasm._jsl_work_size(src.length);
    let cap = src.length * 16 + 256;
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = withBlocks([src.length, workSize, cap], ([s, w, o]) => {
        wasm.HEAPU8.set(src, s);
        const n = wasm._jsl_parse(s, src.length, w, workSize, o, cap, 0);
        if (n < 0) throw new Error(`the JSL parser failed (error ${-n})`);
        return n < cap ? { text: utf8Decoder.decode(copyOut(o, n)) } : { need: n + 1 };
      });
      if (result.text !== undefined) return JSON.parse(result.text);
      cap = result.need;
    }
    throw new Error('the JSL parser output did not fit');
  }

  /* Encodes bytes (a Uint8Array, or a string taken as UTF-8) as text. */
  function encode(data, encoding) {
    const bytes = toBytes(data);
    const enc = encodingNumber(encoding);
    const max = wasm._codec_encoded_max(enc, bytes.length);
    return withBlocks([bytes.length, max], ([i, o]) => {
      wasm.HEAPU8.set(bytes, i);
      const n = wasm._codec_encode(enc, i, bytes.length, o);
      return utf8Decoder.decode(copyOut(o, n));
    });
  }

  /*
   * Decodes text into bytes. A malformed input throws an Error whose `offset` is the
   * byte offset of the bad escape in the UTF-8 form of the text, as the server reports it.
   */
  function decode(text, encoding) {
    const input = utf8Encoder.encode(text);
    const enc = encodingNumber(encoding);
    const max = wasm._codec_decoded_max(enc, input.length);
    return withBlocks([input.length, max, 4], ([i, o, errp]) => {
      wasm.HEAPU8.set(input, i);
      const n = wasm._codec_decode(enc, i, input.length, o, errp);
      if (n < 0) {
        const offset = wasm.HEAPU32[errp >> 2];
        const what = enc === 0 ? 'ascii~hex escape' : `${Object.keys(ENCODINGS)[enc]} text`;
        const err = new Error(`bad ${what} at offset ${offset}`);
        err.offset = offset;
        throw err;
      }
      return copyOut(o, n);
    });
  }

  return { parse, encode, decode, encodings: Object.keys(ENCODINGS) };
}));
