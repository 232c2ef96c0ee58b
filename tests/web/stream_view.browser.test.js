/*
 * The console's streaming view in real Chromium (web/stream_view.js): a script connects a
 * socket to a local peer, the person presses the socket's "stream" button, and the view
 * shows the conversation live through the WebSocket bridge: the peer's greeting, what the
 * person sends (ascii~hex decoded, so ~0D~0A is a line end) and the peer's answer, as
 * ascii~hex and as a hex dump; the socket shows as streaming; closing the view ends the
 * bridge (Close 1000) and with it the socket.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/stream_view.browser.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startGateway } = require('./harness.js');
const peers = require('./peers.js');
const { launch, openConsole, runScript } = require('./browser.js');

let gateway;
let browser;
let chat;            /* greets, then answers each line upper-cased */
let heard = '';      /* what the peer received */

before(async () => {
  gateway = await startGateway({ token: 'stream-view-token' });
  chat = await peers.tcpServer((sock) => {
    sock.write('HELLO FROM THE PEER\r\n');
    sock.on('data', (d) => {
      heard += d.toString('latin1');
      sock.write(Buffer.from(d.toString('latin1').toUpperCase(), 'latin1'));
    });
  });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (chat) await chat.close();
  if (gateway) await gateway.stop();
});

test('a connected socket streams live in the view, both ways, and closes with it', { timeout: 60000 }, async (t) => {
  const page = await openConsole(t, browser, gateway);
  await runScript(page, `s = Socket(); rc = s << Connect("127.0.0.1", "${chat.port}"); Show(rc);`);
  await page.locator('#sockets-refresh').click();
  const button = page.locator('#sockets .stream-open');
  await button.waitFor({ timeout: 5000 });
  await button.click();

  /* Open: the greeting the peer sent on connecting arrives, as ascii~hex. */
  await page.waitForSelector('#stream-status[data-state="ok"]', { timeout: 5000 });
  await page.waitForFunction(() => /HELLO FROM THE PEER~0D~0A/.test(
    document.getElementById('stream-log').textContent), null, { timeout: 5000 });
  assert.match(await page.locator('#stream-title').innerText(), /^STREAM S\d+|^Stream s\d+/i);

  /* Out and back: ~0D~0A is decoded to a line end on its way. */
  await page.locator('#stream-input').fill('ping ~00 bytes~0D~0A');
  await page.locator('#stream-send button').click();
  await page.waitForFunction(() => /PING ~00 BYTES~0D~0A/.test(
    document.getElementById('stream-log').textContent), null, { timeout: 5000 });
  assert.equal(heard, 'ping \0 bytes\r\n');
  const out = await page.locator('#stream-log .chunk.out').allInnerTexts();
  assert.equal(out.length, 1);
  assert.match(out[0], /ping ~00 bytes~0D~0A/);
  assert.match(await page.locator('#stream-counts').innerText(), /in 35 B · out 14 B/);

  /* The same bytes as a hex dump. */
  await page.locator('#stream-hex').check();
  const dump = await page.locator('#stream-log .hexdump').allInnerTexts();
  assert.equal(dump.length, 3);
  assert.match(dump[1], /70 69 6e 67 20 00/i);

  /* While it streams the socket says so, and REST data commands answer ALREADY. */
  await page.locator('#sockets-refresh').click();
  await page.waitForFunction(() => /streaming/.test(document.getElementById('sockets').textContent),
    null, { timeout: 5000 });
  await runScript(page, 'Show(s << Recv(10));');
  const log = await page.locator('#log').innerText();
  assert.match(log, /ALREADY/);

  /* Closing the view closes the bridge and the socket. */
  await page.locator('#stream-close').click();
  await page.waitForFunction(() => /closed 1000/.test(document.getElementById('stream-status').textContent),
    null, { timeout: 5000 });
  await page.locator('#sockets-refresh').click();
  await page.waitForFunction(() => !/streaming|connected/.test(document.getElementById('sockets').textContent),
    null, { timeout: 5000 });
});
