/*
 * The JSL language as the console runs it, without a gateway: the real wasm parser and
 * the console's interpreter (build/web) under node, checked by the exact log text JMP's
 * log would show (web/README.md says where JMP is silent and what was chosen).
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jsl_builtins.test.js
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { session, runJsl } = require('./harness.js');

/* The log a script writes; its errors fail the test unless expected. */
async function out(source) {
  const r = await runJsl(source);
  assert.deepEqual(r.errors.map((e) => e.message), [], source);
  assert.equal(r.status, 'done', source);
  return r.out;
}

/* The first error of a script that must fail. */
async function error(source) {
  const r = await runJsl(source);
  assert.equal(r.status, 'error', `expected an error from: ${source}\nlog: ${r.out}`);
  assert.equal(r.errors.length, 1);
  return r.errors[0];
}

test('Show, Print and Write write as JMP\'s log does', async () => {
  assert.equal(await out('x = 1; a = "Hello, World"; Show(x, a, "foo")'),
    'x = 1\na = "Hello, World"\n"foo"\n');
  assert.equal(await out('x = 1; a = "Hello, World"; Print(x, a, "foo")'), '1\n"Hello, World"\n"foo"\n');
  assert.equal(await out('Write("no quotes", 1, "\\!n"); Write("a\\!tb"); Write("\\!n")'), 'no quotes1\na\tb\n');
  assert.equal(await out('rc = {"recv", "ok", Char To Blob("+PONG~0D~0A", "ascii~hex")}; Show(rc, rc[2])'),
    'rc = {"recv", "ok", Char To Blob("+PONG~0D~0A", "ascii~hex")}\nrc[2] = "ok"\n');
  assert.equal(await out('Show(1 + 2, Length("abc"), {1, {2, .}}, Empty())'),
    '1 + 2 = 3\nLength("abc") = 3\n{1, {2, .}} = {1, {2, .}}\nEmpty() = Empty()\n');
  /* Strings come back as JSL would write them. */
  assert.equal(await out('Print("say \\!"hi\\!"\\!r\\!n", "a\\b")'), '"say \\!"hi\\!"\\!r\\!n"\n"a\\b"\n');
  assert.equal(await out('f = Function({a}, a + 1); Show(f)'), 'f = Function({a}, a + 1)\n');
});

test('numbers print as JMP prints them; missing is "."', async () => {
  assert.equal(await out('Print(1/3, 2/3, 0.1 + 0.2, 1e20, 100, -3, .05, 1e-7, 1/0, . + 1)'),
    '0.333333333333333\n0.666666666666667\n0.3\n1e+20\n100\n-3\n0.05\n1e-7\n.\n.\n');
});

test('operators follow JSL\'s precedence', async () => {
  assert.equal(await out('Print(2 + 3 * 4, (2 + 3) * 4, -2 * 3, 10 - 4 - 3, 12 / 3 / 2)'), '14\n20\n-6\n3\n2\n');
  assert.equal(await out('Print(1 < 2, 2 <= 1, 3 == 3, 3 != 3, "a" < "b", "ok" == "ok", "a" == 1)'),
    '1\n0\n1\n0\n1\n1\n0\n');
  assert.equal(await out('Print(1 == ., . < 2, !0, !5, !.)'), '.\n.\n1\n0\n.\n');
  assert.equal(await out('Print(1 & 0, 1 | 0, 0 | 0, 2 > 1 & 3 > 2, 1 + 1 == 2 | 0)'), '0\n1\n0\n1\n1\n');
  /* & and | stop as soon as the answer is known. */
  assert.equal(await out('Print(0 & Throw("no"), 1 | Throw("no"))'), '0\n1\n');
  assert.equal(await out('Print("ab" || "cd", {1} || {2, 3}, {1} || 4)'), '"abcd"\n{1, 2, 3}\n{1, 4}\n');
  assert.equal(await out('b = Char To Blob("ab") || Char To Blob("~00", "ascii~hex"); Print(b, Length(b))'),
    'Char To Blob("ab~00", "ascii~hex")\n3\n');
  assert.equal(await out('Print({1, 2} + 1, {1, 2} * {3, 4}, -{1, 2}, {1, 2} == {1, 2})'),
    '{2, 3}\n{3, 8}\n{-1, -2}\n1\n');
});

