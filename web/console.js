/*
 * The sockgate browser console (SPEC.md section 8): JSL scripts typed or pasted into
 * #input are parsed by the WebAssembly build of web/jsl_parser.c and run by the JSL
 * runner (web/jsl_runner.js) against the REST API, one HTTP call per socket message; the
 * log, the sockets and the event stream show what happens. This file is the page's host
 * for the runner (HTTP with fetch, events, yielding to the page) and wires the parts.
 *
 * The page holds no secret of its own: a token comes from ?token= in its address.
 */
(function () {
  'use strict';

  const { LogView, curlFor } = window.SockgateConsoleLog;
  const { socketsPanel, eventsPanel } = window.SockgateConsolePanels;
  const { streamView } = window.SockgateStreamView;
  const { setupEditor } = window.SockgateConsoleEditor;
  const { examplesFor } = window.SockgateConsoleExamples;
  const F = window.SockgateJslFormat;
  const V = window.SockgateJslValues;

  const SOCKETS_POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token') || '';
  /* Where the API lives: beside the page, so that a proxy may serve it under a prefix. */
  const apiBase = new URL('.', location.href);
  const apiOrigin = apiBase.href.replace(/\/$/, '');
  const apiUrl = (p) => new URL('.' + p, apiBase);

  let jsl = null;
  let runner = null;

  function setPill(id, text, state) {
    const pill = $(id);
    pill.textContent = text;
    pill.dataset.state = state || '';
  }

  /* ---- the runner's host ------------------------------------------------------------ */

  /* One API call: {status, body (the parsed JSON, or null), text}. */
  const request = async (method, p, body, signal) => {
    const res = await window.SockgateJslSockets.callApi(apiUrl(p), method,
      token ? { Authorization: `Bearer ${token}` } : {}, body, signal);
    /* Behind a router each node has its own event stream (SPEC section 12): the panel
     * follows every node a socket id names. */
    if (events) for (const node of window.SockgateJslSockets.nodesNamed(p, res.body)) events.follow(node);
    return res;
  };

  /*
   * Lets the page handle input and paint between slices of a running script. A timer is
   * the way out that Chromium interleaves best with input and frames (measured: clicks
   * answered as fast as on an idle page, for a third of the script's speed, where message
   * tasks kept the page waiting for frames). A hidden page gets message tasks instead,
   * as browsers slow the timers of hidden pages down to one a second.
   */
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => waiting.shift()();
  function yieldNow() {
    return new Promise((resolve) => {
      if (document.hidden) {
        waiting.push(resolve);
        channel.port2.postMessage(0);
      } else {
        setTimeout(resolve, 0);
      }
    });
  }

  /* With noopener, window.open tells nothing back; a blocked pop-up shows in the browser. */
  function openUrl(url) {
    window.open(url, '_blank', 'noopener');
    return `Web(): ${url} opens in a new tab`;
  }

  /* ---- runs and the log ----------------------------------------------------------- */

  let log;
  let refreshSockets = () => {};
  let events;
  let pendingTimer = null;
  const pendingRows = new Set();
  let refreshTimer = null;

  /* The sockets panel follows the calls, at most a few times a second. */
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refreshSockets();
    }, 300);
  }

  function setRunning(on) {
    const button = $('run');
    button.dataset.state = on ? 'running' : 'idle';
    button.textContent = on ? 'Stop' : 'Run';
    button.title = on ? 'Stop the script (Esc)' : 'Run the whole script (Ctrl+Enter)';
    document.body.dataset.running = on ? 'true' : 'false';
  }

  /* Pending calls show how long they have waited. */
  function tickPending() {
    for (const entry of pendingRows) log.changed(entry);
    if (!pendingRows.size) {
      clearInterval(pendingTimer);
      pendingTimer = null;
    }
  }

  function hooksFor({ kind, source }) {
    setRunning(true);
    let wrote = false;
    if (kind === 'script') {
      const lines = source.replace(/\s+$/, '').split('\n');
      const head = lines.length > 1 ? `${lines[0]}   … (${lines.length} lines)` : lines[0];
      log.line('src', head, { title: source.slice(0, 2000) });
    }
    const rows = new Map();
    return {
      write(text) {
        wrote = true;
        log.text(text, 'out');
      },
      note(text) {
        log.line('note', text);
      },
      error(info) {
        wrote = true;
        log.error(info);
      },
      call(call) {
        /* A message's row is not the script's output: as in JMP's log, a script that
         * wrote nothing still shows its last value (`Get Addr Info("localhost")[3][4]`). */
        const entry = log.message(call);
        rows.set(call, entry);
        pendingRows.add(entry);
        if (!pendingTimer) pendingTimer = setInterval(tickPending, 1000);
      },
      answer(call) {
        const entry = rows.get(call);
        rows.delete(call);
        pendingRows.delete(entry);
        log.changed(entry);
        refreshSoon();
      },
      end(result) {
        log.endLine();
        if (result.status === 'stopped') log.line('note', 'stopped');
        else if (result.status === 'done' && !wrote && result.value !== V.EMPTY && result.value !== undefined) {
          log.line('value', F.formatValue(result.value));
        }
        /* The log is complete when #run says idle. */
        log.flush();
        setRunning(runner.running);
      },
    };
  }

  function runSource(text) {
    runner.run(text).catch((e) => log.error({ message: `internal error: ${e.message}`, line: 0, column: 0 }))
      .finally(() => setRunning(runner.running));
  }

  /* ---- start ------------------------------------------------------------------------ */

  function copyText(text, button) {
    const done = (ok) => {
      button.textContent = ok ? 'copied' : 'select & copy';
      if (!ok) window.prompt('curl command', text);
      setTimeout(() => { button.textContent = 'copy as curl'; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
    } else {
      done(false);
    }
  }

  function start() {
    setPill('auth-status', token ? 'token' : 'no token', token ? 'ok' : '');
    setRunning(false);
    log = new LogView($('log'), $('log-trimmed'), {
      decode: (text) => jsl.decode(text, 'ascii~hex'),
      curl: (call) => curlFor(call, apiOrigin, token),
      copy: copyText,
    }, 10000);
    /* A connected socket's "stream" button opens it as a WebSocket bridge. */
    const streams = streamView({
      wsUrl: (id) => {
        const url = apiUrl(`/sockets/${encodeURIComponent(id)}/ws`);
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
        if (token) url.searchParams.set('token', token);
        return url.href;
      },
      encode: (bytes) => jsl.encode(bytes, 'ascii~hex'),
      decode: (text) => jsl.decode(text, 'ascii~hex'),
      onChange: () => refreshSockets(),
    });
    /* The nodes whose sockets the page holds: the ones whose event streams it follows. */
    refreshSockets = socketsPanel(request, (id) => streams.open(id), () => (events ? events.nodes() : []));
    const eventsUrl = apiUrl('/events');
    if (token) eventsUrl.searchParams.set('token', token);
    events = eventsPanel({
      url: eventsUrl.href,
      decode: (text) => jsl.decode(text, 'ascii~hex'),
      onEvent: (name, list) => {
        if (runner && runner.deliver(name, list)) setRunning(runner.running);
      },
    });
    const editor = setupEditor({
      run: runSource,
      stop: () => runner.stop(),
      running: () => Boolean(runner && runner.running),
      examples: examplesFor(location),
    });
    $('log-clear').addEventListener('click', () => log.clear());
    $('sockets-refresh').addEventListener('click', refreshSockets);
    $('events-clear').addEventListener('click', () => events.clear());

    SockgateWasm().then((wasm) => {
      jsl = SockgateJSL(wasm);
      runner = new window.SockgateJslRunner.Runner({
        jsl, hooksFor,
        host: { request, listen: (name) => events.listen(name), openUrl, yieldNow, now: () => performance.now() },
      });
      setPill('parser-status', 'parser: wasm', 'ok');
      $('input').disabled = false;
      $('run').disabled = false;
      document.body.dataset.ready = 'true';
      editor.focus();
    }, (e) => {
      setPill('parser-status', 'parser: failed', 'off');
      log.error({ message: `The WebAssembly parser did not load: ${e}`, line: 0, column: 0 });
    });

    refreshSockets();
    setInterval(() => {
      if (document.visibilityState === 'visible') refreshSockets();
    }, SOCKETS_POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
