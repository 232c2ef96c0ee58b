/*
 * Browser tests of the console in real Chromium (tests/web/browser.js): the real gateway
 * (build/sockgate, with a token) serves the page, real TCP servers in this process answer,
 * and the tests paste and type scripts and check what a person sees: the log as JMP's
 * would show it, each message's answer with its hex dump and curl, the sockets panel,
 * the event stream and callbacks, errors with their line and column, the history, and a
 * phone-sized screen. The README's web/screenshot.png is taken here too.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/console.browser.test.js
 *   (SOCKGATE_CHROMIUM overrides the browser; SOCKGATE_SCREENSHOT=update writes the README's
 *   web/screenshot.png, otherwise the screenshot goes to build/ and the tree stays clean)
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { root, build, startGateway } = require('./harness.js');
const peers = require('./peers.js');
const { launch, openConsole, idle, runScript, runLine, lines } = require('./browser.js');

const screenshotPath = process.env.SOCKGATE_SCREENSHOT === 'update'
  ? path.join(root, 'web', 'screenshot.png') : path.join(build, 'console-screenshot.png');

let gateway;
let browser;
let tcp;          /* "PING" -> "+PONG", "BIN" -> 40 bytes, "PUSH" -> a line later */
let pushes = [];  /* the server side of each connection, to push data from the test */

before(async () => {
  gateway = await startGateway({ token: 'console-test-token' });
  tcp = await peers.tcpServer((sock) => {
    pushes.push(sock);
    sock.on('data', (data) => {
      const text = data.toString('latin1');
      if (text.includes('PING')) sock.write('+PONG\r\n');
      if (text.includes('BIN')) sock.write(Buffer.from(Array.from({ length: 40 }, (_, i) => i)));
      if (text.includes('PUSH')) setTimeout(() => sock.write('pushed by the server\r\n'), 100);
    });
  });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (tcp) await tcp.close();
  if (gateway) await gateway.stop();
});

const text = (locator) => locator.innerText();

test('a pasted multi-line script runs and its log shows what JMP\'s would', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.base });
  const page = await openConsole(t, browser, gateway, { context });
  assert.equal(await text(page.locator('#auth-status')), 'token');
  assert.equal(await text(page.locator('#parser-status')), 'parser: wasm');
  assert.equal(await page.locator('#run').getAttribute('data-state'), 'idle');

  const script = `s = Socket();
rc = s << Connect("127.0.0.1", ${tcp.port});
If(rc[2] != "ok", Show(rc); Stop());
s << Send("PING\\!r\\!n");
rc = s << Recv(100);
Show(rc, rc[2]);
Print(Blob To Char(rc[3]));
s << Send("BIN");
bin = s << Recv(100);
Write("got ", Length(bin[3]), " bytes\\!n");`;
  /* A real paste: the clipboard, then Ctrl+V in the editor. */
  await page.evaluate((s) => navigator.clipboard.writeText(s), script);
  await page.locator('#input').focus();
  await page.keyboard.press('Control+V');
  assert.equal(await page.locator('#input').inputValue(), script, 'the pasted script keeps its lines');
  await page.locator('#run').click();
  await idle(page);

  assert.deepEqual(await lines(page, 'out'), [
    'rc = {"recv", "ok", Char To Blob("+PONG~0D~0A", "ascii~hex")}',
    'rc[2] = "ok"',
    '"+PONG\\!r\\!n"',
    'got 40 bytes',
  ]);
  assert.deepEqual(await lines(page, 'error'), []);
  assert.equal(await page.locator('#input').inputValue(), script, 'Run keeps the script in the editor');
  const src = await lines(page, 'src');
  assert.match(src[src.length - 1], /s = Socket\(\);\s+… \(10 lines\)/);

  /* Each message with its answer list. */
  const msgs = page.locator('#log .msg');
  assert.equal(await msgs.count(), 6);
  assert.match(await text(msgs.nth(0).locator('.answer')), /^\{"socket", "ok", "s\d+"\}$/);
  assert.equal(await text(msgs.nth(0).locator('.label')), 'Socket()');
  assert.equal(await text(msgs.nth(0).locator('.http')), '201');
  const recv = msgs.nth(3);
  assert.equal(await text(recv.locator('.label')), 's << Recv(100)');
  assert.equal(await text(recv.locator('.answer')), '{"recv", "ok", "+PONG~0D~0A"}');

  /* Received data as ascii~hex, a hex dump one click away, and back. */
  const dump = recv.locator('.hexdump');
  assert.equal(await dump.isVisible(), false);
  await recv.locator('button.toggle').click();
  assert.equal(await dump.isVisible(), true);
  assert.match(await text(dump), /^00000000 {2}2b 50 4f 4e 47 0d 0a .*\|\+PONG\.\.\|$/);
  await recv.locator('button.toggle').click();
  assert.equal(await dump.isVisible(), false);
  const bin = msgs.nth(5);
  await bin.locator('button.toggle').click();
  assert.match(await text(bin.locator('.hexdump')),
    /^00000000 {2}00 01 02 03 04 05 06 07 {2}08 09 0a 0b 0c 0d 0e 0f {2}\|\.{16}\|\n00000010/);

  /* Copy as curl: the command carries the URL, the token and the body. */
  const curl = await recv.locator('button.curl').getAttribute('data-curl');
  assert.match(curl, new RegExp(`^curl -sS -X POST '${gateway.base}/sockets/s\\d+/recv' ` +
    `-H 'Authorization: Bearer ${gateway.token}' -H 'Content-Type: application/json' -d '\\["100"\\]'$`));
  await recv.locator('button.curl').click();
  await page.waitForFunction(() => [...document.querySelectorAll('button.curl')].some((b) => b.textContent === 'copied'));
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), curl);

  /* The sockets panel: the connection, its peer and its byte counts (7 + 40 in, 6 + 3 out). */
  await page.locator('#sockets-refresh').click();
  const row = page.locator('.socket-table tbody tr').first();
  await row.waitFor();
  assert.match(await text(row.locator('.c-peer')), new RegExp(`127\\.0\\.0\\.1:${tcp.port}`));
  assert.match(await text(row.locator('.c-type')), /STREAM IPV4/);
  await page.waitForFunction(() => (document.querySelector('.socket-table tbody .c-inout') || {})
    .textContent === '47 / 9', null, { timeout: 5000 });
  await runLine(page, 's << Close()');
});

