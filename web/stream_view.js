/*
 * The console's streaming view (issue 11): a connected socket opened as a WebSocket
 * bridge (GET /sockets/<id>/ws, SPEC §10), its bytes shown live as they flow, in from the
 * peer and out from the page, as ascii~hex or as a hex dump, with a line to send more.
 * While it streams, the socket answers REST data commands ALREADY; closing the view
 * closes the WebSocket, and with it the socket.
 */
(function (root) {
  'use strict';

  const { el, hexDump } = root.SockgateConsoleLog;
  const $ = (id) => document.getElementById(id);
  const KEEP_BYTES = 256 * 1024;     /* bytes the view keeps on screen; the counts go on */

  function plural(n, unit) {
    return `${n.toLocaleString()} ${unit}`;
  }

  /* The panel, made once, above the other side panels. */
  function panel() {
    let box = $('stream-panel');
    if (box) return box;
    box = el('section', { id: 'stream-panel', class: 'panel stream', 'aria-labelledby': 'stream-title' },
      el('div', { class: 'panel-head' },
        el('h2', { id: 'stream-title', text: 'Stream' }),
        el('span', { id: 'stream-status', class: 'note' }),
        el('label', { class: 'stream-mode' },
          el('input', { id: 'stream-hex', type: 'checkbox' }), ' hex dump'),
        el('button', { id: 'stream-close', type: 'button', class: 'small',
          title: 'Close the WebSocket: the gateway closes the socket too' }, 'close')),
      el('div', { id: 'stream-log', class: 'stream-log', role: 'log', 'aria-live': 'polite' }),
      el('form', { id: 'stream-send', class: 'stream-send' },
        el('label', { for: 'stream-input', class: 'visually-hidden', text: 'Bytes to send, ascii~hex' }),
        el('input', { id: 'stream-input', type: 'text', spellcheck: 'false', autocomplete: 'off',
          placeholder: 'bytes to send, ascii~hex: GET / HTTP/1.0~0D~0A~0D~0A' }),
        el('button', { type: 'submit', class: 'small', text: 'send' })),
      el('p', { id: 'stream-counts', class: 'note' }));
    const side = document.querySelector('aside.side');
    side.insertBefore(box, side.firstChild);
    return box;
  }

  /*
   * streamView({ wsUrl(id), encode(bytes), decode(text), onChange() }) → { open(id) }.
   * encode/decode are the wasm codec's ascii~hex; onChange runs when a bridge opens or
   * ends (the sockets panel refreshes).
   */
  function streamView({ wsUrl, encode, decode, onChange }) {
    let ws = null;
    let chunks = [];                 /* {dir: 'in'|'out', bytes} kept for redrawing */
    let kept = 0;
    let counts = { in: 0, out: 0 };

    function showCounts() {
      $('stream-counts').textContent = `in ${plural(counts.in, 'B')} · out ${plural(counts.out, 'B')}`;
    }

    function render(chunk) {
      const hex = $('stream-hex').checked;
      return el('div', { class: `chunk ${chunk.dir}` },
        el('span', { class: 'dir', text: chunk.dir === 'in' ? '←' : '→' }),
        el(hex ? 'pre' : 'code', { class: hex ? 'hexdump' : 'text', text: hex ? hexDump(chunk.bytes) : encode(chunk.bytes) }));
    }

    function add(dir, bytes) {
      counts[dir] += bytes.length;
      const chunk = { dir, bytes };
      chunks.push(chunk);
      kept += bytes.length;
      const log = $('stream-log');
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(render(chunk));
      while (kept > KEEP_BYTES && chunks.length > 1) {
        kept -= chunks.shift().bytes.length;
        log.firstChild.remove();
      }
      if (stick) log.scrollTop = log.scrollHeight;
      showCounts();
    }

    function status(text, state) {
      const s = $('stream-status');
      s.textContent = text;
      s.dataset.state = state;
      $('stream-panel').dataset.state = state;
    }

    function open(id) {
      const box = panel();
      if (ws) ws.close(1000, 'the console opened another stream');
      chunks = [];
      kept = 0;
      counts = { in: 0, out: 0 };
      $('stream-log').replaceChildren();
      $('stream-title').textContent = `Stream ${id}`;
      box.dataset.socket = id;
      showCounts();
      status('opening', 'wait');
      const sock = new WebSocket(wsUrl(id));
      sock.binaryType = 'arraybuffer';
      ws = sock;
      sock.onopen = () => {
        if (ws === sock) status('streaming', 'ok');
        onChange();
      };
      sock.onmessage = (e) => {
        if (ws === sock) add('in', new Uint8Array(e.data));
      };
      sock.onclose = (e) => {
        if (ws === sock) {
          ws = null;
          status(`closed ${e.code}${e.reason ? `: ${e.reason}` : ''}`, 'off');
        }
        onChange();
      };
      box.hidden = false;
    }

    document.addEventListener('click', (e) => {
      if (e.target && e.target.id === 'stream-close' && ws) ws.close(1000, 'closed from the console');
    });
    document.addEventListener('change', (e) => {
      if (!e.target || e.target.id !== 'stream-hex') return;
      $('stream-log').replaceChildren(...chunks.map(render));
    });
    document.addEventListener('submit', (e) => {
      if (!e.target || e.target.id !== 'stream-send') return;
      e.preventDefault();
      const input = $('stream-input');
      let bytes;
      try {
        bytes = decode(input.value);
      } catch (err) {
        input.setCustomValidity(String(err.message || err));
        input.reportValidity();
        return;
      }
      input.setCustomValidity('');
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      ws.send(bytes);
      add('out', bytes);
      input.value = '';
    });
    return { open };
  }

  root.SockgateStreamView = { streamView };
}(typeof self !== 'undefined' ? self : this));
