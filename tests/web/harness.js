/*
 * What the node and browser tests of the console share: starting the real gateway
 * (build/sockgate) on a free loopback port, real local peers, and running JSL through
 * the console's own runner (build/web/jsl_runner.js) under node, collecting its log.
 * Every process a test starts dies with the test process.
 */
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { freePort } = require('../api/cluster.js');

const root = path.resolve(__dirname, '..', '..');
const build = path.resolve(root, process.env.SOCKGATE_BUILD || 'build');
const webDir = path.join(build, 'web');
const gatewayBin = path.join(build, 'sockgate');

const children = new Set();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/* The gateway with a token, answering on 127.0.0.1; stop() ends it. */
async function startGateway({ token = 'jsl-test-token', args = [] } = {}) {
  assert.ok(fs.existsSync(gatewayBin), `${gatewayBin} is missing: build it first (make)`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const tokenArgs = token ? ['--token', token] : [];
  const child = spawn(gatewayBin, ['--listen', `127.0.0.1:${port}`, '--web-dir', webDir, '--quiet',
    '--max-wait', '10', ...tokenArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const end = Date.now() + 10000;
  for (;;) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) break;
    } catch (e) {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > end) throw new Error(`sockgate did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base, port, token,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

let jslPromise = null;
/* The console's modules, loaded from the build as the page and sockgate-jsl load them. */
function modules() {
  const load = (name) => require(path.join(webDir, name));
  if (!jslPromise) jslPromise = load('jsl_node.js').loadJsl(webDir);
  return {
    jsl: jslPromise,
    node: load('jsl_node.js'),
    runner: load('jsl_runner.js'),
    values: load('jsl_values.js'),
    format: load('jsl_format.js'),
  };
}

/*
 * A JSL session against a gateway (or none: requests then fail), as sockgate-jsl runs
 * it. run(source) resolves to {status, value, error, out, errors, notes, calls}, where
 * out is everything written to the log; onWrite sees the text as it comes.
 */
async function session({ gateway, onWrite } = {}) {
  const m = modules();
  const jsl = await m.jsl;
  let current = null;
  let runner = null;
  const host = m.node.createNodeHost({
    gateway: gateway ? gateway.base : 'http://127.0.0.1:9',
    token: gateway ? gateway.token : '',
    onEvent: (name, list) => runner.deliver(name, list),
    onNote: (text) => { if (current) current.notes.push(text); },
  });
  runner = new m.runner.Runner({
    jsl, host,
    hooksFor: () => ({
      write(text) {
        if (current) current.out += text;
        if (onWrite) onWrite(text, current ? current.out : text);
      },
      note: (text) => { if (current) current.notes.push(text); },
      error: (info) => { if (current) current.errors.push(info); },
      answer: (call) => { if (current) current.calls.push(call); },
    }),
  });
  return {
    runner,
    interp: runner.interp,
    async run(source) {
      current = { out: '', errors: [], notes: [], calls: [] };
      const log = current;
      const result = await runner.run(source);
      return Object.assign(result, log);
    },
    /* The log of the latest run, which callbacks that run later (idle) add to. */
    log: () => current,
    close: () => host.close(),
  };
}

/* Runs one script in a fresh session and closes it. */
async function runJsl(source, options) {
  const s = await session(options);
  try {
    return await s.run(source);
  } finally {
    s.close();
  }
}

/* Resolves when cond() holds, checking every 20 ms; fails after ms. */
async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = { root, build, webDir, freePort, startGateway, modules, session, runJsl, until };