test('Enter runs one line, Shift+Enter adds a line, Ctrl+Enter runs them all; history', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  let page = await openConsole(t, browser, gateway, { context });
  await runLine(page, 'x = 41');
  assert.equal(await page.locator('#input').inputValue(), '', 'Enter leaves the prompt empty');
  await runLine(page, 'x + 1');
  assert.deepEqual(await lines(page, 'value'), ['41', '42']);

  const input = page.locator('#input');
  await input.fill('Print("one");');
  await input.press('Shift+Enter');
  await input.type('Print("two");');
  await input.press('Enter');
  await input.type('Print("three")');
  assert.equal(await input.inputValue(), 'Print("one");\nPrint("two");\nPrint("three")');
  assert.deepEqual(await lines(page, 'out'), [], 'nothing ran yet');
  await input.press('Control+Enter');
  await idle(page);
  assert.deepEqual(await lines(page, 'out'), ['"one"', '"two"', '"three"']);

  await input.fill('draft');
  await input.press('ArrowUp');
  assert.equal(await input.inputValue(), 'Print("one");\nPrint("two");\nPrint("three")');
  await input.press('Control+Home');
  await input.press('ArrowUp');
  assert.equal(await input.inputValue(), 'x + 1');
  await input.press('ArrowDown');
  await input.press('Control+End');
  await input.press('ArrowDown');
  assert.equal(await input.inputValue(), 'draft');
  await page.close();

  page = await openConsole(t, browser, gateway, { context });
  await page.locator('#input').press('ArrowUp');
  assert.equal(await page.locator('#input').inputValue(), 'Print("one");\nPrint("two");\nPrint("three")');
});

test('errors show in the log with their line and column, and the page goes on', async (t) => {
  const page = await openConsole(t, browser, gateway);
  await runScript(page, 'Print("first");\nl = {1, 2};\nShow(l[3]);\nPrint("never")');
  assert.deepEqual(await lines(page, 'out'), ['"first"']);
  const error = page.locator('#log .line.error').last();
  assert.equal(await text(error.locator('.what')), 'line 3, column 6: Subscript Range: l[3], and l has 2 items');
  assert.equal(await text(error.locator('.caret')), 'Show(l[3]);\n     ^');
  assert.equal(await error.getAttribute('data-line'), '3');

  await runScript(page, 'x = 1;\nIf(x,\n  Print("open"');
  const syntax = page.locator('#log .line.error').last();
  assert.match(await text(syntax.locator('.what')), /^line 3, column \d+: syntax error: /);

  await runScript(page, 'Nosuch(1)');
  assert.equal(await text(page.locator('#log .line.error').last().locator('.what')),
    'line 1, column 1: Unknown function: Nosuch');

  /* A refused connection is an answer like any other, marked as an error. */
  await runScript(page, 'c = Socket();\nrc = c << Connect("127.0.0.1", 1);\nShow(Starts With(rc[2], "CONNREFUSED"));\nc << Close()');
  assert.equal(await page.locator('#log .msg.err').count(), 1);
  assert.equal((await lines(page, 'out')).pop(), 'Starts With(rc[2], "CONNREFUSED") = 1');
  await runLine(page, 'Show("still works")');
  assert.equal((await lines(page, 'out')).pop(), '"still works"');
});

