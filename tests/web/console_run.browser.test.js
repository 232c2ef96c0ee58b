/*
 * Browser tests of running scripts in the console, in real Chromium: a script never
 * freezes the page (a While(1) with no socket call, a non-blocking poll loop, Wait(30), a
 * recv that waits), the Stop control ends each at once, a script that prints a hundred
 * thousand lines leaves the page usable with the newest lines kept, and the page's own
 * example scripts run, Web() included. Assertions are on behaviour, never on time: each
 * test's own time limit is far below the 30 s a Wait or a recv would take.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/console_run.browser.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startGateway } = require('./harness.js');
const peers = require('./peers.js');
const { launch, openConsole, idle, running, runScript, runLine, lines } = require('./browser.js');

let gateway;
let browser;
let silent;       /* a TCP server that never says anything */

before(async () => {
  /* A long --max-wait, so that only Stop can end a waiting recv in these tests. */
  gateway = await startGateway({ token: 'run-test-token', args: ['--max-wait', '60'] });
  silent = await peers.tcpServer(() => {});
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (silent) await silent.close();
  if (gateway) await gateway.stop();
});

/* Starts a script with the Run button and waits until it is running. */
async function start(page, source) {
  await page.locator('#input').fill(source);
  await page.locator('#run').click();
  await running(page);
}

/* Presses the Run button, which says Stop while a script runs, and waits for idle. */
async function stop(page) {
  assert.equal(await page.locator('#run').innerText(), 'Stop');
  await page.locator('#run').click();
  await idle(page, 5000);
  assert.equal((await lines(page, 'note')).pop(), 'stopped');
}

/* Proof that the page still answers a person: the editor takes typing, and the sockets
 * panel refreshes when its button is pressed. */
async function pageAnswers(page) {
  await page.evaluate(() => { document.getElementById('sockets-note').textContent = ''; });
  await page.locator('#sockets-refresh').click();
  await page.waitForFunction(() => /open|HTTP/.test(document.getElementById('sockets-note').textContent),
    null, { timeout: 5000 });
}

test('Stop ends a While(1) that makes no socket call, and the page answers meanwhile', { timeout: 60000 },
  async (t) => {
    const page = await openConsole(t, browser, gateway);
    await start(page, 'i = 0;\nWhile(1, i++)');
    await pageAnswers(page);
    await stop(page);
    await runLine(page, 'Show(i > 1000)');
    assert.equal((await lines(page, 'out')).pop(), 'i > 1000 = 1');
  });

test('Stop ends Wait(30), a non-blocking poll loop and a waiting recv at once', { timeout: 60000 }, async (t) => {
  const page = await openConsole(t, browser, gateway);
  await start(page, 'Print("waiting"); Wait(30); Print("not reached")');
  await pageAnswers(page);
  await stop(page);

  await start(page, `s = Socket();
s << Connect("127.0.0.1", ${silent.port});
s << Ioctl(FIONBIO, 1);
polls = 0;
While(1, rc = s << Recv(100); If(Starts With(rc[2], "WOULDBLOCK"), polls++, Break()))`);
  await page.waitForFunction(() => document.querySelectorAll('#log .msg.err').length > 20, null, { timeout: 10000 });
  await pageAnswers(page);
  await stop(page);
  await runLine(page, 'Show(polls > 20)');
  assert.equal((await lines(page, 'out')).pop(), 'polls > 20 = 1');

  await runLine(page, 's << Ioctl(FIONBIO, 0)');
  await start(page, 'rc = s << Recv(100); Print("not reached")');
  await page.waitForSelector('#log .msg.pending .waiting');
  await pageAnswers(page);
  await stop(page);
  /* The cancelled call says so, and nothing after it ran. */
  assert.match(await page.locator('#log .msg').last().innerText(), /stopped/);
  assert.ok(!(await lines(page, 'out')).includes('"not reached"'));
  await runLine(page, 's << Close()');
});

