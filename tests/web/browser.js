/*
 * What the Chromium tests share: Debian's /usr/bin/chromium driven by playwright-core
 * (no browser is downloaded), a fresh page of the console whose script errors and CSP
 * reports fail the test, and helpers that run scripts as a person would.
 */
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { chromium } = require('playwright-core');

const chromiumPath = process.env.SOCKGATE_CHROMIUM || '/usr/bin/chromium';

/* Chromium as the team launches it, with any further flags. */
async function launch(extraArgs = []) {
  assert.ok(fs.existsSync(chromiumPath), `${chromiumPath} is missing (apt-get install chromium)`);
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/* A fresh page (own storage unless a context is given) with the console loaded. */
async function openConsole(t, browser, gateway, { viewport = { width: 1280, height: 800 },
  query = `?token=${gateway.token}`, context = null } = {}) {
  const ctx = context || await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/\/events|Failed to load resource/.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
  await page.goto(`${gateway.base}/${query}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
  t.after(async () => {
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
    if (!context) await ctx.close();
  });
  return page;
}

const idle = (page, timeout = 15000) => page.waitForSelector('#run[data-state="idle"]', { timeout });
const running = (page) => page.waitForSelector('#run[data-state="running"]', { timeout: 10000 });

/* Puts a script in the editor and runs all of it with the Run button; waits for the end. */
async function runScript(page, source) {
  await page.locator('#input').fill(source);
  await page.locator('#run').click();
  await idle(page);
}

/* Types one line and presses Enter, as at a prompt; waits for the end. */
async function runLine(page, line) {
  await page.locator('#input').fill(line);
  await page.locator('#input').press('Enter');
  await idle(page);
}

/* The text of the log's lines of one kind (out, error, value, note, src, msg). */
function lines(page, kind) {
  return page.locator(`#log .line.${kind}`).allInnerTexts();
}

module.exports = { launch, openConsole, idle, running, runScript, runLine, lines };
