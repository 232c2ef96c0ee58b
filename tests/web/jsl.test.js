/*
 * Node tests of the console's WebAssembly module (build/web/sockgate_wasm.js, from
 * web/jsl_*.c and engine/codec.c) through web/jsl.js: the JSL parser on the vectors that
 * tests/unit/test_jsl.c runs against the native build, its limits, its output sizing, and
 * the ascii~hex codec. The interpreter's tests are in the other files of tests/web/.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jsl.test.js
 */
'use strict';

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const webDir = path.resolve(root, process.env.SOCKGATE_BUILD || 'build', 'web');
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, 'jsl_vectors.json'), 'utf8'));

const SockgateWasm = require(path.join(webDir, 'sockgate_wasm.js'));
const SockgateJSL = require(path.join(webDir, 'jsl.js'));

let wasm;
let jsl;

/* Handed the bytes, because this emcc (3.1.6) would fetch() the file path under a node
 * that has a global fetch. */
async function loadModule() {
  const module = await SockgateWasm({ wasmBinary: fs.readFileSync(path.join(webDir, 'sockgate_wasm.wasm')) });
  return { module, parser: SockgateJSL(module) };
}

before(async () => {
  ({ module: wasm, parser: jsl } = await loadModule());
});

/* Every node's pos, checked against the source the way the interpreter will use it:
 * Array.from(source).slice(start, end) is the node's text, and line/column say where
 * that text starts. */
function checkPositions(node, chars, lineStarts) {
  const [line, column, start, end] = node.pos;
  assert.ok(start <= end && end <= chars.length, `pos ${node.pos} out of the source`);
  assert.equal(start - lineStarts[line - 1] + 1, column, `column of ${JSON.stringify(node.pos)}`);
  assert.ok(lineStarts[line - 1] <= start && (line === lineStarts.length || start < lineStarts[line]),
    `line of ${JSON.stringify(node.pos)}`);
  for (const value of Object.values(node)) {
    const children = Array.isArray(value) ? value : [value];
    for (const child of children) {
      if (child && typeof child === 'object' && child.kind) {
        assert.ok(child.pos[2] >= start && child.pos[3] <= end, 'a child outside its parent');
        checkPositions(child, chars, lineStarts);
      }
    }
  }
}

function lineStartsOf(chars) {
  const starts = [0];
  chars.forEach((c, i) => {
    if (c === '\n' || (c === '\r' && chars[i + 1] !== '\n')) starts.push(i + 1);
  });
  return starts;
}

test('every parser vector gives the same tree or error as in the native build', () => {
  assert.ok(vectors.vectors.length >= 130);
  for (const v of vectors.vectors) {
    const got = jsl.parse(v.input);
    if (v.ast) {
      assert.deepEqual(got, { ast: v.ast }, `${v.name}: ${v.input}`);
      checkPositions(got.ast, Array.from(v.input), lineStartsOf(Array.from(v.input)));
    } else {
      assert.deepEqual(got, { error: v.error }, `${v.name}: ${v.input}`);
    }
  }
});

test('a node\'s pos slices its own text out of the source', () => {
  const source = 'x = "h\u00e9\u{1F600}";\r\nShow(rc[3]);\n  (sk << getSockName)[3]';
  const chars = Array.from(source);
  const { ast } = jsl.parse(source);
  const text = (node) => chars.slice(node.pos[2], node.pos[3]).join('');
  assert.equal(text(ast.items[0].value), '"h\u00e9\u{1F600}"');
  assert.equal(text(ast.items[1].args[0]), 'rc[3]');
  assert.deepEqual(ast.items[1].args[0].pos, [2, 6, 17, 22]);
  assert.equal(text(ast.items[2]), '(sk << getSockName)[3]');
  assert.deepEqual(ast.items[2].pos.slice(0, 2), [3, 3]);
});

test('nesting: 255 levels of every kind parse, deeper input is an error', () => {
  const kinds = [['(', 'x', ')'], ['f(', 'x', ')'], ['{', 'x', '}'], ['x[', '1', ']'],
    ['!', 'x', ''], ['a = ', '1', ''], ['If(c, ', 'x', ')']];
  for (const [open, middle, close] of kinds) {
    const nest = (n) => jsl.parse(open.repeat(n) + middle + close.repeat(n));
    assert.ok(nest(255).ast, `${open} 255 levels`);
    assert.equal(nest(256).error.message, 'nested too deeply (more than 256 levels)');
    assert.equal(nest(100000).error.message, 'nested too deeply (more than 256 levels)');
  }
  /* A call with several expressions per level makes two tree levels per nesting. */
  const glue = (n) => jsl.parse('While(c, a; '.repeat(n) + 'x' + ')'.repeat(n));
  assert.ok(glue(200).ast);
  assert.match(glue(255).error.message, /^expression too deep \(more than 480 levels\)/);
});

test('the deepest input accepted needs under a third of node\'s default stack', () => {
  /* node's default V8 stack is 984 KB; the wasm parser's frames live on it. */
  const script = `
    const fs = require('fs');
    require(${JSON.stringify(path.join(webDir, 'sockgate_wasm.js'))})({
      wasmBinary: fs.readFileSync(${JSON.stringify(path.join(webDir, 'sockgate_wasm.wasm'))}),
    }).then((wasm) => {
      const jsl = require(${JSON.stringify(path.join(webDir, 'jsl.js'))})(wasm);
      const deepest = [
        'f('.repeat(255) + 'x' + ')'.repeat(255),
        's << <<('.repeat(238) + 'x' + ')'.repeat(238),
        'If(c, a; '.repeat(238) + 'x' + ')'.repeat(238),
        '('.repeat(255) + 'x' + ')'.repeat(255),
      ];
      for (const s of deepest) if (!jsl.parse(s).ast) throw new Error('did not parse');
      process.stdout.write('ok');
    });`;
  assert.equal(execFileSync(process.execPath, ['--stack-size=320', '-e', script]).toString(), 'ok');
});

test('a long script parses (the output buffer grows as needed)', () => {
  const line = 'rc = s << send("0123456789\\!n"); If(rc[2] != "ok", Stop());\n';
  const { ast } = jsl.parse(line.repeat(2000));
  assert.equal(ast.items.length, 4000);
  assert.equal(ast.items[3998].value.message.args[0].value, '0123456789\n');
  assert.deepEqual(ast.items[3999].pos.slice(0, 2), [2000, 34]);
});

test('a script over the parser\'s size limit is an error, not an exception', () => {
  const { error } = jsl.parse('x'.repeat((1 << 20) + 1));
  assert.deepEqual([error.line, error.column], [1, 1]);
  assert.match(error.message, /longer than 1048576 bytes/);
  assert.ok(jsl.parse(`x = "${'y'.repeat((1 << 20) - 6)}"`).ast);
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
      '{"ast":{"kind":\0');
    assert.ok(wasm._jsl_parse(s, src.length, w, ws - 1, o, 16, 0) < 0); /* -ENOBUFS */
  } finally {
    wasm._free(s);
    wasm._free(w);
    wasm._free(o);
  }
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