test('assignment, also to subscripts, and += -= ++ -- with the old value for postfix', async () => {
  assert.equal(await out('x = y = 2; x += 3; y -= 1; z = 2; z *= 5; z /= 4; s = "a"; s ||= "b"; Print(x, y, z, s)'),
    '5\n1\n2.5\n"ab"\n');
  assert.equal(await out('l = {1, {2, 3}}; l[1] = 9; l[2][2] = "x"; l[2][1] += 1; Show(l)'), 'l = {9, {3, "x"}}\n');
  assert.equal(await out('i = 5; Print(i++, i, ++i, i--, i, --i)'), '5\n6\n7\n7\n6\n5\n');
  assert.equal(await out('l = {1, 2}; l[2]++; Show(l)'), 'l = {1, 3}\n');
  assert.equal(await out('l = {"a", {"b", "c"}, "d"}; l[2, 1] = "B"; Print(l[2, 2], l[{1, 3}], l[2][1])'),
    '"c"\n{"a", "d"}\n"B"\n');
  /* `timeout-- > 0` compares the old value: the body runs exactly three times. */
  assert.equal(await out('timeout = 3; n = 0; While(timeout-- > 0, n++); Print(n, timeout)'), '3\n-1\n');
  /* Lists are values: changing a copy leaves the original alone. */
  assert.equal(await out('a = {1, 2}; b = a; b[1] = 7; Print(a, b)'), '{1, 2}\n{7, 2}\n');
});

test('If, While, For, Break, Continue and Stop', async () => {
  assert.equal(await out('f = Function({x}, If(x == 1, "one", x == 2, "two", x == 3, "three", "many")); Print(f(1), f(3), f(9))'),
    '"one"\n"three"\n"many"\n');
  assert.equal(await out('Show(If(0, 1))'), 'If(0, 1) = Empty()\n');
  assert.equal(await out('For(i = 0, i < 10, i++, If(i == 1, Continue()); If(i == 4, Break()); Print(i))'), '0\n2\n3\n');
  assert.equal(await out('i = 0; While(1, i++; If(i > 3, Break())); Print(i)'), '4\n');
  const r = await runJsl('Print(1); Stop(); Print(2)');
  assert.equal(r.status, 'stop');
  assert.equal(r.out, '1\n');
  assert.match((await error('Break()')).message, /Break\(\) outside a loop/);
});

test('Try, Throw and exception_msg', async () => {
  assert.equal(await out('Try(Throw("Hello."), Show(exception_msg))'), 'exception_msg = "Hello."\n');
  assert.equal(await out('Try(x = nosuch + 1, Show(exception_msg))'), 'exception_msg = {"Name Unresolved: nosuch"}\n');
  assert.equal(await out('v = Try(1 + 1, 0); w = Try(Throw(), "caught"); Print(v, w)'), '2\n"caught"\n');
  assert.equal(await out('Print(Try(Throw("x")))'), 'Empty()\n');
  const e = await error('\n  Throw("giving up")');
  assert.equal(e.message, 'Throw: giving up');
  assert.deepEqual([e.line, e.column], [2, 3]);
});

test('Function, Return, locals, defaults and recursion', async () => {
  assert.equal(await out('add = Function({a, b = 10}, a + b); Print(add(1, 2), add(1))'), '3\n11\n');
  assert.equal(await out('f = Function({n}, If(n <= 1, Return(1)); n * f(n - 1)); Print(f(10))'), '3628800\n');
  assert.equal(await out('t = 1; f = Function({}, {t = 5}, t + 1); Print(f(), t)'), '6\n1\n');
  assert.equal(await out('g = 1; f = Function({}, g = 2); f(); Print(g)'), '2\n');
  assert.equal(await out('f = Function({}, {Default Local}, g = 3; g); g = 1; Print(f(), g)'), '3\n1\n');
  assert.equal(await out('f = Function({a}, Is Empty(a)); Print(f(), f(1))'), '1\n0\n');
  assert.equal(await out('Names Default To Here(1); x = 2; Print(x)'), '2\n');
  assert.match((await error('f = Function({n}, f(n + 1)); f(1)')).message, /nested function calls/);
  assert.match((await error('Return(1)')).message, /Return\(\) outside a function/);
});

