/*
 * The sockgate browser console (SPEC.md section 8): a command line whose JSL is parsed by
 * the WebAssembly build of web/jsl_parser.c and run by web/interp.js against the REST
 * API, a transcript of the answers, the open sockets, and the live event stream.
 *
 * Lines run one after another, as JSL runs: a line typed while another waits is queued.
 * The page holds no secret of its own: a token comes from ?token= in its address.
 */
(function () {
  'use strict';

  const HISTORY_KEY = 'sockgate.history';
  const HISTORY_MAX = 200;
  const CALLBACKS_KEY = 'sockgate.callbacks';
  const EVENTS_MAX = 200;
  const SOCKETS_POLL_MS = 5000;
  const EVENTS_RETRY_MS = 15000;

  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token') || '';
  /* Where the API lives: beside the page, so that a proxy may serve it under a prefix. */
  const apiBase = new URL('.', location.href);
  const apiOrigin = apiBase.href.replace(/\/$/, '');

  let jsl = null;
  let session = null;
  let runQueue = Promise.resolve();

  /* ---- Small DOM helpers ----------------------------------------------------------- */

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) {
      if (c !== undefined && c !== null && c !== false) {
        node.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
    }
    return node;
  }

  function setPill(id, text, state) {
    const pill = $(id);
    pill.textContent = text;
    pill.dataset.state = state || '';
  }

  function scrollToEnd() {
    const t = $('transcript');
    t.scrollTop = t.scrollHeight;
  }

  /* ---- HTTP ------------------------------------------------------------------------ */

  function apiUrl(path) {
    return new URL('.' + path, apiBase);
  }

  function authHeaders() {
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /* One API call: {status, body (the parsed JSON, or null), text}. */
  async function request(method, path, body, signal) {
    const headers = authHeaders();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      parsed = null;
    }
    return { status: res.status, body: parsed, text };
  }

  /* ---- Data display ---------------------------------------------------------------- */

  /* A classic hex dump: offset, sixteen bytes in hex, the printable ones as text. */
  function hexDump(bytes) {
    if (bytes.length === 0) return '(no bytes)';
    const lines = [];
    for (let off = 0; off < bytes.length; off += 16) {
      const row = bytes.subarray(off, off + 16);
      let hex = '';
      let text = '';
      for (let i = 0; i < 16; i++) {
        hex += i < row.length ? row[i].toString(16).padStart(2, '0') + ' ' : '   ';
        if (i === 7) hex += ' ';
        if (i < row.length) text += row[i] >= 0x20 && row[i] < 0x7f ? String.fromCharCode(row[i]) : '.';
      }
      lines.push(`${off.toString(16).padStart(8, '0')}  ${hex} |${text}|`);
    }
    return lines.join('\n');
  }

  /* The answer list as JSON; data stays ascii~hex, with a button to see a hex dump. */
  function answerView(list, dataIndex) {
    const code = el('code', { class: 'answer' });
    list.forEach((item, i) => {
      if (i > 0) code.append(',');
      const cls = i === 1 ? (item === 'ok' ? 'ok' : 'err') : (i === dataIndex ? 'data' : 'str');
      code.append(el('span', { class: `j-${cls}`, text: JSON.stringify(item) }));
    });
    code.prepend('[');
    code.append(']');
    const view = el('div', { class: 'answer-view' }, code);
    if (dataIndex >= 0 && list.length > dataIndex && list[1] === 'ok' && jsl) {
      let bytes = null;
      try {
        bytes = jsl.decode(list[dataIndex], 'ascii~hex');
      } catch (e) {
        bytes = null;
      }
      if (bytes) {
        const dump = el('pre', { class: 'hexdump', hidden: true, text: hexDump(bytes) });
        const toggle = el('button', {
          type: 'button', class: 'small toggle', title: 'Show the received bytes as a hex dump',
          text: 'hex dump', 'aria-pressed': 'false',
          onclick: () => {
            dump.hidden = !dump.hidden;
            toggle.setAttribute('aria-pressed', String(!dump.hidden));
            toggle.classList.toggle('on', !dump.hidden);
          },
        });
        view.append(el('span', { class: 'bytes', text: `${bytes.length} B` }), toggle, dump);
      }
    }
    return view;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (e) {
        /* fall back below */
      }
    }
    const area = el('textarea', { class: 'offscreen', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  function curlButton(curl) {
    const button = el('button', {
      type: 'button', class: 'small curl', title: curl, 'data-curl': curl, text: 'copy as curl',
    });
    button.addEventListener('click', async () => {
      const ok = await copyText(curl);
      button.textContent = ok ? 'copied' : 'select & copy';
      if (!ok) window.prompt('curl command', curl);
      setTimeout(() => { button.textContent = 'copy as curl'; }, 1500);
    });
    return button;
  }

  /* ---- Transcript ------------------------------------------------------------------ */

  function addEntry(text) {
    const welcome = $('welcome');
    if (welcome) welcome.remove();
    const entry = el('article', { class: 'entry queued' },
      el('div', { class: 'src' }, el('span', { class: 'prompt-mark', text: '›' }),
        el('code', { text })));
    $('transcript').append(entry);
    scrollToEnd();
    return entry;
  }

  /* A syntax error: the line with a caret under the column the parser named. */
  function showSyntaxError(source, error) {
    const entry = addEntry(source);
    entry.classList.remove('queued');
    entry.classList.add('failed');
    const chars = Array.from(source);
    const col = Math.max(1, Math.min(error.column, chars.length + 1));
    /* The parser counts columns over the whole input; find the line that holds it. */
    let start = 0;
    for (let i = 0; i < col - 1; i++) if (chars[i] === '\n') start = i + 1;
    let end = chars.indexOf('\n', start);
    if (end < 0) end = chars.length;
    const line = chars.slice(start, end).join('');
    const pad = chars.slice(start, col - 1).map((c) => (c === '\t' ? '\t' : ' ')).join('');
    entry.replaceChildren(
      el('div', { class: 'src' }, el('span', { class: 'prompt-mark', text: '›' }),
        el('code', { text: source })),
      el('pre', { class: 'syntax', text: `${line}\n${pad}^` }),
      el('div', { class: 'error', text: `syntax error, column ${error.column}: ${error.message}` }));
    scrollToEnd();
  }

  /* Builds the live view of one HTTP call inside a statement's entry. */
  function callView(entry, call, controller) {
    const curl = SockgateInterp.curlFor(call, apiOrigin, token);
    const started = Date.now();
    const waiting = el('span', { class: 'waiting', text: 'waiting…' });
    const cancel = el('button', {
      type: 'button', class: 'small cancel', text: 'cancel', title: 'Abort this call',
      onclick: () => controller.abort(),
    });
    const row = el('div', { class: 'call pending' },
      el('span', { class: 'method', text: `${call.method} ${call.path}` }),
      el('div', { class: 'result' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }),
        waiting, cancel),
      el('div', { class: 'tools' }, curlButton(curl)));
    const timer = setInterval(() => {
      waiting.textContent = `waiting ${Math.round((Date.now() - started) / 1000)} s…`;
    }, 1000);
    entry.querySelector('.calls').append(row);
    scrollToEnd();
    return {
      done() {
        clearInterval(timer);
        row.classList.remove('pending');
        const result = row.querySelector('.result');
        if (call.answer) {
          const dataIndex = SockgateInterp.DATA_COMMANDS.has(call.command) ? 2 : -1;
          row.classList.add(call.answer[1] === 'ok' ? 'ok' : 'err');
          result.replaceChildren(el('span', { class: 'http', text: String(call.status) }),
            answerView(call.answer, dataIndex));
        } else {
          row.classList.add('err');
          result.replaceChildren(el('span', { class: 'http', text: call.status ? String(call.status) : '—' }),
            el('span', { class: 'failure', text: call.error || 'failed' }));
        }
        scrollToEnd();
      },
    };
  }

  async function runStatement(statement, entry) {
    entry.classList.remove('queued');
    entry.classList.add('running');
    entry.append(el('div', { class: 'calls' }));
    const controller = new AbortController();
    const views = new Map();
    const shown = [];
    let value;
    let failed = null;
    try {
      value = await session.run(statement, {
        signal: controller.signal,
        onCall: (call) => views.set(call, callView(entry, call, controller)),
        onAnswer: (call) => views.get(call).done(),
        onShow: (line) => shown.push(line),
        onCallback: (name) => listenFor(name, true),
      });
    } catch (e) {
      failed = e;
    }
    entry.classList.remove('running');
    if (shown.length) entry.append(el('pre', { class: 'show', text: shown.join('\n') }));
    if (failed) {
      entry.classList.add('failed');
      entry.append(el('div', { class: 'error', text: failed.message }));
    } else if (views.size === 0 && !shown.length && value !== undefined) {
      entry.append(el('div', { class: 'value', text: SockgateInterp.formatValue(value, jsl) }));
    }
    if (views.size) refreshSockets();
    scrollToEnd();
    return !failed;
  }

  /* Parses a line and queues its statements; a failed statement skips the rest of its
   * line, as a JSL error stops a script. */
  function submit(source) {
    if (!source.trim()) return;
    remember(source);
    const tree = jsl.parse(source);
    if (tree.error) {
      showSyntaxError(source, tree.error);
      return;
    }
    const entries = tree.statements.map((s) => [s, addEntry(s.text)]);
    runQueue = runQueue.then(async () => {
      let ok = true;
      for (const [statement, entry] of entries) {
        if (!ok) {
          entry.classList.remove('queued');
          entry.classList.add('skipped');
          entry.append(el('div', { class: 'note', text: 'not run: an earlier statement failed' }));
          continue;
        }
        ok = await runStatement(statement, entry);
      }
    }).catch((e) => console.error('sockgate console:', e));
  }

  /* ---- Command line and history ---------------------------------------------------- */

  function loadHistory() {
    try {
      const h = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
      return Array.isArray(h) ? h.filter((x) => typeof x === 'string') : [];
    } catch (e) {
      return [];
    }
  }

  const history = loadHistory();
  let historyPos = history.length;
  let draft = '';

  function remember(source) {
    if (history[history.length - 1] !== source) history.push(source);
    while (history.length > HISTORY_MAX) history.shift();
    historyPos = history.length;
    draft = '';
    try {
      localStorage.setItem(HISTORY_KEY, JSON.stringify(history));
    } catch (e) {
      /* Storage may be full or off; history then lasts for this page only. */
    }
  }

  function fitInput() {
    const input = $('input');
    input.rows = Math.min(8, Math.max(1, input.value.split('\n').length));
  }

  function setInput(text) {
    const input = $('input');
    input.value = text;
    fitInput();
    input.setSelectionRange(text.length, text.length);
  }

  function onKey(event) {
    const input = $('input');
    const before = input.value.slice(0, input.selectionStart);
    const after = input.value.slice(input.selectionEnd);
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('prompt').requestSubmit();
    } else if (event.key === 'ArrowUp' && !before.includes('\n') && historyPos > 0) {
      event.preventDefault();
      if (historyPos === history.length) draft = input.value;
      historyPos--;
      setInput(history[historyPos]);
    } else if (event.key === 'ArrowDown' && !after.includes('\n') && historyPos < history.length) {
      event.preventDefault();
      historyPos++;
      setInput(historyPos === history.length ? draft : history[historyPos]);
    }
  }

  /* ---- Sockets panel --------------------------------------------------------------- */

  /* The first of several possible field names that the object has. */
  function pick(obj, ...names) {
    for (const name of names) {
      const path = name.split('.');
      let v = obj;
      for (const p of path) v = v && typeof v === 'object' ? v[p] : undefined;
      if (v !== undefined && v !== null && v !== '') return v;
    }
    return undefined;
  }

  function endpoint(s, side) {
    const whole = pick(s, side, `${side}_name`);
    if (typeof whole === 'string') return whole;
    const addr = pick(s, `${side}_address`, `${side}_addr`, `${side}_host`, `${side}.address`,
      `${side}.addr`, `${side}.host`);
    const port = pick(s, `${side}_port`, `${side}.port`);
    const unset = (addr === undefined || addr === '0.0.0.0' || addr === '::') &&
      (port === undefined || String(port) === '0');
    if (unset) return '—';
    const a = addr === undefined ? '*' : String(addr);
    return `${a.includes(':') ? `[${a}]` : a}:${port === undefined ? '*' : port}`;
  }

  function countOf(v) {
    if (Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    return v === undefined ? '—' : v;
  }

  function renderSockets(list) {
    const box = $('sockets');
    if (!list.length) {
      box.replaceChildren(el('p', { class: 'empty', text: 'No open sockets.' }));
      return;
    }
    const head = el('tr', {}, ...['socket', 'state', 'local · peer', 'in / out', 'pending']
      .map((h) => el('th', { scope: 'col', text: h })));
    const rows = list.map((s) => {
      const blocking = pick(s, 'blocking');
      const nonblocking = pick(s, 'nonblocking', 'non_blocking');
      const isBlocking = blocking !== undefined ? blocking === true || blocking === 'true' || blocking === 1
        : nonblocking !== undefined ? !(nonblocking === true || nonblocking === 'true') : undefined;
      const state = String(pick(s, 'state', 'status') ?? '—');
      const bytesIn = pick(s, 'bytes_in', 'bytes_received', 'rx_bytes', 'in') ?? 0;
      const bytesOut = pick(s, 'bytes_out', 'bytes_sent', 'tx_bytes', 'out') ?? 0;
      return el('tr', { 'data-state': state.toLowerCase() },
        el('td', { class: 'c-id', 'data-label': 'socket' },
          el('span', { class: 'sock-id', text: String(pick(s, 'id', 'socket', 'name') ?? '?') }),
          el('span', { class: 'c-type', text: String(pick(s, 'type', 'kind') ?? '') })),
        el('td', { class: 'c-state', 'data-label': 'state' },
          el('span', { class: 'state-name', text: state }),
          isBlocking === false ? el('span', { class: 'c-mode', text: 'non-blocking' }) : null),
        el('td', { class: 'c-addr', 'data-label': 'local · peer' },
          el('span', { class: 'c-local', title: 'local address', text: endpoint(s, 'local') }),
          el('span', { class: 'c-peer', title: 'peer address', text: endpoint(s, 'peer') })),
        el('td', { class: 'c-inout', 'data-label': 'in / out', text: `${bytesIn} / ${bytesOut}` }),
        el('td', { class: 'c-pending', 'data-label': 'pending',
          text: String(countOf(pick(s, 'pending', 'pending_ops', 'pending_operations', 'waits'))) }));
    });
    box.replaceChildren(el('table', { class: 'socket-table' }, el('thead', {}, head),
      el('tbody', {}, ...rows)));
  }

  let socketsBusy = false;
  let socketsAgain = false;
  /* One GET /sockets at a time; a refresh asked for meanwhile runs once it is done, so the
   * panel always ends on the latest state. */
  async function refreshSockets() {
    if (socketsBusy) {
      socketsAgain = true;
      return;
    }
    socketsBusy = true;
    try {
      const reply = await request('GET', '/sockets');
      const list = reply.body && (Array.isArray(reply.body) ? reply.body : reply.body.sockets);
      if (reply.status === 401) {
        $('sockets-note').textContent = 'needs a token: open the console with ?token=…';
      } else if (reply.status >= 300 || !Array.isArray(list)) {
        $('sockets-note').textContent = `GET /sockets: HTTP ${reply.status}`;
      } else {
        $('sockets-note').textContent = `${list.length} open`;
        renderSockets(list);
      }
    } catch (e) {
      $('sockets-note').textContent = 'gateway unreachable';
    } finally {
      socketsBusy = false;
      if (socketsAgain) {
        socketsAgain = false;
        refreshSockets();
      }
    }
  }

  /* ---- Events ---------------------------------------------------------------------- */

  let source = null;
  const listening = new Set();

  function savedCallbacks() {
    try {
      const c = JSON.parse(localStorage.getItem(CALLBACKS_KEY) || '[]');
      return Array.isArray(c) ? c.filter((x) => typeof x === 'string').slice(-50) : [];
    } catch (e) {
      return [];
    }
  }

  function showEvent(name, event) {
    let list = null;
    try {
      list = JSON.parse(event.data);
    } catch (e) {
      list = null;
    }
    const isList = Array.isArray(list) && list.every((x) => typeof x === 'string');
    const dataIndex = isList && SockgateInterp.DATA_COMMANDS.has(list[0]) ? 2 : -1;
    const item = el('li', { class: `event ${isList && list[1] !== 'ok' ? 'err' : ''}` },
      el('div', { class: 'event-head' },
        el('span', { class: 'event-name', text: name }),
        event.lastEventId ? el('span', { class: 'event-id', text: `#${event.lastEventId}` }) : null,
        el('time', { text: new Date().toLocaleTimeString() })),
      isList ? answerView(list, dataIndex) : el('code', { class: 'answer', text: event.data }));
    const events = $('events');
    events.prepend(item);
    while (events.children.length > EVENTS_MAX) events.lastChild.remove();
    $('events-empty').hidden = true;
  }

  /*
   * EventSource only hands over events whose names it was asked for, so the page listens
   * for the generic ones and for every callback name it has seen used (kept across
   * reloads).
   */
  function listenFor(name, save) {
    if (!name || listening.has(name) || name === 'error' || name === 'open') return;
    listening.add(name);
    if (source) source.addEventListener(name, (event) => showEvent(name, event));
    if (save) {
      const names = savedCallbacks().filter((n) => n !== name).concat([name]);
      try {
        localStorage.setItem(CALLBACKS_KEY, JSON.stringify(names));
      } catch (e) {
        /* not kept, but still heard */
      }
    }
  }

  function connectEvents() {
    if (typeof EventSource === 'undefined') {
      setPill('events-status', 'events: not supported', 'off');
      return;
    }
    const url = apiUrl('/events');
    if (token) url.searchParams.set('token', token);
    source = new EventSource(url.href);
    setPill('events-status', 'events: connecting', 'wait');
    source.addEventListener('open', () => {
      setPill('events-status', 'events: live', 'ok');
      $('events-note').textContent = '';
    });
    source.addEventListener('error', (event) => {
      if (event.data) return; /* an event the server named "error" */
      if (source.readyState === EventSource.CLOSED) {
        setPill('events-status', 'events: unavailable', 'off');
        $('events-note').textContent = 'no event stream; retrying';
        source.close();
        source = null;
        setTimeout(connectEvents, EVENTS_RETRY_MS);
      } else {
        setPill('events-status', 'events: reconnecting', 'wait');
      }
    });
    const names = new Set(['message', 'overflow', 'close', ...listening, ...savedCallbacks()]);
    listening.clear();
    for (const name of names) listenFor(name, false);
  }

  /* ---- Start ----------------------------------------------------------------------- */

  function start() {
    const input = $('input');
    const form = $('prompt');
    setPill('auth-status', token ? 'token' : 'no token', token ? 'ok' : '');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!jsl) return;
      const text = input.value;
      setInput('');
      submit(text);
    });
    input.addEventListener('keydown', onKey);
    input.addEventListener('input', fitInput);
    for (const button of document.querySelectorAll('.example')) {
      button.addEventListener('click', () => {
        setInput(button.textContent);
        input.focus();
      });
    }
    $('sockets-refresh').addEventListener('click', refreshSockets);
    $('events-clear').addEventListener('click', () => {
      $('events').replaceChildren();
      $('events-empty').hidden = false;
    });

    SockgateWasm().then((wasm) => {
      jsl = SockgateJSL(wasm);
      session = new SockgateInterp.Session({ jsl, request });
      setPill('parser-status', 'parser: wasm', 'ok');
      input.disabled = false;
      $('run').disabled = false;
      document.body.dataset.ready = 'true';
      input.focus();
    }, (e) => {
      setPill('parser-status', 'parser: failed', 'off');
      $('transcript').append(el('div', { class: 'error', text: `The WebAssembly parser did not load: ${e}` }));
    });

    connectEvents();
    refreshSockets();
    setInterval(() => {
      if (document.visibilityState === 'visible') refreshSockets();
    }, SOCKETS_POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
