/*
 * Browser tests of the console in real Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core): the real gateway (build/sockgate, started here with a token) serves
 * the page, a real TCP server in this process answers, and the tests type whole sessions
 * and check what a person sees: answers, Show output, the hex dump, the sockets panel,
 * the event stream, copy as curl, errors that leave the page working, the history, and a
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
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const build = path.resolve(root, process.env.SOCKGATE_BUILD || 'build');
const gatewayBin = path.join(build, 'sockgate');
const chromiumPath = process.env.SOCKGATE_CHROMIUM || '/usr/bin/chromium';
const screenshotPath = process.env.SOCKGATE_SCREENSHOT === 'update'
  ? path.join(root, 'web', 'screenshot.png')
  : path.join(root, 'build', 'console-screenshot.png');
const TOKEN = 'console-test-token';

const { chromium } = require('playwright-core');

let gateway;         /* the sockgate child process */
let gatewayLog = '';
let base;            /* http://127.0.0.1:PORT */
let tcp;             /* the local TCP server */
let tcpPort;
let closedPort;      /* a port where nothing listens */
let browser;

/* A free TCP port on loopback (bound, read, released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch (e) {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`sockgate did not answer /healthz:\n${gatewayLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/*
 * The TCP server the console talks to: "PING" is answered "+PONG", "BIN" with 40 bytes
 * 0x00..0x27 (for the hex dump), "PUSH" with a line a background recv will receive.
 */