test('a hundred thousand printed lines: the page stays usable and keeps the newest', { timeout: 120000 },
  async (t) => {
    const page = await openConsole(t, browser, gateway);
    await start(page, 'For(i = 1, i <= 100000, i++, Print(i))');
    /* While it prints: the page answers, and typing reaches the editor. */
    await pageAnswers(page);
    await idle(page, 100000);
    const out = await lines(page, 'out');
    assert.equal(out.length, 10000, 'the last 10,000 lines are kept');
    assert.equal(out[out.length - 1], '100000');
    assert.equal(out[0], '90001');
    assert.match(await page.locator('#log-trimmed').innerText(), /^90,\d{3} earlier lines are not kept/);

    /* A script that never ends, printing: Stop still works, then the page goes on. */
    await start(page, 'n = 0; While(1, n++; Print(n))');
    await page.waitForFunction(() => document.querySelectorAll('#log .line.out').length >= 10000, null,
      { timeout: 30000 });
    await pageAnswers(page);
    await page.locator('#input').fill('typed while it runs');
    assert.equal(await page.locator('#input').inputValue(), 'typed while it runs');
    await stop(page);
    const last = (await lines(page, 'out')).slice(-2).map(Number);
    assert.equal(last[1], last[0] + 1, 'the newest lines, in order');
    await runLine(page, 'Show(n > 10000)');
    assert.equal((await lines(page, 'out')).pop(), 'n > 10000 = 1');
  });

test('the page\'s own examples run as they are', { timeout: 60000 }, async (t) => {
  const page = await openConsole(t, browser, gateway);
  const titles = await page.locator('#examples option').allInnerTexts();
  assert.ok(titles.length >= 5);
  const load = async (title) => {
    await page.locator('#examples').selectOption({ label: title });
    return page.locator('#input').inputValue();
  };

  assert.match(await load('HTTP GET, blocking'), /While\(1,/);
  await page.locator('#run').click();
  await idle(page);
  assert.deepEqual(await lines(page, 'error'), []);
  assert.match((await lines(page, 'out')).pop(), /^"HTTP\/1\.1 200 OK\\!r\\!n.*\{\\!"status\\!":\\!"ok\\!"\}"$/);

  await load('HTTP GET, non-blocking poll');
  await page.locator('#run').click();
  await idle(page);
  assert.deepEqual(await lines(page, 'error'), []);
  assert.deepEqual((await lines(page, 'out')).slice(-2), ['Word(1, text, "\\!r\\!n") = "HTTP/1.1 200 OK"',
    'Regex(text, "Content-Length: (\\d+)", "\\1") = "15"']);

  await load('UDP to itself');
  await page.locator('#run').click();
  await idle(page);
  assert.deepEqual((await lines(page, 'out')).slice(-3, -1), ['Blob To Char(rc[3]) = "hello, datagram"', 'rc[4] = "127.0.0.1"']);

  await load('A callback function');
  await page.locator('#run').click();
  await idle(page);
  assert.deepEqual(await lines(page, 'error'), []);
  const out = await lines(page, 'out');
  assert.ok(out.includes('rc[2] = "ok"'), out.join('\n'));
});

test('Web() opens a tab: the one-request web server example answers it', { timeout: 60000 }, async (t) => {
  const page = await openConsole(t, browser, gateway);
  await page.locator('#examples').selectOption({ label: 'A web server for one request' });
  const tab = page.context().waitForEvent('page', { timeout: 20000 });
  await page.locator('#run').click();
  const opened = await tab;
  await opened.waitForLoadState('domcontentloaded');
  assert.equal(await opened.locator('h1').innerText(), 'Hello from a JSL script');
  await idle(page);
  assert.deepEqual(await lines(page, 'error'), []);
  assert.equal((await lines(page, 'out')).pop(), '"GET / HTTP/1.1"');
  assert.match((await lines(page, 'note')).pop(), /^Web\(\): http:\/\/127\.0\.0\.1:\d+\/ opens in a new tab$/);
  await opened.close();
});
