/*
 * noVNC, unchanged, in real Chromium against a real VNC server, through sockgate's
 * websockify compatibility (SPEC §10): Debian's noVNC (served by nginx) opens
 * ws://127.0.0.1:PORT/websockify, sockgate bridges it to TigerVNC's Xvnc on loopback, and
 * the page must reach noVNC's connected state. The same page is first run against Debian's
 * websockify itself, so a failure of sockgate's run is not the harness's.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/novnc.browser.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..', '..');
const build = path.resolve(root, process.env.SOCKGATE_BUILD || 'build');
const gatewayBin = path.join(build, 'sockgate');
const chromiumPath = process.env.SOCKGATE_CHROMIUM || '/usr/bin/chromium';
const novncDir = '/usr/share/novnc';
const nginxBin = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

let tmp;             /* scratch folder: nginx's config, the token file */
let browser;
let vncPort;         /* Xvnc's RFB port */
let webPort;         /* nginx serving noVNC */
const children = []; /* every process started here, killed at the end */

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

/* Starts a program; its output is kept for the failure message. */
function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.log = '';
  child.stdout.on('data', (d) => { child.log += d; });
  child.stderr.on('data', (d) => { child.log += d; });
  children.push(child);
  return child;
}

/* Waits until something accepts TCP connections on the port. */
async function waitForPort(port, child, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (child.exitCode !== null || Date.now() > end) {
      throw new Error(`${child.spawnargs.join(' ')} did not listen on ${port}:\n${child.log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/* An X display number whose socket and lock are free. */
function freeDisplay() {
  for (let n = 70; n < 200; n++) {
    if (!fs.existsSync(`/tmp/.X11-unix/X${n}`) && !fs.existsSync(`/tmp/.X${n}-lock`)) return n;
  }
  throw new Error('no free X display number');
}

before(async () => {
  for (const f of [gatewayBin, chromiumPath, novncDir, '/usr/bin/Xvnc', '/usr/bin/websockify']) {
    assert.ok(fs.existsSync(f), `${f} is missing (make test installs it)`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-novnc-'));
  fs.chmodSync(tmp, 0o755);
  vncPort = await freePort();
  const xvnc = start('/usr/bin/Xvnc', [`:${freeDisplay()}`, '-localhost', '-SecurityTypes', 'None',
    '-rfbport', String(vncPort), '-geometry', '320x240', '-depth', '24', '-desktop', 'sockgate-test']);
  await waitForPort(vncPort, xvnc);
  webPort = await freePort();
  fs.writeFileSync(path.join(tmp, 'nginx.conf'), `worker_processes 1;
daemon off;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log;
events { worker_connections 64; }
http {
    access_log off;
    types { text/html html; text/javascript js; text/css css; image/svg+xml svg; image/png png; }
    server { listen 127.0.0.1:${webPort}; root ${novncDir}; }
}
`);
  const nginx = start(nginxBin, ['-p', tmp, '-e', `${tmp}/error.log`, '-c', `${tmp}/nginx.conf`]);
  await waitForPort(webPort, nginx);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    /* playwright gives every launch a fresh profile folder of its own. */
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGTERM');
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGKILL');
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/* Opens noVNC's vnc_lite.html against a bridge on `port` (`wsPath` may carry ?token=) and
 * returns the status text it reaches: "Connected to sockgate-test" on success. */
async function novncStatus(port, wsPath) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const query = `host=127.0.0.1&port=${port}&path=${encodeURIComponent(wsPath)}`;
  await page.goto(`http://127.0.0.1:${webPort}/vnc_lite.html?${query}`);
  await page.waitForFunction(() => {
    const s = document.getElementById('status').textContent;
    return s.startsWith('Connected') || s.startsWith('Something') || s === 'Disconnected';
  }, null, { timeout: 15000 }).catch(() => {});
  const status = await page.textContent('#status');
  /* A connected noVNC has drawn the remote screen: its canvas is the desktop's size. */
  const size = await page.evaluate(() => {
    const c = document.querySelector('#screen canvas');
    return c ? `${c.width}x${c.height}` : '';
  });
  await ctx.close();
  return { status, size, problems };
}

/* Opens noVNC's full application, vnc.html, as the README shows it (host, port and path in
 * the query, autoconnect so that no one has to press Connect) and returns its status line
 * and whether it reached its connected state. */
async function novncAppStatus(port, wsPath) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const query = `host=127.0.0.1&port=${port}&path=${encodeURIComponent(wsPath)}&autoconnect=true`;
  await page.goto(`http://127.0.0.1:${webPort}/vnc.html?${query}`);
  const connected = await page.waitForFunction(
    () => document.documentElement.classList.contains('noVNC_connected'),
    null, { timeout: 15000 }).then(() => true, () => false);
  const status = await page.textContent('#noVNC_status');
  await ctx.close();
  return { connected, status, problems };
}

test('the harness works: noVNC connects through Debian\'s websockify', async () => {
  const port = await freePort();
  const ws = start('/usr/bin/websockify', [`127.0.0.1:${port}`, `127.0.0.1:${vncPort}`]);
  await waitForPort(port, ws);
  const got = await novncStatus(port, 'websockify');
  assert.equal(got.status, 'Connected to sockgate-test', ws.log);
  assert.equal(got.size, '320x240');
  ws.kill('SIGTERM');
});

test('noVNC connects through sockgate --websockify-target', async () => {
  const port = await freePort();
  const gw = start(gatewayBin, ['--listen', `127.0.0.1:${port}`, '--websockify-target',
    `127.0.0.1:${vncPort}`, '--cors', `http://127.0.0.1:${webPort}`]);
  await waitForPort(port, gw);
  const got = await novncStatus(port, 'websockify');
  assert.equal(got.status, 'Connected to sockgate-test', gw.log);
  assert.equal(got.size, '320x240');
  assert.deepEqual(got.problems, []);
  /* Without --cors the page's origin is refused, as for every endpoint. */
  const strict = await freePort();
  const gw2 = start(gatewayBin, ['--listen', `127.0.0.1:${strict}`, '--websockify-target',
    `127.0.0.1:${vncPort}`]);
  await waitForPort(strict, gw2);
  const refused = await novncStatus(strict, 'websockify');
  assert.notEqual(refused.status, 'Connected to sockgate-test');
});

test('noVNC connects through a sockgate token file, ?token= in its path', async () => {
  const tokens = path.join(tmp, 'tokens');
  fs.writeFileSync(tokens, `desk: 127.0.0.1:${vncPort}\nother: 127.0.0.1:1\n`);
  const port = await freePort();
  const gw = start(gatewayBin, ['--listen', `127.0.0.1:${port}`, '--websockify-tokens', tokens,
    '--cors', `http://127.0.0.1:${webPort}`]);
  await waitForPort(port, gw);
  const got = await novncStatus(port, 'websockify?token=desk');
  assert.equal(got.status, 'Connected to sockgate-test', gw.log);
  const wrong = await novncStatus(port, 'websockify?token=nope');
  assert.notEqual(wrong.status, 'Connected to sockgate-test');
});

test('noVNC\'s full vnc.html connects through a token file, as the README shows it', async () => {
  const tokens = path.join(tmp, 'tokens-app');
  fs.writeFileSync(tokens, `desk1: 127.0.0.1:${vncPort}\n`);
  const port = await freePort();
  const gw = start(gatewayBin, ['--listen', `127.0.0.1:${port}`, '--websockify-tokens', tokens,
    '--cors', `http://127.0.0.1:${webPort}`]);
  await waitForPort(port, gw);
  const got = await novncAppStatus(port, 'websockify?token=desk1');
  assert.ok(got.connected, `vnc.html did not connect: "${got.status}"\n${gw.log}`);
  assert.match(got.status, /Connected \(unencrypted\) to sockgate-test/);
  assert.deepEqual(got.problems, []);
});
