/*
 * Scripts in the manner of JMP's own socket examples (tests/web/jmp_examples.js, each
 * naming the page it follows), run by sockgate-jsl (build/sockgate-jsl) as a user runs
 * it: a real process against the real gateway and real local peers. Each must end as
 * JMP's would, with the log it would write. With SOCKGATE_JMP_EXAMPLES naming a folder
 * of JMP's own published scripts, those run too, with only their host and port changed.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jmp_examples.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { build, startGateway, freePort } = require('./harness.js');
const peers = require('./peers.js');
const jmp = require('./jmp_examples.js');

const cli = path.join(build, 'sockgate-jsl');
let gateway;
let local;
let dir;

before(async () => {
  gateway = await startGateway();
  local = await jmp.peersFor(peers, freePort);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jmp-examples-'));
});
after(async () => {
  if (local) await local.close();
  if (gateway) await gateway.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/* sockgate-jsl on a script file; resolves with {code, stdout, stderr}. */
function runCli(file) {
  return new Promise((resolve) => {
    const child = spawn(cli, ['--gateway', gateway.base, '--token', gateway.token, file],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/* Write() lines start with "\n" in JMP's examples: the log as lines, blank ones dropped. */
const logOf = (stdout) => stdout.split('\n').filter((l, i, all) => l !== '' || i === all.length - 1).join('\n');

for (const [i, ex] of jmp.all().entries()) {
  test(`${ex.name} (${ex.source})`, { timeout: 60000 }, async () => {
    const ctx = await local.ctx();
    const file = path.join(dir, `example${i}.jsl`);
    fs.writeFileSync(file, ex.script(ctx));
    const [r, answer] = await Promise.all([runCli(file), ex.client ? ex.client(ctx) : undefined]);
    if (ex.error) {
      assert.equal(r.code, 1);
      const first = r.stderr.split('\n')[0].replace(`${file}:`, '').replace(' error: ', ' ');
      assert.match(first, ex.error);
    } else {
      /* Only Web()'s note: sockgate-jsl opens no browser. */
      const stderr = r.stderr.split('\n').filter((l) => l && !l.startsWith('Web(): open http'));
      assert.deepEqual(stderr, [], `stderr of:\n${ex.script(ctx)}`);
      assert.equal(r.code, 0);
    }
    ex.expect(logOf(r.stdout), ctx, answer);
  });
}