test('a callback function runs when its event arrives, and the event stream shows it', async (t) => {
  const page = await openConsole(t, browser, gateway);
  await page.waitForFunction(() => document.getElementById('events-status').dataset.state === 'ok', null,
    { timeout: 10000 });
  pushes = [];
  await runScript(page, `onData = Function({rc}, Print(rc[2], Blob To Char(rc[3]), rc[4] == s));
s = Socket();
s << Connect("127.0.0.1", ${tcp.port});
s << Recv(100, "onData");
s << Send("PUSH");`);
  /* The script has ended; the callback runs when the data comes. */
  await page.waitForFunction(() => [...document.querySelectorAll('#log .line.out')]
    .some((l) => l.textContent === '"pushed by the server\\!r\\!n"'), null, { timeout: 10000 });
  assert.deepEqual((await lines(page, 'out')).slice(-3), ['"ok"', '"pushed by the server\\!r\\!n"', '1']);
  const event = page.locator('#events .event').first();
  assert.equal(await text(event.locator('.event-name')), 'onData');
  assert.match(await text(event.locator('.answer')), /^\{"recv", "ok", "pushed by the server~0D~0A", "s\d+"\}$/);
  await idle(page);
  await runLine(page, 's << Close()');
});

test('an event stream that answers 404 is shown as unavailable; scripts still run', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  await context.route('**/events*', (route) => route.fulfill({
    status: 404, contentType: 'application/json', body: '["events","INVAL: no such endpoint."]',
  }));
  const page = await openConsole(t, browser, gateway, { context });
  await page.waitForFunction(() => document.getElementById('events-status').textContent === 'events: unavailable',
    null, { timeout: 10000 });
  await runLine(page, 'Show("still works")');
  assert.deepEqual(await lines(page, 'out'), ['"still works"']);
});

test('without the token the gateway answers AUTH, and the script says so', async (t) => {
  const page = await openConsole(t, browser, gateway, { query: '' });
  assert.equal(await text(page.locator('#auth-status')), 'no token');
  await runLine(page, 's = Socket()');
  assert.match(await text(page.locator('#log .msg .answer')), /^\{"socket", "AUTH: .*"\}$/);
  assert.match(await text(page.locator('#log .line.error .what')), /Socket\(\) failed: AUTH/);
});

test('on a phone-sized screen nothing overflows sideways', async (t) => {
  const page = await openConsole(t, browser, gateway, { viewport: { width: 390, height: 844 } });
  await runScript(page, `s = Socket(); s << Connect("127.0.0.1", ${tcp.port}); s << Send("PING\\!r\\!n");
rc = s << Recv(100); Show(rc);`);
  await page.locator('#sockets-refresh').click();
  await page.locator('.socket-table tbody tr').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  const box = await page.locator('#input').boundingBox();
  assert.ok(box.width > 200, 'the editor is usable');
  await runLine(page, 's << Close()');
});

test('screenshot for the README', async (t) => {
  const page = await openConsole(t, browser, gateway, { viewport: { width: 1280, height: 880 } });
  await page.waitForFunction(() => document.getElementById('events-status').dataset.state === 'ok', null,
    { timeout: 10000 });
  await runScript(page, `onData = Function({rc}, Print(Blob To Char(rc[3])));
s = Socket();
rc = s << Connect("localhost", "${tcp.port}");
If(rc[2] != "ok", Show(rc); Stop());
s << Send("PING\\!r\\!n");
rc = s << Recv(100);
Show(rc);
s << Recv(100, "onData");
s << Send("PUSH");
Wait(0.5);`);
  await page.locator('#log .msg').nth(3).locator('button.toggle').click();
  await page.locator('#sockets-refresh').click();
  await page.locator('.socket-table tbody tr').first().waitFor();
  await page.locator('#examples').selectOption({ label: 'HTTP GET, non-blocking poll' });
  await page.screenshot({ path: screenshotPath });
  assert.ok(fs.statSync(screenshotPath).size > 10000);
  await runLine(page, 's << Close()');
});
