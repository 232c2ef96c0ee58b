/*
 * Node tests of the console's WebAssembly module (build/web/sockgate_wasm.js, from
 * web/jsl_parser.c and engine/codec.c) through web/jsl.js, and of the statement runner
 * web/interp.js against a recorded fake of the REST API. The parser vectors are the ones
 * tests/unit/test_jsl.c runs against the native build.
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
const { Session, JslError, formatValue, curlFor } = require(path.join(webDir, 'interp.js'));

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

/* ---- web/interp.js against a fake API ----------------------------------------------- */

/* A fake gateway: records each call and answers from a table keyed "METHOD path". */
function fakeApi(answers) {
  const calls = [];
  const request = async (method, p, body) => {
    calls.push({ method, path: p, body });
    const a = answers[`${method} ${p}`];
    if (!a) return { status: 404, body: null, text: 'not found' };
    const [status, list] = typeof a === 'function' ? a(body) : a;
    return { status, body: list, text: JSON.stringify(list) };
  };
  return { calls, request };
}

async function runAll(session, source, hooks = {}) {
  const tree = jsl.parse(source);
  assert.ok(tree.statements, JSON.stringify(tree));
  const values = [];
  for (const s of tree.statements) values.push(await session.run(s, hooks));
  return values;
}

test('the SPEC section 8 session becomes the right HTTP calls', async () => {
  const api = fakeApi({
    'POST /sockets': [201, ['socket', 'ok', 's1']],
    'POST /sockets/s1/connect': [200, ['connect', 'ok']],
    'POST /sockets/s1/send': [200, ['send', 'ok', '']],
    'POST /sockets/s1/recv': [200, ['recv', 'ok', '+PONG~0D~0A']],
  });
  const session = new Session({ jsl, request: api.request });
  const shown = [];
  const seen = [];
  await runAll(session, [
    's = Socket();',
    's << connect("localhost", "6379");',
    's << send("PING~0d~0a");',
    'rc = s << recv(100);',
    'Show(rc, rc[2]);',
    'text = Blob To Char(rc[3])',
  ].join('\n'), {
    onShow: (line) => shown.push(line),
    onCall: (call) => seen.push(`${call.method} ${call.path}`),
  });
  assert.deepEqual(api.calls, [
    { method: 'POST', path: '/sockets', body: { type: 'STREAM' } },
    { method: 'POST', path: '/sockets/s1/connect', body: ['localhost', '6379'] },
    { method: 'POST', path: '/sockets/s1/send', body: ['PING~0d~0a'] },
    { method: 'POST', path: '/sockets/s1/recv', body: ['100'] },
  ]);
  assert.equal(seen.length, 4);
  assert.deepEqual(shown, [
    'rc = {"recv", "ok", Char To Blob("+PONG~0D~0A", "ascii~hex")}',
    'rc[2] = "ok"',
  ]);
  assert.equal(session.vars.get('text'), '+PONG\r\n');
  assert.equal(session.vars.get('s'), 's1');
});

test('arguments: numbers, bare names, blobs and NUL travel as strings', async () => {
  const api = fakeApi({
    'POST /sockets': [201, ['socket', 'ok', 'gw.s7']],
    'POST /sockets/gw.s7/ioctl': [200, ['ioctl', 'ok']],
    'POST /sockets/gw.s7/sendto': [200, ['sendto', 'ok', '']],
  });
  const session = new Session({ jsl, request: api.request });
  await runAll(session, 'u = Socket(DGRAM); u << ioctl(FIONBIO, 1); ' +
    'u << sendto("127.0.0.1", 9, Char To Blob("a~00~ff", "ascii~hex")); ' +
    'u << sendto("127.0.0.1", 9.5, "x\\!0y")');
  assert.deepEqual(api.calls.map((c) => c.body), [
    { type: 'DGRAM' }, ['FIONBIO', '1'], ['127.0.0.1', '9', 'a~00~FF'], ['127.0.0.1', '9.5', 'x~00y'],
  ]);
});

test('an error answer is a value; a non-list answer or a mistake is an error', async () => {
  const api = fakeApi({
    'POST /sockets': [201, ['socket', 'ok', 's1']],
    'POST /sockets/s1/connect': [200, ['connect', 'CONNREFUSED: Connection refused.']],
  });
  const session = new Session({ jsl, request: api.request });
  const [, rc] = await runAll(session, 's = Socket(); s << connect("localhost", 1)');
  assert.deepEqual(rc, ['connect', 'CONNREFUSED: Connection refused.']);
  await assert.rejects(runAll(session, 's << listen()'), (e) => e instanceof JslError &&
    /listen: the gateway answered HTTP 404: not found/.test(e.message));
  await assert.rejects(runAll(session, 'nope << close()'), /nope is not defined/);
  await runAll(session, 'x = 1');
  await assert.rejects(runAll(session, 'x << close()'), /x is not a socket/);
  await assert.rejects(runAll(session, 'rc = s << connect("a", 1); rc[5]'), /index 5 is out of range/);
  await assert.rejects(runAll(session, 'Char To Blob("~zz", "ascii~hex")'), /bad ascii~hex escape at offset 0/);
});

test('values print as JSL does, and every call has its curl', () => {
  assert.equal(formatValue(['recv', 'ok', Uint8Array.from([72, 10])], jsl),
    '{"recv", "ok", Char To Blob("H~0A", "ascii~hex")}');
  assert.equal(formatValue('a"b\n', jsl), '"a\\!"b\\!n"');
  assert.equal(formatValue(undefined, jsl), '.');
  const call = { method: 'POST', path: '/sockets/s1/send', body: ["it's"] };
  assert.equal(curlFor(call, 'http://127.0.0.1:8080', 'tok'),
    "curl -sS -X POST 'http://127.0.0.1:8080/sockets/s1/send' -H 'Authorization: Bearer tok' " +
    "-H 'Content-Type: application/json' -d '[\"it'\\''s\"]'");
  assert.equal(curlFor({ method: 'GET', path: '/sockets' }, 'http://h', ''), "curl -sS 'http://h/sockets'");
});
