/*
 * The console's side panels: the open sockets (GET /sockets, with the fields that
 * server/render.c writes) and the live event stream (GET /events through EventSource).
 * The event stream also feeds the JSL runner, which calls a script's callback functions.
 */
(function (root) {
  'use strict';

  const { el, braces, hexDump } = root.SockgateConsoleLog;

  const $ = (id) => document.getElementById(id);
  const EVENTS_MAX = 200;
  const EVENTS_RETRY_MS = 15000;
  const CALLBACKS_KEY = 'sockgate.callbacks';

  /* ---- sockets ---------------------------------------------------------------------- */

  function endpoint(address, port) {
    if (!address || ((address === '0.0.0.0' || address === '::') && String(port) === '0')) return '—';
    return `${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  /* onStream(id), when given, opens a connected socket's streaming view (stream_view.js). */
  function renderSockets(list, onStream) {
    const box = $('sockets');
    if (!list.length) {
      box.replaceChildren(el('p', { class: 'empty', text: 'No open sockets.' }));
      return;
    }
    const head = el('tr', {}, ...['socket', 'state', 'local · peer', 'in / out', 'pending']
      .map((h) => el('th', { scope: 'col', text: h })));
    const rows = list.map((s) => el('tr', { 'data-state': String(s.state).toLowerCase() },
      el('td', { class: 'c-id', 'data-label': 'socket' },
        el('span', { class: 'sock-id', text: s.id }),
        el('span', { class: 'c-type', text: `${s.type} ${s.family || ''}`.trim() })),
      el('td', { class: 'c-state', 'data-label': 'state' },
        el('span', { class: 'state-name', text: s.state }),
        s.blocking === false ? el('span', { class: 'c-mode', text: 'non-blocking' }) : null,
        onStream && s.state === 'connected' ? el('button', { type: 'button', class: 'small stream-open',
          'data-id': s.id, title: 'Watch and talk over a WebSocket bridge (GET /sockets/<id>/ws)',
          text: 'stream', onclick: () => onStream(s.id) }) : null),
      el('td', { class: 'c-addr', 'data-label': 'local · peer' },
        el('span', { class: 'c-local', title: 'local address', text: endpoint(s.local_address, s.local_port) }),
        el('span', { class: 'c-peer', title: 'peer address', text: endpoint(s.peer_address, s.peer_port) })),
      el('td', { class: 'c-inout', 'data-label': 'in / out', text: `${s.bytes_in} / ${s.bytes_out}` }),
      el('td', { class: 'c-pending', 'data-label': 'pending', text: String(s.pending) })));
    box.replaceChildren(el('table', { class: 'socket-table' }, el('thead', {}, head), el('tbody', {}, ...rows)));
  }

  /* One refresh at a time; a refresh asked for meanwhile runs once it is done, so the
   * panel always ends on the latest state. Behind a router each node lists only its own
   * sockets (SPEC section 12): once the page follows nodes (nodes(), those whose sockets
   * it holds), the panel asks each one, GET /sockets?node=NAME, and shows them all; a
   * node that does not answer is named in the note. */
  function socketsPanel(request, onStream, nodes = () => []) {
    let busy = false;
    let again = false;
    async function list(node) {
      try {
        const reply = await request('GET', node ? `/sockets?node=${encodeURIComponent(node)}` : '/sockets');
        const sockets = reply.body && reply.body.sockets;
        if (reply.status === 401) return { note: 'needs a token: open the console with ?token=…' };
        if (reply.status >= 300 || !Array.isArray(sockets)) {
          return { note: `GET /sockets${node ? `?node=${node}` : ''}: HTTP ${reply.status}` };
        }
        return { sockets };
      } catch (e) {
        return { note: node ? `${node} unreachable` : 'gateway unreachable' };
      }
    }
    async function refresh() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        const named = nodes();
        const replies = await Promise.all((named.length ? named : ['']).map(list));
        const all = replies.flatMap((r) => r.sockets || []);
        const notes = replies.filter((r) => r.note).map((r) => r.note);
        const nodeCount = named.length > 1 ? ` on ${named.length} nodes` : '';
        if (notes.length && !all.length) $('sockets-note').textContent = notes.join('; ');
        else {
          $('sockets-note').textContent = [`${all.length} open${nodeCount}`, ...notes].join('; ');
          renderSockets(all, onStream);
        }
      } finally {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      }
    }
    return refresh;
  }

  /* ---- events ----------------------------------------------------------------------- */

  function savedCallbacks() {
    try {
      const c = JSON.parse(localStorage.getItem(CALLBACKS_KEY) || '[]');
      return Array.isArray(c) ? c.filter((x) => typeof x === 'string').slice(-50) : [];
    } catch (e) {
      return [];
    }
  }

  function setPill(text, state) {
    const pill = $('events-status');
    pill.textContent = text;
    pill.dataset.state = state;
  }

  function showEvent(name, event, list, decode) {
    const isList = Array.isArray(list);
    let dump = null;
    if (isList && (list[0] === 'recv' || list[0] === 'recvfrom') && list[1] === 'ok') {
      try {
        dump = hexDump(decode(list[2]));
      } catch (e) {
        dump = null;
      }
    }
    const item = el('li', { class: `event ${isList && list[1] !== 'ok' ? 'err' : ''}` },
      el('div', { class: 'event-head' },
        el('span', { class: 'event-name', text: name }),
        event.lastEventId ? el('span', { class: 'event-id', text: `#${event.lastEventId}` }) : null,
        el('time', { text: new Date().toLocaleTimeString() })),
      el('code', { class: 'answer', text: isList ? braces(list) : event.data }),
      dump ? el('pre', { class: 'hexdump', text: dump }) : null);
    const events = $('events');
    events.prepend(item);
    while (events.children.length > EVENTS_MAX) events.lastChild.remove();
    $('events-empty').hidden = true;
  }

  /*
   * The event streams. Each gateway has its own (SPEC section 12): behind a router the
   * page follows every node whose sockets it holds, one EventSource each
   * (/events?node=NAME), from the first socket id that names the node (follow(node)).
   * Until then one stream without ?node= serves; it closes when the first node is
   * followed, and events it did not hand over wait on their gateway for the node's own
   * stream, so none is lost or seen twice. EventSource hands over only the event names it
   * listens for, so every stream listens for the generic ones, for every callback name
   * the page has seen used (kept across reloads), and for each name a script arms
   * (listen(name), before arming). onEvent(name, list) gets every event whose data is a
   * list.
   */
  function eventsPanel({ url, onEvent, decode }) {
    const names = new Set(['message', 'overflow', 'close', 'restart', ...savedCallbacks()]);
    const streams = new Map();       /* node ('' until one is known) -> stream */

    function handler(name) {
      return (event) => {
        let list = null;
        try {
          list = JSON.parse(event.data);
        } catch (e) {
          list = null;
        }
        showEvent(name, event, list, decode);
        if (Array.isArray(list)) onEvent(name, list);
      };
    }

    /* One pill for all streams: live when every one is open. */
    function showState() {
      const all = [...streams.values()];
      const nodes = all.length > 1 ? ` (${all.length} nodes)` : '';
      if (!all.length || all.some((st) => st.state === 'off')) {
        setPill(`events: unavailable${nodes}`, 'off');
        $('events-note').textContent = 'no event stream; retrying';
      } else if (all.some((st) => st.state !== 'ok')) {
        setPill(`events: connecting${nodes}`, 'wait');
      } else {
        setPill(`events: live${nodes}`, 'ok');
        $('events-note').textContent = '';
      }
    }

    function openStream(node) {
      const st = { source: null, opened: null, state: 'wait', closed: false };
      const streamUrl = new URL(url);
      if (node) streamUrl.searchParams.set('node', node);
      let markOpen = null;
      function connect() {
        if (st.closed) return;
        st.opened = new Promise((resolve) => { markOpen = resolve; });
        st.source = new EventSource(streamUrl.href);
        st.state = 'wait';
        st.source.addEventListener('open', () => {
          st.state = 'ok';
          showState();
          markOpen(true);
        });
        st.source.addEventListener('error', (event) => {
          if (event.data || st.closed) return; /* an event the server named "error" */
          if (st.source.readyState === EventSource.CLOSED) {
            st.state = 'off';
            markOpen(false);
            st.source.close();
            st.source = null;
            setTimeout(connect, EVENTS_RETRY_MS);
          } else {
            st.state = 'wait';
          }
          showState();
        });
        for (const name of names) st.source.addEventListener(name, handler(name));
      }
      st.listen = (name) => {
        if (st.source) st.source.addEventListener(name, handler(name));
      };
      st.close = () => {
        st.closed = true;
        if (st.source) st.source.close();
        if (markOpen) markOpen(false);
      };
      connect();
      return st;
    }

    function add(name) {
      if (!name || names.has(name) || name === 'error' || name === 'open') return;
      names.add(name);
      for (const st of streams.values()) st.listen(name);
    }

    if (typeof EventSource === 'undefined') {
      setPill('events: not supported', 'off');
    } else {
      streams.set('', openStream(''));
      showState();
    }
    return {
      /* Follows one more node's stream (a socket id named it); the first replaces the
       * stream without ?node=. */
      follow(node) {
        if (!node || streams.has(node) || typeof EventSource === 'undefined') return;
        if (streams.has('')) {
          streams.get('').close();
          streams.delete('');
        }
        streams.set(node, openStream(node));
        showState();
      },
      /* The nodes followed so far. */
      nodes() {
        return [...streams.keys()].filter(Boolean);
      },
      /* Listens for a callback name; resolves once every stream is open (or has failed). */
      async listen(name) {
        add(name);
        const kept = savedCallbacks().filter((n) => n !== name).concat([name]);
        try {
          localStorage.setItem(CALLBACKS_KEY, JSON.stringify(kept));
        } catch (e) {
          /* not kept, but still heard */
        }
        if (!streams.size) return false;
        const timeout = new Promise((resolve) => setTimeout(resolve, 3000, false));
        const opened = Promise.all([...streams.values()].map((st) => st.opened))
          .then((all) => all.every(Boolean));
        return Promise.race([opened, timeout]);
      },
      clear() {
        $('events').replaceChildren();
        $('events-empty').hidden = false;
      },
    };
  }

  root.SockgateConsolePanels = { socketsPanel, eventsPanel };
}(typeof self !== 'undefined' ? self : this));
