/*
 * The console's log (#log): what scripts write, each socket message with its answer,
 * errors, notes. A script may write a hundred thousand lines, so entries are queued as
 * plain objects and drawn at most once a frame; only the newest `max` are ever put in the
 * page, and the oldest are dropped as new ones come, so the page stays fast however long
 * a script runs.
 */
(function (root) {
  'use strict';

  const F = root.SockgateJslFormat;

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
      if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

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

  const shellQuote = (s) => "'" + String(s).replace(/'/g, "'\\''") + "'";

  /* The curl command line that makes the same HTTP call. */
  function curlFor(call, origin, token) {
    const parts = ['curl', '-sS'];
    if (call.method !== 'GET') parts.push('-X', call.method);
    parts.push(shellQuote(origin + call.path));
    if (token) parts.push('-H', shellQuote(`Authorization: Bearer ${token}`));
    if (call.body !== undefined) {
      parts.push('-H', shellQuote('Content-Type: application/json'), '-d', shellQuote(JSON.stringify(call.body)));
    }
    return parts.join(' ');
  }

  /* The longest text one log line shows, and the most bytes a hex dump shows: a script
   * may print a 16 MB blob, and the page must not choke on it (sockgate-jsl prints all). */
  const LINE_MAX = 20000;
  const DUMP_MAX = 64 * 1024;

  function clip(text) {
    return text.length <= LINE_MAX ? text
      : `${text.slice(0, LINE_MAX)} … (${(text.length - LINE_MAX).toLocaleString('en')} more characters)`;
  }

  /* A list as the log shows it: JSL braces, nested lists too. */
  function braces(list) {
    return '{' + list.map((x) => (Array.isArray(x) ? braces(x) : F.quote(x))).join(', ') + '}';
  }

  class LogView {
    /*
     * box: the #log element; trimmedNote: an element that tells how many lines were
     * dropped; tools: {decode(text) -> bytes, curl(call) -> string, copy(text)}.
     */
    constructor(box, trimmedNote, tools, max) {
      this.box = box;
      this.trimmedNote = trimmedNote;
      this.tools = tools;
      this.max = max || 10000;
      this.queue = [];        /* entries not yet drawn */
      this.open = null;       /* the line Write() has not ended yet */
      this.dropped = 0;
      this.scheduled = false;
    }

    /* ---- adding --------------------------------------------------------------------- */

    add(entry) {
      entry.node = null;
      this.queue.push(entry);
      if (this.queue.length > 2 * this.max) this.dropQueued(this.queue.length - this.max);
      this.schedule();
      return entry;
    }

    dropQueued(n) {
      this.queue.splice(0, n);
      this.dropped += n;
    }

    /* Text as scripts write it: line ends split it, an unended line is continued. */
    text(text, kind) {
      const parts = text.split('\n');
      parts.forEach((part, i) => {
        const last = i === parts.length - 1;
        if (last && part === '') return;
        if (this.open && this.open.kind === kind) {
          this.open.text += part;
          this.changed(this.open);
        } else {
          this.open = this.add({ kind, text: part });
        }
        if (!last) this.open = null;
      });
    }

    /* Ends an unfinished Write() line, so that what follows starts on its own. */
    endLine() {
      this.open = null;
    }

    line(kind, text, extra) {
      this.endLine();
      return this.add(Object.assign({ kind, text }, extra || {}));
    }

    message(call) {
      this.endLine();
      return this.add({ kind: 'msg', call, started: Date.now() });
    }

    error(info) {
      this.endLine();
      return this.add({ kind: 'error', info });
    }

    /* An entry whose content changed: redrawn if it is on the page already. */
    changed(entry) {
      if (entry.node) {
        const fresh = this.render(entry);
        entry.node.replaceWith(fresh);
        entry.node = fresh;
      }
    }

    clear() {
      this.queue = [];
      this.open = null;
      this.dropped = 0;
      this.box.replaceChildren();
      this.trimmedNote.hidden = true;
    }

    /* ---- drawing -------------------------------------------------------------------- */

    schedule() {
      if (this.scheduled) return;
      this.scheduled = true;
      /* A frame when the page is visible; a timer too, since hidden pages get no frames. */
      const run = () => {
        if (!this.scheduled) return;
        this.scheduled = false;
        this.flush();
      };
      requestAnimationFrame(run);
      setTimeout(run, 100);
    }

    flush() {
      const box = this.box;
      const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      if (this.queue.length > this.max) this.dropQueued(this.queue.length - this.max);
      const frag = document.createDocumentFragment();
      for (const entry of this.queue) {
        entry.node = this.render(entry);
        frag.append(entry.node);
      }
      this.queue = [];
      box.append(frag);
      const excess = box.childElementCount - this.max;
      if (excess > 0) {
        /* One range deletion instead of thousands of removals. */
        const range = document.createRange();
        range.setStartBefore(box.firstElementChild);
        range.setEndBefore(box.children[excess]);
        let node = box.firstElementChild;
        for (let k = 0; k < excess; k++, node = node.nextElementSibling) {
          if (node.sockgateEntry) node.sockgateEntry.node = null;
        }
        range.deleteContents();
        this.dropped += excess;
      }
      if (this.dropped) {
        this.trimmedNote.hidden = false;
        this.trimmedNote.textContent = `${this.dropped.toLocaleString('en')} earlier lines are not kept ` +
          `(the log keeps the last ${this.max.toLocaleString('en')}).`;
      }
      if (atEnd) box.scrollTop = box.scrollHeight;
    }

    render(entry) {
      let node;
      switch (entry.kind) {
        case 'msg': node = this.renderMessage(entry); break;
        case 'error': node = this.renderError(entry.info); break;
        case 'src': node = el('div', { class: 'line src', title: entry.title },
          el('span', { class: 'mark', text: '›' }), entry.text); break;
        default: node = el('div', { class: `line ${entry.kind}`, text: clip(entry.text) });
      }
      node.sockgateEntry = entry;
      return node;
    }

    renderError(info) {
      const where = info.line ? `line ${info.line}, column ${info.column}: ` : '';
      const node = el('div', { class: 'line error', 'data-line': info.line || null, 'data-column': info.column || null },
        el('span', { class: 'what', text: `${where}${info.message}` }));
      if (info.line && info.sourceLine) {
        const pad = Array.from(info.sourceLine).slice(0, info.column - 1)
          .map((c) => (c === '\t' ? '\t' : ' ')).join('');
        node.append(el('pre', { class: 'caret', text: `${info.sourceLine}\n${pad}^` }));
      }
      return node;
    }

    renderMessage(entry) {
      const { call } = entry;
      const row = el('div', { class: 'line msg' });
      row.append(el('span', { class: 'label', text: call.label }));
      const tools = el('span', { class: 'tools' });
      let dump = null;
      if (!call.answer && !call.error) {
        row.classList.add('pending');
        const secs = Math.round((Date.now() - entry.started) / 1000);
        row.append(el('span', { class: 'waiting', text: secs >= 1 ? `waiting ${secs} s…` : 'waiting…' }));
      } else if (call.answer) {
        row.classList.add(call.answer[1] === 'ok' ? 'ok' : 'err');
        row.append(el('span', { class: 'http', text: String(call.status) }),
          el('code', { class: 'answer', text: clip(braces(call.answer)) }));
        dump = this.addDump(tools, call);
      } else {
        row.classList.add('err');
        row.append(el('span', { class: 'http', text: call.status ? String(call.status) : '—' }),
          el('span', { class: 'failure', text: call.error }));
      }
      const curl = this.tools.curl(call);
      tools.append(el('button', {
        type: 'button', class: 'small curl', title: curl, 'data-curl': curl, text: 'copy as curl',
        onclick: (ev) => this.tools.copy(curl, ev.currentTarget),
      }));
      row.append(tools);
      if (dump) row.append(dump);
      return row;
    }

    /* Received data: ascii~hex in the answer, a hex dump one click away. Returns the
     * (hidden) dump, or null when the answer has no data. */
    addDump(tools, call) {
      const i = call.dataIndex;
      if (i < 0 || call.answer[1] !== 'ok' || typeof call.answer[i] !== 'string') return null;
      let bytes;
      try {
        bytes = this.tools.decode(call.answer[i]);
      } catch (e) {
        return null;
      }
      const dump = el('pre', { class: 'hexdump', hidden: true });
      const toggle = el('button', {
        type: 'button', class: 'small toggle', text: 'hex dump', 'aria-pressed': 'false',
        title: 'Show the received bytes as a hex dump',
        onclick: () => {
          /* Made on first use: a poll loop may log thousands of answers. */
          if (!dump.textContent) {
            dump.textContent = hexDump(bytes.subarray(0, DUMP_MAX)) +
              (bytes.length > DUMP_MAX ? `\n… (${bytes.length - DUMP_MAX} more bytes)` : '');
          }
          dump.hidden = !dump.hidden;
          toggle.setAttribute('aria-pressed', String(!dump.hidden));
        },
      });
      tools.append(el('span', { class: 'bytes', text: `${bytes.length} B` }), toggle);
      return dump;
    }
  }

  root.SockgateConsoleLog = { LogView, el, hexDump, curlFor, braces };
}(typeof self !== 'undefined' ? self : this));
