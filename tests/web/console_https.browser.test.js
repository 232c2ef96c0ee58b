/*
 * The console over HTTPS in real Chromium: the gateway serves with --tls-cert/--tls-key
 * (a certificate made here by openssl for localhost), Chromium trusts exactly that key
 * (--ignore-certificate-errors-spki-list, nothing broader), and a person's script runs
 * as over HTTP: socket, connect, send, recv against a TCP server in this process, and a
 * callback whose event arrives on the EventSource stream, all over https://.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/console_https.browser.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { launch, openConsole, runScript, lines } = require('./browser.js');

const root = path.resolve(__dirname, '..', '..');
const build = path.resolve(root, process.env.SOCKGATE_BUILD || 'build');
const TOKEN = 'https-console-token';

let dir;             /* the certificate's folder */
let gateway;         /* the sockgate child process */
let gatewayLog = '';
let base;            /* https://localhost:PORT */
let tcp;             /* the TCP server the console talks to */
let browser;

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

/* A self-signed certificate for localhost and the base64 SHA-256 of its public key,
 * the form Chromium's SPKI allow-list takes. */
function makeCertificate() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-https-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
    '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const der = execFileSync('openssl', ['x509', '-in', cert, '-pubkey', '-noout']);
  const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: der });
  const hash = require('node:crypto').createHash('sha256').update(spki).digest('base64');
  return { cert, key, hash };
}

before(async () => {
  const { cert, key, hash } = makeCertificate();
  tcp = net.createServer((sock) => {
    sock.on('data', (d) => {
      if (d.toString('latin1').includes('PING')) sock.write('+PONG\r\n');
      if (d.toString('latin1').includes('PUSH')) sock.write('pushed over https\r\n');
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => tcp.listen(0, '127.0.0.1', r));
  const port = await freePort();
  base = `https://localhost:${port}`;
  gateway = spawn(path.join(build, 'sockgate'), ['--listen', `127.0.0.1:${port}`,
    '--web-dir', path.join(build, 'web'), '--token', TOKEN, '--tls-cert', cert,
    '--tls-key', key], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.on('exit', () => { if (gateway.exitCode === null) gateway.kill('SIGKILL'); });
  gateway.stdout.on('data', (d) => { gatewayLog += d; });
  gateway.stderr.on('data', (d) => { gatewayLog += d; });
  const end = Date.now() + 10000;
  while (!/listening on https:/.test(gatewayLog)) {
    if (Date.now() > end) throw new Error(`sockgate did not start:\n${gatewayLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  browser = await launch([`--ignore-certificate-errors-spki-list=${hash}`]);
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
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a console session over https: a script, its answers and a callback', async (t) => {
  const page = await openConsole(t, browser, { base, token: TOKEN });
  assert.equal(new URL(page.url()).protocol, 'https:');
  await page.waitForFunction(() => document.getElementById('events-status').dataset.state === 'ok',
    null, { timeout: 10000 });
  await runScript(page, `s = Socket();
rc = s << Connect("127.0.0.1", ${tcp.address().port});
s << Send("PING\\!r\\!n");
rc = s << Recv(100);
Print(Blob To Char(rc[3]));
got = 0;
onPush = Function({rc}, got = 1; Print(Blob To Char(rc[3])));
s << Recv(100, "onPush");
s << Send("PUSH");
tries = 200;
While(!got & tries-- > 0, Wait(0.05));
s << Close();`);
  assert.deepEqual(await lines(page, 'error'), []);
  /* The event stream (EventSource) over https delivered the background recv. */
  assert.deepEqual(await lines(page, 'out'), ['"+PONG\\!r\\!n"', '"pushed over https\\!r\\!n"']);
  const answers = await page.locator('#log .msg .answer').allInnerTexts();
  assert.match(answers[0], /^\{"socket", "ok", "[^"]+"\}$/);
  assert.equal(answers[3], '{"recv", "ok", "+PONG~0D~0A"}');
  assert.match(await page.locator('#events .event .answer').first().innerText(),
    /^\{"recv", "ok", "pushed over https~0D~0A", "[^"]+"\}$/);
});

test('the WebSocket bridge over wss:// through the HTTPS listener', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/?token=${TOKEN}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
  const answer = await page.evaluate(async ({ token, tcpPort }) => {
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const made = await (await fetch('/sockets', { method: 'POST', headers })).json();
    const id = made[2];
    await fetch(`/sockets/${id}/connect`, { method: 'POST', headers,
      body: JSON.stringify(['127.0.0.1', tcpPort]) });
    return new Promise((resolve) => {
      const ws = new WebSocket(`wss://${location.host}/sockets/${id}/ws?token=${token}`, ['binary']);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => ws.send(new TextEncoder().encode('PING\r\n'));
      ws.onmessage = (m) => { resolve({ data: new TextDecoder().decode(m.data) }); ws.close(); };
      ws.onerror = () => resolve({ error: 'the wss connection failed' });
      setTimeout(() => resolve({ error: 'no answer over wss within 5 s' }), 5000);
    });
  }, { token: TOKEN, tcpPort: tcp.address().port });
  await ctx.close();
  assert.deepEqual(answer, { data: '+PONG\r\n' });
});
