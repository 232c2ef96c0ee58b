/*
 * Helpers for tests that run real processes on loopback: sockgate gateways (the build's
 * binary, each with its --node), a router in front of them (Debian's haproxy or nginx,
 * configured by deploy/router-conf.sh), a local TCP echo peer, JSON calls over HTTP and a
 * reader of Server-Sent Events. Everything started here is stopped by stopAll().
 */
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const build = path.resolve(root, process.env.SOCKGATE_BUILD || 'build');
const gatewayBin = path.join(build, 'sockgate');
const routerConf = path.join(root, 'deploy', 'router-conf.sh');

/* Debian installs both routers in /usr/sbin, which a plain user's PATH may lack. */
function sbin(name) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, name);
    if (dir && fs.existsSync(p)) return p;
  }
  throw new Error(`${name} is not installed (make test installs it)`);
}

const children = new Set();

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/* A free TCP port on loopback (bound, read, released). */
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

/* Polls fn until it returns a truthy value or ms pass; returns that value or throws. */
async function waitFor(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(50);
  }
}

/* Starts a program, keeps its output for error messages, and remembers it for stopAll. */
function start(file, args, label) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.label = label;
  child.output = '';
  const keep = (d) => {
    child.output = (child.output + d.toString()).slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

/*
 * A literal address in text that is neither loopback nor unspecified (dotted IPv4, or an
 * IPv6 address other than ::1, ::ffff:127.x and ::), or null. As the C harness does
 * (tests/integration/netns.h), call() refuses to send a request naming one: these tests
 * run on the machine's own network, where a regressed policy would let the packet go.
 * A test that must name one belongs in a network namespace (tests/integration).
 */
function remoteAddressIn(text) {
  for (const m of text.matchAll(/(?<![\w.])(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w.])/g)) {
    if (m[1] !== '127' && m[0] !== '0.0.0.0') return m[0];
  }
  for (const m of text.matchAll(/(?<![\w:.])[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*(?![\w:.])/gi)) {
    if (!net.isIPv6(m[0])) continue;
    if (m[0] === '::1' || m[0] === '::' || /^::ffff:127\./i.test(m[0])) continue;
    return m[0];
  }
  return null;
}

/*
 * One JSON call: method, url, body (an object or array is sent as JSON, a string as is).
 * Resolves to { status, headers, body (parsed JSON, or the text when it is not JSON) }.
 * Every call has its own connection, so a request that waits never holds up another.
 */
function call(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null
      : typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    let where = url;
    try {
      where = decodeURIComponent(url);
    } catch (e) {
      /* a test's deliberately bad escape: read it as it is */
    }
    const remote = remoteAddressIn(`${where} ${data ? data.toString('latin1') : ''}`);
    if (remote) {
      reject(new Error(`${method} ${url} names ${remote}, beyond loopback: such a test must run ` +
        'in a network namespace of its own (tests/integration/netns.h), not here'));
      return;
    }
    const req = http.request(url, {
      method,
      agent: false,
      headers: { ...(data ? { 'Content-Length': data.length } : {}), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          /* not JSON: keep the text */
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60000, () => req.destroy(new Error(`${method} ${url}: no answer in 60 s`)));
    if (data) req.write(data);
    req.end();
  });
}

/* A gateway: build/sockgate with --node NAME on a loopback port. */
async function startGateway(name, port, extra = []) {
  port = port || await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--quiet', ...(name ? ['--node', name] : []), ...extra];
  const child = start(gatewayBin, args, `gateway ${name}`);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`gateway ${name} on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`it exited:\n${child.output}`);
    return (await call('GET', `${url}/healthz`)).status === 200;
  });
  return { name, port, url, child, address: `127.0.0.1:${port}` };
}

/* Renders a router's configuration for these gateways; returns its text. */
function renderRouter(kind, listen, gateways, extra = []) {
  const nodes = gateways.map((g) => `${g.name}=${g.address}`);
  return execFileSync(routerConf, [kind, '--listen', listen, ...extra, ...nodes]).toString();
}

/*
 * A router (kind 'haproxy' or 'nginx') on a free loopback port in front of gateways, its
 * configuration checked by the router itself (haproxy -c, nginx -t) before it starts.
 */
async function startRouter(kind, gateways) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sockgate-${kind}-`));
  /* nginx's workers run as nobody when the tests run as root: let them in. */
  fs.chmodSync(dir, 0o755);
  const listen = `127.0.0.1:${port}`;
  let file, args;
  if (kind === 'haproxy') {
    file = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(file, renderRouter(kind, listen, gateways));
    execFileSync(sbin('haproxy'), ['-c', '-q', '-f', file]);
    args = ['-db', '-f', file];
  } else {
    file = path.join(dir, 'nginx.conf');
    fs.writeFileSync(file, renderRouter(kind, listen, gateways, ['--run-dir', dir]));
    execFileSync(sbin('nginx'), ['-t', '-q', '-p', dir, '-e', 'stderr', '-c', file]);
    args = ['-p', dir, '-e', 'stderr', '-c', file];
  }
  const child = start(sbin(kind), args, kind);
  const url = `http://${listen}`;
  await waitFor(`${kind} on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`it exited:\n${child.output}`);
    return (await call('GET', `${url}/healthz`)).status === 200;
  });
  return { kind, port, url, child, dir, config: fs.readFileSync(file, 'utf8') };
}

/* Stops one process: SIGTERM (or the signal given), then waits for it. */
async function stop(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(t);
}

async function stopAll() {
  await Promise.all([...children].map((c) => stop(c)));
}

/* A TCP peer on loopback that echoes what it receives. */
function startEchoPeer() {
  return new Promise((resolve) => {
    const sockets = new Set();
    const server = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('data', (d) => sock.write(d));
      sock.on('error', () => {});
      sock.on('close', () => sockets.delete(sock));
    });
    server.listen(0, '127.0.0.1', () => {
      server.port = server.address().port;
      server.stop = () => new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      });
      resolve(server);
    });
  });
}

/*
 * A Server-Sent Events reader on url: collects { id, event, data } blocks (data parsed as
 * JSON) in .events; next(pred, ms) resolves with the first event, old or new, that pred
 * accepts. close() ends it.
 */
function openEvents(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const stream = { events: [], waiters: [], status: 0 };
    const req = http.get(url, { agent: false, headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      stream.status = res.statusCode;
      stream.headers = res.headers;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) ev[m[1]] = m[1] === 'data' ? JSON.parse(m[2]) : m[2];
          }
          if (ev.event) {
            stream.events.push(ev);
            for (const w of stream.waiters.slice()) w(ev);
          }
        }
      });
      res.on('error', () => {});
      resolve(stream);
    });
    req.on('error', reject);
    stream.close = () => req.destroy();
    stream.next = (pred, ms = 10000) => new Promise((res, rej) => {
      const old = stream.events.find(pred);
      if (old) return res(old);
      const timer = setTimeout(() => {
        stream.waiters.splice(stream.waiters.indexOf(waiter), 1);
        rej(new Error(`no such event within ${ms} ms; got ${JSON.stringify(stream.events)}`));
      }, ms);
      const waiter = (ev) => {
        if (!pred(ev)) return;
        clearTimeout(timer);
        stream.waiters.splice(stream.waiters.indexOf(waiter), 1);
        res(ev);
      };
      stream.waiters.push(waiter);
    });
  });
}

/*
 * Opens a WebSocket bridge (SPEC §10) at url and sends one binary message; resolves to
 * { status, headers, reply } where reply is the first binary message that comes back
 * (null when the upgrade was refused). A minimal RFC 6455 client: masked frames out,
 * short unmasked frames in; enough to see bytes cross a router both ways.
 */
function webSocketEcho(url, payload) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, reply: null,
        text: Buffer.concat(chunks).toString() }));
    });
    req.on('upgrade', (res, sock, head) => {
      const mask = Buffer.from([1, 2, 3, 4]);
      const body = Buffer.from(payload).map((b, i) => b ^ mask[i % 4]);
      sock.write(Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, body]));
      let buf = head;
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('no WebSocket reply')); }, 10000);
      const take = (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2 || buf.length < 2 + (buf[1] & 0x7f)) return;
        clearTimeout(timer);
        sock.destroy();
        resolve({ status: res.statusCode, headers: res.headers, text: '',
          reply: { opcode: buf[0] & 0x0f, data: buf.subarray(2, 2 + (buf[1] & 0x7f)).toString() } });
      };
      sock.on('data', take);
      sock.on('error', () => {});
      if (head.length) take(Buffer.alloc(0));
    });
    req.on('error', reject);
    req.end();
  });
}

module.exports = {
  webSocketEcho,
  root, build, gatewayBin, sbin, sleep, freePort, waitFor, call, start, stop, stopAll,
  startGateway, startRouter, renderRouter, startEchoPeer, openEvents, remoteAddressIn,
};
