/*
 * `--listen HOST:0` asks the kernel for a free port; the start-up lines must then name
 * the port the gateway really listens on, so that a person (or a script) can reach it.
 *
 *   SOCKGATE_BUILD=build node --test tests/api/listen.test.js
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');

const bin = path.resolve(process.env.SOCKGATE_BUILD || 'build', 'sockgate');

/* Starts the gateway on HOST:0 and resolves with its log once the console line is out. */
function startOnPortZero(host) {
  const child = spawn(bin, ['--listen', `${host}:0`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no console line:\n${log}`)); }, 10000);
    child.stderr.on('data', (d) => {
      log += d;
      if (/console: \S+\n/.test(log)) { clearTimeout(timer); resolve({ child, log }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${log}`)); });
  });
}

for (const host of ['127.0.0.1', '[::1]']) {
  test(`--listen ${host}:0 logs the port the kernel chose, and it answers`, async (t) => {
    const { child, log } = await startOnPortZero(host);
    t.after(() => child.kill('SIGTERM'));
    const esc = host.replace(/[[\].]/g, '\\$&');
    const listening = new RegExp(`listening on http://${esc}:(\\d+) `).exec(log);
    assert.ok(listening, log);
    const port = Number(listening[1]);
    assert.ok(port > 0, `port 0 in the log:\n${log}`);
    assert.match(log, new RegExp(`console: http://${esc}:${port}/\\n`));
    const res = await fetch(`http://${host}:${port}/healthz`);
    assert.equal(res.status, 200);
  });
}