function startTcpServer() {
  return new Promise((resolve) => {
    const server = net.createServer((sock) => {
      sock.on('data', (data) => {
        const text = data.toString('latin1');
        if (text.includes('PING')) sock.write('+PONG\r\n');
        if (text.includes('BIN')) sock.write(Buffer.from(Array.from({ length: 40 }, (_, i) => i)));
        if (text.includes('PUSH')) sock.write('pushed by the server\r\n');
      });
      sock.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

before(async () => {
  assert.ok(fs.existsSync(gatewayBin), `${gatewayBin} is missing: build it first (make)`);
  assert.ok(fs.existsSync(chromiumPath), `${chromiumPath} is missing (apt-get install chromium)`);
  tcp = await startTcpServer();
  tcpPort = tcp.address().port;
  closedPort = await freePort();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  gateway = spawn(gatewayBin, ['--listen', `127.0.0.1:${port}`, '--web-dir', path.join(build, 'web'),
    '--token', TOKEN, '--max-wait', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
  /* Even if this process dies early (an uncaught error, a closed stdout pipe). */
  process.on('exit', () => { if (gateway.exitCode === null) gateway.kill('SIGKILL'); });
  gateway.stdout.on('data', (d) => { gatewayLog += d; });
  gateway.stderr.on('data', (d) => { gatewayLog += d; });
  await waitForHealth(base, 10000);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((r) => gateway.once('exit', r));
    gateway.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
  }
  if (tcp) tcp.close();
});

/* A fresh page (own storage) whose CSP reports and script errors fail the test. */
async function openConsole(t, { viewport = { width: 1280, height: 800 }, query = `?token=${TOKEN}`,
  context = null } = {}) {
  const ctx = context || await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/\/events|Failed to load resource/.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
  await page.goto(`${base}/${query}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
  t.after(async () => {
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
    if (!context) await ctx.close();
  });
  return page;
}

/* Types a line as a person would, presses Enter, and waits until it has run. */
async function run(page, line) {
  const before = await page.locator('.entry').count();
  await page.locator('#input').fill(line);
  await page.locator('#input').press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('.entry').length > n &&
    !document.querySelector('.entry.queued, .entry.running'), before, { timeout: 15000 });
  return page.locator('.entry').last();
}

const text = (locator) => locator.innerText();

test('a whole session: socket, connect, send, recv, Show, hex dump, curl, sockets panel',
  async (t) => {
    const page = await openConsole(t);
    assert.equal(await text(page.locator('#auth-status')), 'token');
    assert.equal(await text(page.locator('#parser-status')), 'parser: wasm');

    let e = await run(page, 's = Socket()');
    assert.match(await text(e.locator('.answer')), /^\["socket","ok","[^"]+"\]$/);
    assert.match(await text(e.locator('.call .http')), /201/);

    e = await run(page, `s << connect("127.0.0.1", ${tcpPort})`);
    assert.equal(await text(e.locator('.answer')), '["connect","ok"]');

    e = await run(page, 's << send("PING~0d~0a")');
    assert.equal(await text(e.locator('.answer')), '["send","ok",""]');

    e = await run(page, 'rc = s << recv(100); Show(rc, rc[2])');
    const entries = page.locator('.entry');
    const recvEntry = entries.nth(-2);
    assert.equal(await text(recvEntry.locator('.answer')), '["recv","ok","+PONG~0D~0A"]');
    assert.equal(await text(e.locator('.show')),
      'rc = {"recv", "ok", Char To Blob("+PONG~0D~0A", "ascii~hex")}\nrc[2] = "ok"');

    /* The data as a hex dump, and back. */
    const dump = recvEntry.locator('.hexdump');
    assert.equal(await dump.isVisible(), false);
    await recvEntry.locator('button.toggle').click();
    assert.equal(await dump.isVisible(), true);
    assert.match(await text(dump), /^00000000 {2}2b 50 4f 4e 47 0d 0a .*\|\+PONG\.\.\|$/);
    await recvEntry.locator('button.toggle').click();
    assert.equal(await dump.isVisible(), false);

    /* Copy as curl: the command carries the URL, the token and the body. */
    const curl = await recvEntry.locator('button.curl').getAttribute('data-curl');
    assert.match(curl, new RegExp(`^curl -sS -X POST '${base}/sockets/[^/]+/recv' ` +
      `-H 'Authorization: Bearer ${TOKEN}' -H 'Content-Type: application/json' -d '\\["100"\\]'$`));
    await recvEntry.locator('button.curl').click();
    await page.waitForFunction(() => [...document.querySelectorAll('button.curl')]
      .some((b) => b.textContent === 'copied' || b.textContent === 'select & copy'));

    /* Blob To Char turns the received blob into text. */
    e = await run(page, 'Show(Blob To Char(rc[3]))');
    assert.equal(await text(e.locator('.show')), '"+PONG\\!r\\!n"');

    /* Binary data, then the sockets panel with the connection and its byte counts. */
    await run(page, 's << send("BIN"); bin = s << recv(100)');
    const binEntry = page.locator('.entry').last();
    assert.match(await text(binEntry.locator('.answer')), /^\["recv","ok","~00~01~02/);
    await binEntry.locator('button.toggle').click();
    assert.match(await text(binEntry.locator('.hexdump')),
      /^00000000 {2}00 01 02 03 04 05 06 07 {2}08 09 0a 0b 0c 0d 0e 0f {2}\|\.{16}\|\n00000010/);

    await page.locator('#sockets-refresh').click();
    const row = page.locator('.socket-table tbody tr').first();
    await row.waitFor();
    assert.match(await text(row.locator('.c-peer')), new RegExp(`127\\.0\\.0\\.1:${tcpPort}`));
    assert.match(await text(row.locator('.c-type')), /STREAM/);
    /* 7 + 40 bytes in, 6 + 3 out. */
    await page.waitForFunction(() => (document.querySelector('.socket-table tbody .c-inout') || {})
      .textContent === '47 / 9', null, { timeout: 5000 });

    e = await run(page, 's << close()');
    assert.equal(await text(e.locator('.answer')), '["close","ok"]');
  });

test('errors are shown and leave the page working', async (t) => {
  const page = await openConsole(t);

  /* A refused connection is an answer like any other, marked as an error. */
  let e = await run(page, `c = Socket(); c << connect("127.0.0.1", ${closedPort})`);
  assert.match(await text(e.locator('.answer')), /^\["connect","CONNREFUSED: .*"\]$/);
  assert.equal(await e.locator('.call.err').count(), 1);

  /* A syntax error: the column, a caret under it, nothing run. */
  e = await run(page, 'c << recv(10');
  assert.ok(await e.evaluate((n) => n.classList.contains('failed')));
  assert.equal(await text(e.locator('.error')),
    "syntax error, column 13: expected ',' or ')' after an argument, found the end of the input");
  assert.equal(await text(e.locator('.syntax')), 'c << recv(10\n            ^');

  /* A mistake at run time stops the rest of its line. */
  e = await run(page, 'x << close(); Show("never")');
  const [first, second] = [page.locator('.entry').nth(-2), page.locator('.entry').last()];
  assert.equal(await text(first.locator('.error')), 'x is not defined');
  assert.ok(await second.evaluate((n) => n.classList.contains('skipped')));

  /* An unknown socket: the gateway's 404 list. */
  e = await run(page, '"nosuch" << close()');
  assert.match(await text(e.locator('.answer')), /^\["close","NOTSOCK: .*"\]$/);
  assert.match(await text(e.locator('.http')), /404/);

  /* And the page still works. */
  await run(page, 'c << close(); Show(1)');
  assert.equal(await text(page.locator('.entry').last().locator('.show')), '1');
});

test('a blocking recv shows as pending, queues the next line, and can be cancelled',
  async (t) => {
    const page = await openConsole(t);
    await run(page, `s = Socket(); s << connect("127.0.0.1", ${tcpPort})`);
    const input = page.locator('#input');
    await input.fill('s << recv(100)');
    await input.press('Enter');
    const waiting = page.locator('.entry').nth(await page.locator('.entry').count() - 1);
    await page.waitForFunction(() => /^waiting \d+ s…$/.test(
      (document.querySelector('.call.pending .waiting') || {}).textContent || ''), null,
    { timeout: 5000 });
    await input.fill('Show("next")');
    await input.press('Enter');
    assert.ok(await page.locator('.entry').last().evaluate((n) => n.classList.contains('queued')));

    await waiting.locator('button.cancel').click();
    await page.waitForFunction(() => !document.querySelector('.entry.queued, .entry.running'));
    assert.equal(await text(waiting.locator('.error')), 'recv: cancelled');
    assert.equal(await text(page.locator('.entry').last().locator('.show')), '"next"');

    /* The cancelled wait took no byte: the next recv gets the whole answer. */
    await run(page, 's << send("PING~0d~0a")');
    const e = await run(page, 's << recv(100)');
    assert.equal(await text(e.locator('.answer')), '["recv","ok","+PONG~0D~0A"]');
    await run(page, 's << close()');
  });

test('an event stream that answers 404 is shown as unavailable', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  await context.route('**/events*', (route) => route.fulfill({
    status: 404, contentType: 'application/json', body: '["events","INVAL: no such endpoint."]',
  }));
  const page = await openConsole(t, { context });
  await page.waitForFunction(() => document.getElementById('events-status').textContent ===
    'events: unavailable', null, { timeout: 10000 });
  const e = await run(page, 'Show("still works")');
  assert.equal(await text(e.locator('.show')), '"still works"');
});

test('without the token the gateway answers AUTH, shown as a list', async (t) => {
  const page = await openConsole(t, { query: '' });
  assert.equal(await text(page.locator('#auth-status')), 'no token');
  const e = await run(page, 's = Socket()');
  assert.match(await text(e.locator('.answer')), /^\["sockets?","AUTH: .*"\]$/);
  assert.match(await text(e.locator('.error')), /Socket\(\) failed: AUTH/);
});

test('history: arrow keys walk it, and it survives a reload', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  let page = await openConsole(t, { context });
  await run(page, 'Show("one")');
  await run(page, 'Show("two")');
  const input = page.locator('#input');
  await input.fill('draft');
  await input.press('ArrowUp');
  assert.equal(await input.inputValue(), 'Show("two")');
  await input.press('ArrowUp');
  assert.equal(await input.inputValue(), 'Show("one")');
  await input.press('ArrowDown');
  await input.press('ArrowDown');
  assert.equal(await input.inputValue(), 'draft');
  await page.close();

  page = await openConsole(t, { context });
  await page.locator('#input').press('ArrowUp');
  assert.equal(await page.locator('#input').inputValue(), 'Show("two")');
});

test('a background recv arrives on the event stream', async (t) => {
  const page = await openConsole(t);
  await page.waitForFunction(() => document.getElementById('events-status').dataset.state === 'ok',
    null, { timeout: 10000 });
  await run(page, `s = Socket(); s << connect("127.0.0.1", ${tcpPort})`);
  let e = await run(page, 's << recv(100, "onData")');
  assert.equal(await text(e.locator('.answer')), '["recv","ok"]');
  assert.match(await text(e.locator('.http')), /202/);
  await run(page, 's << send("PUSH")');
  const event = page.locator('#events .event').first();
  await event.waitFor({ timeout: 10000 });
  assert.equal(await text(event.locator('.event-name')), 'onData');
  assert.match(await text(event.locator('.answer')),
    /^\["recv","ok","pushed by the server~0D~0A","[^"]+"\]$/);
  e = await run(page, 's << close()');
});

test('on a phone-sized screen nothing overflows sideways', async (t) => {
  const page = await openConsole(t, { viewport: { width: 390, height: 844 } });
  await run(page, `s = Socket(); s << connect("127.0.0.1", ${tcpPort}); s << send("PING~0d~0a")`);
  await run(page, 'rc = s << recv(100); Show(rc)');
  await page.locator('#sockets-refresh').click();
  await page.locator('.socket-table tbody tr').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  const box = await page.locator('#input').boundingBox();
  assert.ok(box.width > 200, 'the command line is usable');
  await run(page, 's << close()');
});

test('screenshot for the README', async (t) => {
  const page = await openConsole(t, { viewport: { width: 1280, height: 880 } });
  await page.waitForFunction(() => document.getElementById('events-status').dataset.state === 'ok',
    null, { timeout: 10000 });
  await run(page, 's = Socket();');
  await run(page, `s << connect("localhost", "${tcpPort}");`);
  await run(page, 's << send("PING~0d~0a");');
  await run(page, 'rc = s << recv(100); Show(rc);');
  await page.locator('.entry').nth(-2).locator('button.toggle').click();
  await run(page, 'Blob To Char(rc[3])');
  await run(page, 's << recv(100, "onData"); s << send("PUSH");');
  await page.locator('#events .event').first().waitFor({ timeout: 10000 });
  await run(page, `s << connect("localhost", ${closedPort}`);
  await page.locator('#sockets-refresh').click();
  await page.locator('.socket-table tbody tr').first().waitFor();
  await page.locator('#input').fill('s << getpeername()');
  await page.screenshot({ path: screenshotPath });
  assert.ok(fs.statSync(screenshotPath).size > 10000);
});
