/*
 * `make install` into a staging folder (DESTDIR), then the installed commands run from
 * there as a user runs them from $PREFIX/bin: the gateway serves the console (its page and
 * the wasm parser) from its installed web/, sockgate-jsl runs a script against it, and
 * `make uninstall` takes everything away again.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/install.test.js
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { root, build, freePort } = require('./harness.js');

/* Neither command may be told where web/ is: each must find its own. */
const cleanEnv = { ...process.env };
delete cleanEnv.SOCKGATE_WEB_DIR;

/* make, without the jobserver of a make that may be running this test. */
function make(args) {
  const env = { ...process.env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[k];
  const r = spawnSync('make', ['--no-print-directory', '-s', `BUILD=${path.relative(root, build) || '.'}`, ...args],
    { cwd: root, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `make ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
}

test('make install puts both commands and the console in PREFIX; they run from there', { timeout: 120000 },
  async (t) => {
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-install-'));
    t.after(() => fs.rmSync(dest, { recursive: true, force: true }));
    const prefix = '/opt/sockgate-test';
    make(['install', `DESTDIR=${dest}`, `PREFIX=${prefix}`]);
    const bin = path.join(dest, prefix, 'bin');
    const lib = path.join(dest, prefix, 'lib', 'sockgate');
    for (const f of ['sockgate', 'sockgate-jsl']) {
      assert.equal(fs.readlinkSync(path.join(bin, f)), `../lib/sockgate/${f}`);
      fs.accessSync(path.join(lib, f), fs.constants.X_OK);
    }
    assert.deepEqual(fs.readdirSync(path.join(lib, 'web')).sort(), fs.readdirSync(path.join(build, 'web')).sort());

    /* The installed gateway, started through its link, finds its web/ by itself. */
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gw = spawn(path.join(bin, 'sockgate'), ['--listen', `127.0.0.1:${port}`, '--token', 'install-token', '--quiet'],
      { stdio: 'ignore', env: cleanEnv });
    t.after(() => gw.kill('SIGKILL'));
    let page = null;
    const end = Date.now() + 10000;
    while (!page && Date.now() < end) {
      try {
        const res = await fetch(`${base}/`);
        page = { status: res.status, text: await res.text() };
      } catch (e) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(page, 'the installed gateway answers');
    assert.equal(page.status, 200);
    assert.match(page.text, /<textarea id="input"/);
    const wasm = await fetch(`${base}/sockgate_wasm.wasm`);
    assert.equal(wasm.status, 200);
    assert.equal(Buffer.from(await wasm.arrayBuffer()).length, fs.statSync(path.join(build, 'web', 'sockgate_wasm.wasm')).size);

    /* The installed sockgate-jsl, through its link, loads the interpreter from web/. */
    const script = path.join(dest, 'hello.jsl');
    fs.writeFileSync(script, 's = Socket();\nrc = s << Close();\nShow(rc);\nGet Addr Info("localhost")[3][4];\n');
    const r = spawnSync(path.join(bin, 'sockgate-jsl'), ['--gateway', base, '--token', 'install-token', script],
      { encoding: 'utf8', env: cleanEnv });
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, 'rc = {"close", "ok"}\n', '']);

    make(['uninstall', `DESTDIR=${dest}`, `PREFIX=${prefix}`]);
    assert.deepEqual(fs.readdirSync(bin), []);
    assert.equal(fs.existsSync(lib), false);
  });