test('text functions keep JMP\'s meaning', async () => {
  assert.equal(await out('Print(Starts With("CLOSED: gone", "CLOSED"), Starts With("closed", "CLOSED"), Ends With("a.txt", ".txt"))'),
    '1\n0\n1\n');
  assert.equal(await out('Print(Contains("abcabc", "c"), Contains("abcabc", "c", -1), Contains("abc", "z"), Contains({"a", "b"}, "b"))'),
    '3\n6\n0\n2\n');
  assert.equal(await out('Print(Substr("abcdef", 2, 3), Substr("abcdef", 4), Left("abc", 2), Left("abc", 5, "x"), Right("abc", 2), Right("ab", 4, "0"))'),
    '"bcd"\n"def"\n"ab"\n"abcxx"\n"bc"\n"00ab"\n');
  assert.equal(await out('Print(Uppercase("aB"), Lowercase("aB"), Trim("  a b  "), Trim("  a", "left"), Concat("a", "b", "c"), Concat Items({"a", 1, "b"}, "-"))'),
    '"AB"\n"ab"\n"a b"\n"a"\n"abc"\n"a-1-b"\n');
  assert.equal(await out('l = {1, 2}; Insert Into(l, 9); Insert Into(l, 0, 1); Insert Into(l, {7, 8}, 2); Show(l)'),
    'l = {0, {7, 8}, 1, 2, 9}\n');
  assert.equal(await out('l = {1}; m = Insert(l, "x", 1); Print(l, m)'), '{1}\n{"x", 1}\n');
  assert.equal(await out('l = {1, 2, 3, 4}; Remove From(l, 2); Remove From(l, 1, 2); Show(l); s = "abc"; Insert Into(s, "X", 2); Show(s)'),
    'l = {4}\ns = "aXbc"\n');
  assert.equal(await out('Print(Word(2, "GET /index.html HTTP/1.0"), Word(-1, "a b c"), Word(9, "a b"), Words("a,b,,c", ","), Words("x  y"))'),
    '"/index.html"\n"c"\n""\n{"a", "b", "c"}\n{"x", "y"}\n');
  assert.equal(await out('Print(Char(42), Char(1/4), Char(3.14159, 6, 2), Char({1, "a"}), Num("12.5"), Num(" 7 "), Num("x"), Num(3))'),
    '"42"\n"0.25"\n"3.14"\n"{1, \\!"a\\!"}"\n12.5\n7\n.\n3\n');
  assert.equal(await out('Print(Hex(1), Hex(255, "integer"), Hex("Hi"), Hex(Char To Blob("~00~FF", "ascii~hex")), Hex To Number("ff"), Hex To Char("4869"))'),
    '"3FF0000000000000"\n"FF"\n"4869"\n"00FF"\n255\n"Hi"\n');
  assert.equal(await out('Print(N Items({1, 2, {3}}), Length("abc"), Length({}), Is String("a"), Is List({}), Is Number(.), Is Empty(nothing), Is Empty(Empty()), Is Empty(""))'),
    '3\n3\n0\n1\n1\n1\n1\n1\n0\n');
});

test('Regex takes a "\\1" format and is missing when nothing matches; Pat Match ignores case', async () => {
  assert.equal(await out('Print(Regex("I took a bus", "bus|car"), Regex("I took a bus", "(.*) bus(.*)", "\\1 car\\2"))'),
    '"bus"\n"I took a car"\n');
  assert.equal(await out('Print(Regex("abc", "x"), Is Missing(Regex("abc", "x")), Regex("ABC", "b", "\\0", IGNORECASE))'),
    '.\n1\n"B"\n');
  assert.equal(await out('Print(Regex("a1b22", "\\d+", "#", GLOBALREPLACE), Regex("HTTP/1.0 200 OK", "^HTTP/\\S+ (\\d+)", "\\1"))'),
    '"a#b#"\n"200"\n');
  assert.equal(await out('Print(Pat Match("Hello World", "WORLD"), Pat Match("Hello", "bye"))'), '1\n0\n');
  assert.equal(await out('s = "one TWO three"; Pat Match(s, "two", "2"); Show(s)'), 's = "one 2 three"\n');
  assert.match((await error('Regex("a", "(")')).message, /pattern is not valid/);
});

