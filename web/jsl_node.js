/*
 * The node side of the JSL runner, for sockgate-jsl and the node tests: it loads the
 * wasm parser and codec, makes the gateway's HTTP calls with node's fetch, and follows
 * the gateway's event stream (GET /events, Server-Sent Events) once a script arms a
 * callback, handing each event to the runner. The page has its own host in console.js.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { callApi, nodesNamed } = require('./jsl_sockets.js');

/* The wasm module and web/jsl.js from a built web folder (build/web). */
async function loadJsl(webDir) {
  const SockgateWasm = require(path.join(webDir, 'sockgate_wasm.js'));
  const SockgateJSL = require(path.join(webDir, 'jsl.js'));
  /* Handed the bytes: this emcc (3.1.6) would fetch() the file path under node 20. */
  const wasm = await SockgateWasm({ wasmBinary: fs.readFileSync(path.join(webDir, 'sockgate_wasm.wasm')) });
  return SockgateJSL(wasm);
}

const RETRY_MS = 1000;

/*
 * One Server-Sent Events stream, kept open (and reopened with Last-Event-ID) until
 * close(). ready() resolves once the gateway has answered, so that an event published
 * after that reaches us; onEvent(name, data, id) gets each event.
 */
class EventStream {
  constructor({ url, headers, onEvent, onProblem }) {
    this.url = url;
    this.headers = headers;
    this.onEvent = onEvent;
    this.onProblem = onProblem || (() => {});
    this.lastId = '';
    this.closed = false;
    this.controller = null;
    this.connected = null;
  }

  ready() {
    if (!this.connected) this.connected = this.open();
    return this.connected;
  }

  /* Resolves when the first answer is in (true if it is a stream); reads on in the
   * background. */
  open() {
    return new Promise((resolve) => {
      const connect = async () => {
        if (this.closed) return resolve(false);
        this.controller = new AbortController();
        const headers = { ...this.headers, Accept: 'text/event-stream' };
        if (this.lastId) headers['Last-Event-ID'] = this.lastId;
        let res;
        try {
          res = await fetch(this.url, { headers, signal: this.controller.signal });
        } catch (e) {
          if (this.closed) return resolve(false);
          this.onProblem(`the event stream could not be opened: ${e.message}`);
          resolve(false);
          setTimeout(connect, RETRY_MS).unref();
          return undefined;
        }
        if (res.status !== 200 || !res.body) {
          this.onProblem(`the event stream answered HTTP ${res.status}: callbacks will not run`);
          resolve(false);
          return undefined;
        }
        resolve(true);
        try {
          await this.read(res.body);
        } catch (e) {
          /* cut off: reconnect below */
        }
        if (!this.closed) setTimeout(connect, RETRY_MS).unref();
        return undefined;
      };
      connect();
    });
  }

  /* The text/event-stream format: fields up to a blank line make one event. */
  async read(body) {
    const decoder = new TextDecoder();
    let buffer = '';
    let name = '';
    let data = [];
    let id = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (id) this.lastId = id;
          if (data.length) this.onEvent(name || 'message', data.join('\n'), id);
          name = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
    }
  }

  close() {
    this.closed = true;
    if (this.controller) this.controller.abort();
  }
}

/*
 * The host object the interpreter calls (see Interpreter in jsl_eval.js) for a gateway
 * at `gateway` (http://host:port, maybe with a path prefix). onEvent(name, list) gets
 * the event stream's lists; notes (a stream that failed, Web()) go to onNote.
 */
function createNodeHost({ gateway, token, onEvent, onNote }) {
  const base = gateway.replace(/\/+$/, '');
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const note = onNote || (() => {});
  /* Behind a router each gateway (node) has its own event stream (SPEC section 12): once
   * a callback is armed, one stream per node that the script's socket ids have named, or
   * one without ?node= while none has. */
  const streams = new Map();       /* node ('' before any is known) -> EventStream */
  const nodes = new Set();         /* nodes named by the socket ids seen so far */
  let listening = false;

  function openStream(node) {
    streams.set(node, new EventStream({
      url: `${base}/events${node ? `?node=${encodeURIComponent(node)}` : ''}`,
      headers: auth,
      onProblem: note,
      onEvent(name, data) {
        let list = null;
        try {
          list = JSON.parse(data);
        } catch (e) {
          return;
        }
        if (onEvent) onEvent(name, list);
      },
    }));
  }

  /* The first node replaces the stream without ?node=; its undelivered events wait on
   * their gateway for the node's own stream. */
  function follow(node) {
    if (nodes.has(node)) return;
    nodes.add(node);
    if (!listening) return;
    if (streams.has('')) {
      streams.get('').close();
      streams.delete('');
    }
    openStream(node);
  }

  const request = async (method, p, body, signal) => {
    const res = await callApi(base + p, method, auth, body, signal);
    for (const node of nodesNamed(p, res.body)) follow(node);
    return res;
  };

  async function listen() {
    if (!listening) {
      listening = true;
      if (!nodes.size) openStream('');
      for (const node of nodes) openStream(node);
    }
    await Promise.all([...streams.values()].map((s) => s.ready()));
  }

  return {
    request,
    listen,
    openUrl: (url) => `Web(): open ${url} in a browser (sockgate-jsl opens none)`,
    yieldNow: () => new Promise((resolve) => setImmediate(resolve)),
    now: () => performance.now(),
    close() {
      for (const s of streams.values()) s.close();
    },
  };
}

module.exports = { loadJsl, createNodeHost, EventStream };
