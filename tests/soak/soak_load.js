// The soak's mixed load (see soak.js): socket lifecycles against the echo peer, command
// bursts, a repeating background recv whose events a listener follows while it
// disconnects and resumes with Last-Event-ID, clients that vanish mid-wait, and malformed
// requests. Every worker loops until the deadline; counts() says how it went.
'use strict';

const http = require('node:http');
const net = require('node:net');

const REQUEST_TIMEOUT_MS = 15000;   // above the gateway's --max-wait of 10 s
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

class Load {
  constructor({ host, port, echoPort }) {
    this.host = host;
    this.port = port;
    this.echoPort = echoPort;
    this.c = { requests: 0, http5xx: 0, resets: 0, errors: 0, events: 0, lost: 0, dup: 0 };
    this.d = { lifecycles: 0, bursts: 0, vanished: 0, malformed: 0, resumes: 0, overflows: 0,
      echoed: 0, slowEchoes: 0 };
    this.errorSamples = [];
    this.agents = [];
    this.closers = [];
  }

  counts() { return { ...this.c }; }
  detail() { return { ...this.d }; }
  firstErrors() { return this.errorSamples; }

  error(what) {
    this.c.errors++;
    if (this.errorSamples.length < 5) this.errorSamples.push(what);
  }

  // One request on a keep-alive agent; resolves {status, body} or null after counting a
  // reset or timeout.
  request(agent, method, path, body, headers = {}) {
    this.c.requests++;
    return new Promise((resolve) => {
      const data = body === undefined ? undefined : Buffer.from(body);
      const req = http.request({ host: this.host, port: this.port, method, path, agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...headers } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode >= 500) {
            this.c.http5xx++;
            if (this.errorSamples.length < 5) this.errorSamples.push(`${res.statusCode} ${method} ${path}`);
          }
          const text = Buffer.concat(chunks).toString();
          let json = null;
          try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
          resolve({ status: res.statusCode, text, json });
        });
        res.on('error', () => { this.c.resets++; resolve(null); });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        this.c.resets++;
        if (this.errorSamples.length < 5) this.errorSamples.push(`${method} ${path}: ${e.message}`);
        resolve(null);
      });
      req.end(data);
    });
  }

  agent() {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.agents.push(a);
    return a;
  }

  // Answer checks: ["cmd","ok",...] with the expected status.
  ok(res, status, cmd) {
    if (!res) return false;
    const j = res.json;
    if (res.status !== status || !Array.isArray(j) || j[0] !== cmd || j[1] !== 'ok') {
      this.error(`${cmd}: ${res.status} ${res.text.slice(0, 120)}`);
      return false;
    }
    return true;
  }

  async newConnectedSocket(agent) {
    const made = await this.request(agent, 'POST', '/sockets', '["STREAM"]');
    if (!this.ok(made, 201, 'socket')) return null;
    const id = made.json[2];
    const conn = await this.request(agent, 'POST', `/sockets/${id}/connect`,
      JSON.stringify(['127.0.0.1', this.echoPort]));
    if (!this.ok(conn, 200, 'connect')) return null;
    return id;
  }

  // Sends text and reads until the echo of all of it is back.
  async echo(agent, id, text) {
    const sent = await this.request(agent, 'POST', `/sockets/${id}/send`, JSON.stringify([text]));
    if (!this.ok(sent, 200, 'send') || sent.json[2] !== '') return false;
    let got = '';
    // A recv that times out is tried again: on a loaded machine an echo can take seconds.
    // Bytes that have not come back after 30 s are lost.
    for (let waited = 0; got.length < text.length;) {
      const r = await this.request(agent, 'POST', `/sockets/${id}/recv`,
        JSON.stringify({ n: 65536, timeout: 5 }));
      if (r && r.json && typeof r.json[1] === 'string' && r.json[1].startsWith('TIMEDOUT') &&
          (waited += 5) < 30) {
        this.d.slowEchoes++;
        continue;
      }
      if (r && r.json && r.json[1] !== 'ok') {
        this.error(`echo of ${text.slice(0, 20)} on ${id}: ${got.length} of ${text.length} ` +
          `bytes back, then ${r.text.slice(0, 80)}`);
        return false;
      }
      if (!this.ok(r, 200, 'recv')) return false;
      got += r.json[2];
    }
    if (got !== text) {
      this.error(`echo on ${id}: sent ${text.length} bytes, got back ${got.slice(0, 60)}`);
      return false;
    }
    this.d.echoed++;
    return true;
  }

  async lifecycles(deadline) {
    const agent = this.agent();
    for (let n = 0; Date.now() < deadline; n++) {
      const id = await this.newConnectedSocket(agent);
      if (!id) { await sleep(50); continue; }
      await this.echo(agent, id, `ping-${n}-${'x'.repeat(rand(0, 2000))}`);
      this.ok(await this.request(agent, 'DELETE', `/sockets/${id}`), 200, 'close');
      this.d.lifecycles++;
    }
  }

  async bursts(deadline) {
    const agent = this.agent();
    const id = await this.newConnectedSocket(agent);
    if (!id) return;
    while (Date.now() < deadline) {
      for (let i = 0; i < 20; i++) {
        this.ok(await this.request(agent, 'GET', `/sockets/${id}/getsockname`), 200, 'getsockname');
        this.ok(await this.request(agent, 'POST', `/sockets/${id}/getpeername`), 200, 'getpeername');
        this.ok(await this.request(agent, 'GET', `/sockets/${id}/ioctl`), 200, 'ioctl');
      }
      const list = await this.request(agent, 'GET', '/sockets');
      if (!list || list.status !== 200 || !list.json || !Array.isArray(list.json.sockets)) this.error('GET /sockets');
      const health = await this.request(agent, 'GET', '/healthz');
      if (!health || health.status !== 200) this.error('GET /healthz');
      const metrics = await this.request(agent, 'GET', '/metrics');
      if (!metrics || metrics.status !== 200) this.error('GET /metrics');
      this.d.bursts++;
      await sleep(rand(0, 20));
    }
    await this.request(agent, 'DELETE', `/sockets/${id}`);
  }

  // A repeating background recv on a socket that echoes numbered messages; a listener
  // follows the events, leaving and resuming with Last-Event-ID now and then. Every id
  // must follow the one before, and the data must spell 0;1;2;... exactly.
  async events(deadline) {
    const agent = this.agent();
    const id = await this.newConnectedSocket(agent);
    if (!id) return;
    const bg = await this.request(agent, 'POST', `/sockets/${id}/recv`,
      JSON.stringify({ n: 65536, callback: 'onData', repeat: true }));
    if (!this.ok(bg, 202, 'recv')) return;
    const state = { lastId: null, text: '', nextNumber: 0, done: false };
    const listening = this.listen(state, deadline + 3000);
    let sent = 0;
    while (Date.now() < deadline) {
      let batch = '';
      for (let i = 0; i < rand(1, 20); i++) batch += `${sent++};`;
      const r = await this.request(agent, 'POST', `/sockets/${id}/send`, JSON.stringify([batch]));
      this.ok(r, 200, 'send');
      await sleep(rand(1, 15));
    }
    // Everything sent comes back before the listener's own deadline.
    const until = Date.now() + 3000;
    while (state.nextNumber < sent && Date.now() < until) await sleep(20);
    state.done = true;
    await listening;
    if (state.nextNumber < sent) {
      this.c.lost += sent - state.nextNumber;
      this.error(`events: ${sent} numbers sent, ${state.nextNumber} came back in order`);
    }
    await this.request(agent, 'DELETE', `/sockets/${id}`);
  }

  // Follows /events until state.done or the deadline, reconnecting every 1-4 s.
  async listen(state, deadline) {
    while (!state.done && Date.now() < deadline) {
      const headers = state.lastId === null ? {} : { 'Last-Event-ID': String(state.lastId) };
      if (state.lastId !== null) this.d.resumes++;
      await new Promise((resolve) => {
        const req = http.get({ host: this.host, port: this.port, path: '/events', headers },
          (res) => {
            if (res.statusCode !== 200) { this.error(`GET /events: ${res.statusCode}`); res.resume(); resolve(); return; }
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (chunk) => {
              buf += chunk;
              let end;
              while ((end = buf.indexOf('\n\n')) >= 0) {
                this.onEvent(state, buf.slice(0, end));
                buf = buf.slice(end + 2);
              }
            });
            res.on('end', resolve);
            res.on('error', resolve);
          });
        req.on('error', () => { this.c.resets++; resolve(); });
        const stay = rand(1000, 4000);
        const timer = setInterval(() => {
          if (state.done || Date.now() >= deadline) { clearInterval(timer); req.destroy(); resolve(); }
        }, 50);
        setTimeout(() => { clearInterval(timer); req.destroy(); resolve(); }, stay);
      });
    }
  }

  onEvent(state, block) {
    let id = null, name = 'message', data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = Number(line.slice(4));
      else if (line.startsWith('event: ')) name = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (name === 'overflow') { this.d.overflows++; this.c.lost++; return; }
    if (id === null) return; // retry: or a heartbeat
    if (state.lastId !== null && id <= state.lastId) { this.c.dup++; return; }
    if (state.lastId !== null && id !== state.lastId + 1) this.c.lost += id - state.lastId - 1;
    state.lastId = id;
    this.c.events++;
    let list;
    try { list = JSON.parse(data); } catch (e) { this.error(`event ${id}: not JSON`); return; }
    if (name !== 'onData' || list[1] !== 'ok') { this.error(`event ${id}: ${data.slice(0, 100)}`); return; }
    state.text += list[2];
    let semi;
    while ((semi = state.text.indexOf(';')) >= 0) {
      const n = Number(state.text.slice(0, semi));
      state.text = state.text.slice(semi + 1);
      if (n === state.nextNumber) state.nextNumber++;
      else if (n < state.nextNumber) this.c.dup++;
      else { this.c.lost += n - state.nextNumber; state.nextNumber = n + 1; }
    }
  }

  // A blocking recv whose client vanishes (a reset or a plain close) before any data:
  // the socket must lose nothing, so an echo right after comes back whole.
  async vanishing(deadline) {
    const agent = this.agent();
    const id = await this.newConnectedSocket(agent);
    if (!id) return;
    for (let n = 0; Date.now() < deadline; n++) {
      await new Promise((resolve) => {
        const s = net.connect(this.port, this.host, () => {
          const body = JSON.stringify({ n: 100, timeout: 8 });
          s.write(`POST /sockets/${id}/recv HTTP/1.1\r\nHost: ${this.host}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${body.length}\r\n\r\n${body}`);
          setTimeout(() => {
            if (n % 2) s.resetAndDestroy(); else s.destroy();
            resolve();
          }, rand(5, 40));
        });
        s.on('error', resolve);
      });
      await this.echo(agent, id, `vanish-${n};`);
      this.d.vanished++;
    }
    await this.request(agent, 'DELETE', `/sockets/${id}`);
  }

  // Requests that are wrong in every way a client gets them wrong; each must be answered
  // 4xx (or, for bytes that are no HTTP, the connection closed), never 5xx.
  async malformed(deadline) {
    const cases = [
      ['POST', '/sockets/s1/recv', '{"n":'],
      ['POST', '/sockets/nosuch/recv', '[10]'],
      ['POST', '/sockets', '["RAW"]'],
      ['POST', '/sockets/s1/frobnicate', '[]'],
      ['POST', '/sockets/s1/send', '["bad ~ZZ escape"]'],
      ['PUT', '/sockets', '[]'],
      ['GET', '/no/such/endpoint/at/all', undefined],
      ['POST', '/sockets/s1/recv', '{"n":-5}'],
      ['POST', '/sockets/s1/connect', '["127.0.0.1","99999"]'],
    ];
    const agent = this.agent();
    while (Date.now() < deadline) {
      for (const [m, p, b] of cases) {
        const r = await this.request(agent, m, p, b);
        if (r && (r.status < 400 || r.status >= 500)) this.error(`malformed ${m} ${p}: ${r.status}`);
      }
      for (const raw of ['BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n',
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(70000)}\r\n\r\n`,
        '\x00\x01\x02garbage\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: 127']) {
        await this.raw(raw);
      }
      this.d.malformed++;
      await sleep(rand(10, 50));
    }
  }

  // Sends raw bytes on a new connection; a status line, if any, must not be 5xx. The
  // client then leaves without half-closing first: libmicrohttpd 0.9.75 misses an end of
  // stream that arrives with the last bytes of an incomplete request, and holds such a
  // connection until its timeout (120 s), which is not what this soak measures.
  raw(bytes) {
    this.c.requests++;
    return new Promise((resolve) => {
      const s = net.connect(this.port, this.host, () => s.write(bytes));
      let got = '';
      s.setTimeout(300, () => s.destroy());
      s.on('data', (d) => { got += d.toString('latin1'); });
      s.on('error', () => resolve());
      s.on('close', () => {
        const m = got.match(/^HTTP\/1\.[01] (\d{3})/);
        if (m && Number(m[1]) >= 500) { this.c.http5xx++; this.error(`raw request answered ${m[1]}`); }
        resolve();
      });
    });
  }

  // Every worker, or those SOAK_ONLY names (SOAK_ONLY=events,vanishing), for a closer
  // look at one kind of load.
  run(deadline) {
    const workers = ['lifecycles', 'lifecycles', 'lifecycles', 'bursts', 'bursts', 'events',
      'vanishing', 'vanishing', 'malformed'];
    const only = (process.env.SOAK_ONLY || '').split(',').filter(Boolean);
    return Promise.all(workers.filter((w) => !only.length || only.includes(w))
      .map((w) => this[w](deadline)));
  }

  async finish() {
    for (const a of this.agents) a.destroy();
  }
}

module.exports = { Load };
