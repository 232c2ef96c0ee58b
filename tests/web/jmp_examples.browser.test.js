/*
 * Scripts in the manner of JMP's own socket examples (tests/web/jmp_examples.js), pasted
 * into the console in real Chromium and run with the Run button, against the real
 * gateway and real local peers: each ends as JMP's would, and its log says what JMP's
 * log would. The web server example's Web() opens a tab, which is the server's client.
 * With SOCKGATE_JMP_EXAMPLES naming a folder of JMP's own published scripts, those run
 * too, with only their host and port changed.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jmp_examples.browser.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startGateway, freePort } = require('./harness.js');
const peers = require('./peers.js');
const jmp = require('./jmp_examples.js');
const { launch, openConsole, idle } = require('./browser.js');

let gateway;
let browser;
let local;

before(async () => {
  gateway = await startGateway({ token: 'jmp-examples-token' });
  local = await jmp.peersFor(peers, freePort);
  browser = await launch();
});
after(async () => {
  if (browser) await browser.close();
  if (local) await local.close();
  if (gateway) await gateway.stop();
});

/* What the script wrote, as the log shows it: its output and value lines, in order. */
async function logText(page) {
  const texts = await page.locator('#log .line.out, #log .line.value').allInnerTexts();
  return texts.filter((l) => l !== '').map((l) => `${l}\n`).join('');
}

for (const ex of jmp.all()) {
  test(`${ex.name} (${ex.source})`, { timeout: 90000 }, async (t) => {
    const ctx = await local.ctx();
    const page = await openConsole(t, browser, gateway);
    /* Web() opens a tab, and the tab is the web server script's client. */
    const tab = ex.client ? page.context().waitForEvent('page', { timeout: 60000 }) : null;
    await page.locator('#input').fill(ex.script(ctx));
    await page.locator('#run').click();
    let answer;
    if (tab) {
      const opened = await tab;
      /* It shows the page once the script has answered and closed. */
      await opened.waitForURL('**/someResource', { waitUntil: 'load', timeout: 60000 });
      answer = `HTTP/1.0 200 OK\n${await opened.content()}`;
      await opened.close();
    }
    await idle(page, 60000);
    const errors = await page.locator('#log .line.error .what').allInnerTexts();
    if (ex.error) {
      assert.equal(errors.length, 1);
      assert.match(errors[0].replace(/^line (\d+), column (\d+): /, '$1:$2: '), ex.error);
    } else {
      assert.deepEqual(errors, []);
    }
    ex.expect(await logText(page), ctx, answer);
  });
}
