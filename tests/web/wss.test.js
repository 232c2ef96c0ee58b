/*
 * The WebSocket bridge as wss:// (SPEC §10, §11): the gateway serves HTTPS with a
 * certificate made here for localhost (--tls-cert/--tls-key, TLS ended before
 * libmicrohttpd), and node's WebSocket, trusting that certificate, streams 8 MB from a
 * local peer through /sockets/<id>/ws: every byte in order, then Close 1000; and sends a
 * message the peer must get whole.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/wss.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const build = path.resolve(root, process.env.SOCKGATE_BUILD || 'build');
const gatewayBin = path.join(build, 'sockgate');
const BYTES = 8 << 20;

let tmp;
let gateway;
let gatewayLog = '';
let port;
let peer;            /* the local TCP server the socket connects to */
let peerGot = Buffer.alloc(0);

/* Byte i of the stream the peer sends. */
function patternByte(i) {
  return ((i * 2654435761) >>> 13) & 0xff;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-wss-'));
  const cert = path.join(tmp, 'cert.pem');
  const key = path.join(tmp, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
    '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext',
    'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  /* The peer: "GO" gets BYTES of the pattern and the end of the stream; anything else is
   * kept for the test to look at. */
  peer = net.createServer((sock) => {
    sock.on('data', (d) => {
      if (d.toString() === 'GO') {
        const out = Buffer.alloc(BYTES);
        for (let i = 0; i < BYTES; i++) out[i] = patternByte(i);
        sock.end(out);
      } else {
        peerGot = Buffer.concat([peerGot, d]);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => peer.listen(0, '127.0.0.1', r));
  port = await freePort();
  gateway = spawn(gatewayBin, ['--listen', `127.0.0.1:${port}`, '--tls-cert', cert, '--tls-key', key],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  gateway.stdout.on('data', (d) => { gatewayLog += d; });
  gateway.stderr.on('data', (d) => { gatewayLog += d; });
  process.on('exit', () => { if (gateway.exitCode === null) gateway.kill('SIGKILL'); });
  const end = Date.now() + 10000;
  for (;;) {
    const up = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > end) throw new Error(`sockgate did not start:\n${gatewayLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((r) => gateway.once('exit', r));
    gateway.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  }
  if (peer) peer.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/* The client runs in a node of its own that trusts the test's certificate (node reads
 * NODE_EXTRA_CA_CERTS when it starts); it prints one JSON line. */
const CLIENT = `
const [base, peerPort, bytes] = process.argv.slice(1);
(async () => {
  const made = await (await fetch(base + '/sockets', { method: 'POST' })).json();
  const id = made[2];
  const conn = await (await fetch(base + '/sockets/' + id + '/connect',
    { method: 'POST', body: JSON.stringify(['127.0.0.1', Number(peerPort)]) })).json();
  const ws = new WebSocket(base.replace('https:', 'wss:') + '/sockets/' + id + '/ws');
  ws.binaryType = 'arraybuffer';
  let got = 0, bad = -1;
  const patternByte = ${patternByte.toString()};
  const done = new Promise((resolve) => {
    ws.onopen = () => { ws.send(new TextEncoder().encode('hello over wss')); setTimeout(() => ws.send(new TextEncoder().encode('GO')), 200); };
    ws.onmessage = (e) => {
      const b = new Uint8Array(e.data);
      for (let i = 0; i < b.length; i++) if (bad < 0 && b[i] !== patternByte(got + i)) bad = got + i;
      got += b.length;
    };
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
  });
  const end = await done;
  console.log(JSON.stringify({ id, connect: conn[1], got, bad, ...end }));
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); });
`;

test('wss:// carries every byte both ways through the HTTPS listener', async () => {
  const child = spawn(process.execPath, ['--experimental-websocket', '-e', CLIENT,
    `https://localhost:${port}`, String(peer.address().port), String(BYTES)],
  { env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(tmp, 'cert.pem') },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, err);
  const res = JSON.parse(out.trim().split('\n').pop());
  assert.equal(res.error, undefined, `${res.error}\n${gatewayLog}`);
  assert.equal(res.connect, 'ok');
  assert.equal(res.got, BYTES);
  assert.equal(res.bad, -1, 'every byte in order');
  assert.equal(res.code, 1000);
  assert.equal(res.reason, 'the peer closed the connection');
  assert.equal(peerGot.toString(), 'hello over wss');
});
