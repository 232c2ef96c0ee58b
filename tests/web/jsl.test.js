/*
 * Node tests of the console's WebAssembly module (build/web/sockgate_wasm.js, from
 * web/jsl_parser.c and engine/codec.c) through web/jsl.js. The parser vectors are the
 * ones tests/unit/test_jsl.c runs against the native build. The interpreter has its own
 * tests: jsl_builtins, jsl_sockets, jsl_scripts and sockgate_jsl.test.js.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jsl.test.js
 */
'use strict';

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const webDir = path.resolve(root, process.env.SOCKGATE_BUILD || 'build', 'web');
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, 'jsl_vectors.json'), 'utf8'));

const SockgateWasm = require(path.join(webDir, 'sockgate_wasm.js'));
const SockgateJSL = require(path.join(webDir, 'jsl.js'));

let wasm;
let jsl;

before(async () => {
  /* Handed the bytes, because this emcc (3.1.6) would fetch() the file path under a node
   * that has a global fetch. */
  wasm = await SockgateWasm({ wasmBinary: fs.readFileSync(path.join(webDir, 'sockgate_wasm.wasm')) });
  jsl = SockgateJSL(wasm);
});

test('every parser vector gives the same tree or error as in the native build', () => {
  assert.ok(vectors.vectors.length >= 50);
  for (const v of vectors.vectors) {
    const got = jsl.parse(v.input);
    if (v.ast) assert.deepEqual(got, v.ast, `${v.name}: ${v.input}`);
    else assert.deepEqual(got, { error: v.error }, `${v.name}: ${v.input}`);
  }
});

test('jsl_parse sizes its output as snprintf does', () => {
  const src = Buffer.from('rc = s << recv(100); Show(rc)');
  const ws = wasm._jsl_work_size(src.length);
  const s = wasm._malloc(src.length);
  const w = wasm._malloc(ws);
  const o = wasm._malloc(16);
  try {
    wasm.HEAPU8.set(src, s);
    const need = wasm._jsl_parse(s, src.length, w, ws, 0, 0, 0);
    assert.ok(need > 16);
    assert.equal(wasm._jsl_parse(s, src.length, w, ws, o, 16, 0), need);
    assert.equal(Buffer.from(wasm.HEAPU8.subarray(o, o + 16)).toString('latin1'),
      '{"statements":[\0');
    assert.ok(wasm._jsl_parse(s, src.length, w, ws - 1, o, 16, 0) < 0); /* -ENOBUFS */
  } finally {
    wasm._free(s);
    wasm._free(w);
    wasm._free(o);
  }
});

test('a long program parses (the output buffer grows as needed)', () => {
  const line = 's << send("0123456789\\!n"); ';
  const tree = jsl.parse(line.repeat(500));
  assert.equal(tree.statements.length, 500);
  assert.equal(tree.statements[499].expr.args[0].value, '0123456789\n');
});

test('ascii~hex follows SPEC section 4', () => {
  assert.equal(jsl.encode(Buffer.from('HTTP/1.0 200 OK\r\n')), 'HTTP/1.0 200 OK~0D~0A');
  assert.equal(jsl.encode(Buffer.from('~\\"!')), '~7E~5C~22~21');
  assert.deepEqual(Buffer.from(jsl.decode('PING~0d~0a')), Buffer.from('PING\r\n'));
  assert.deepEqual(Buffer.from(jsl.decode('h\u00e9~00')), Buffer.from('h\u00e9\0'));
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const enc of ['ascii~hex', 'base64', 'hex']) {
    assert.deepEqual(jsl.decode(jsl.encode(all, enc), enc), all, enc);
  }
  assert.equal(jsl.encode(Buffer.from('hi'), 'base64'), 'aGk=');
  assert.equal(jsl.encode(Buffer.from('hi'), 'HEX'), '6869');
  assert.throws(() => jsl.decode('ab~zz'), (e) => e.offset === 2 && /offset 2/.test(e.message));
  assert.throws(() => jsl.encode(Buffer.from('x'), 'rot13'), /unknown encoding/);
});