test('blobs: Char To Blob, Blob To Char (encoding = "utf-8" too), Length in bytes', async () => {
  assert.equal(await out('b = Char To Blob("GET / HTTP/1.0~0d~0a~0d~0a", "ascii~hex"); Print(Length(b), Blob To Char(b, "ascii~hex"))'),
    '18\n"GET / HTTP/1.0~0D~0A~0D~0A"\n');
  assert.equal(await out('b = Char To Blob("h\u00e9"); Print(Length(b), Length("h\u00e9"), Blob To Char(b), Blob To Char(b, encoding = "utf-8"))'),
    '3\n2\n"h\u00e9"\n"h\u00e9"\n');
  assert.equal(await out('Print(Blob To Char(Char To Blob("hi"), "base64"), Blob To Char(Char To Blob("aGk=", "base64")), Blob Peek(Char To Blob("hello"), 1, 3))'),
    '"aGk="\n"hi"\nChar To Blob("ell", "ascii~hex")\n');
  assert.equal(await out('Print(Char To Blob("") == Char To Blob(""), Length(Char To Blob("")))'), '1\n0\n');
  assert.match((await error('Char To Blob("~zz", "ascii~hex")')).message, /bad ascii~hex escape at offset 0/);
  assert.match((await error('Char To Blob("x", "rot13")')).message, /unknown encoding "rot13"/);
});

test('time: Tick Seconds, Wait, Today', async () => {
  const text = await out('t = Tick Seconds(); Wait(0.2); d = Tick Seconds() - t; Print(d >= 0.2, Today() > 3.8e9)');
  assert.equal(text, '1\n1\n');
});

test('mistakes are the script\'s errors, with the line and column of what failed', async () => {
  let e = await error('x = 1;\ny = Nosuch(x);');
  assert.deepEqual([e.message, e.line, e.column, e.sourceLine], ['Unknown function: Nosuch', 2, 5, 'y = Nosuch(x);']);
  e = await error('l = {1, 2};\n  Show(l[3])');
  assert.equal(e.message, 'Subscript Range: l[3], and l has 2 items');
  assert.deepEqual([e.line, e.column], [2, 8]);
  e = await error('Show(1 + "a")');
  assert.match(e.message, /Cannot convert argument to a number/);
  e = await error('f = Function({a},\n\ta[2]\n);\nf(5)');
  assert.deepEqual([e.line, e.column, e.sourceLine], [2, 2, '\ta[2]']);
  e = await error('Show(1,\n  2');
  assert.match(e.message, /^syntax error: /);
  assert.equal(e.line, 2);
  e = await error('Length(3)');
  assert.match(e.message, /Length\(\) needs a string, a blob or a list/);
  e = await error('Substr("abc")');
  assert.match(e.message, /Substr\(\) takes 2 to 3 arguments, not 1/);
  e = await error('s = 3; s << close');
  assert.match(e.message, /s is not a socket/);
});

test('variables live on between runs of one session, as JMP\'s globals do', async () => {
  const s = await session();
  try {
    await s.run('counter = 41');
    const r = await s.run('counter++; Print(counter)');
    assert.equal(r.out, '42\n');
    assert.equal((await s.run('Print(1)')).status, 'done');
  } finally {
    s.close();
  }
});

test('Stop ends a loop with no socket call, and a long Wait, at once', { timeout: 20000 }, async () => {
  let printed = 0;
  const s = await session({ onWrite: () => { printed++; } });
  try {
    const running = s.run('i = 0; While(1, i++; If(Mod(i, 1000) == 0, Print(i)))');
    while (printed < 5) await new Promise((r) => setImmediate(r));
    s.runner.stop();
    assert.equal((await running).status, 'stopped');
    /* A Wait(30) that Stop ends: the test's own 20 s limit would fail it otherwise. */
    const waiting = s.run('Wait(30); Print("not reached")');
    await new Promise((r) => setTimeout(r, 100));
    s.runner.stop();
    const r = await waiting;
    assert.equal(r.status, 'stopped');
    assert.equal(r.out, '');
    /* The session still works afterwards. */
    assert.equal((await s.run('Print(i > 0)')).out, '1\n');
  } finally {
    s.close();
  }
});

test('Web() under node only says where it would go', async () => {
  const r = await runJsl('Web("http://127.0.0.1:1/x")');
  assert.equal(r.status, 'done');
  assert.deepEqual(r.notes, ['Web(): open http://127.0.0.1:1/x in a browser (sockgate-jsl opens none)']);
  assert.match((await error('Web("file:///etc/passwd")')).message, /opens an http:\/\/ or https:\/\/ address/);
});
