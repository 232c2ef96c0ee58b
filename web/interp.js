/*
 * Runs the syntax tree that web/jsl_parser.c produces against sockgate's REST API: the
 * JSL side of the console, kept apart from the page so that node can test it too.
 *
 * A Session holds the variables of one console. Each command becomes one HTTP call
 * (Socket() is POST /sockets, `s << recv(100)` is POST /sockets/<id>/recv with the body
 * ["100"]); the answer list is the value, as in JMP, except that the data of a recv or
 * recvfrom answer becomes a blob (a Uint8Array), as JMP's are. The caller supplies
 * `request(method, path, body, signal)` returning {status, body, text} and may watch
 * every call through hooks.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.SockgateInterp = factory();
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /* A mistake found while running (the parser finds the others). */
  class JslError extends Error {}

  const isBlob = (v) => v instanceof Uint8Array;

  /* The commands whose answer carries data at element 3 (index 2). */
  const DATA_COMMANDS = new Set(['recv', 'recvfrom']);
  /* The commands that take a callback name as their second argument. */
  const CALLBACK_COMMANDS = new Set(['accept', 'acceptfast', 'recv', 'recvfrom']);

  /* A JSL string literal for s, with JSL's \! escapes. */
  function jslQuote(s) {
    return '"' + s.replace(/[\\"\n\r\t\0]/g, (c) => ({
      '\\': '\\!\\', '"': '\\!"', '\n': '\\!n', '\r': '\\!r', '\t': '\\!t', '\0': '\\!0',
    })[c]) + '"';
  }

  /* How JSL's log would print a value. */
  function formatValue(v, jsl) {
    if (v === undefined || v === null) return '.';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '.';
    if (typeof v === 'string') return jslQuote(v);
    if (isBlob(v)) return `Char To Blob(${jslQuote(jsl.encode(v, 'ascii~hex'))}, "ascii~hex")`;
    if (Array.isArray(v)) return '{' + v.map((x) => formatValue(x, jsl)).join(', ') + '}';
    return String(v);
  }

  /* The source-like text of an expression, for Show's "name = value" lines. */
  function exprText(node) {
    switch (node.kind) {
      case 'name': return node.text;
      case 'number': return String(node.value);
      case 'string': return jslQuote(node.value);
      case 'index': return `${exprText(node.target)}[${exprText(node.index)}]`;
      case 'socket': return `Socket(${node.type})`;
      case 'send': return `${exprText(node.target)} << ${node.command}(` +
        node.args.map(exprText).join(', ') + ')';
      case 'call': return `${node.name}(${node.args.map(exprText).join(', ')})`;
      case 'assign': return `${node.name} = ${exprText(node.value)}`;
      default: return '?';
    }
  }

  /* A shell word in single quotes. */
  function shellQuote(s) {
    return "'" + String(s).replace(/'/g, "'\\''") + "'";
  }

  /* The curl command line that makes the same HTTP call. */
  function curlFor(call, origin, token) {
    const parts = ['curl', '-sS'];
    if (call.method !== 'GET') parts.push('-X', call.method);
    parts.push(shellQuote(origin + call.path));
    if (token) parts.push('-H', shellQuote(`Authorization: Bearer ${token}`));
    if (call.body !== undefined) {
      parts.push('-H', shellQuote('Content-Type: application/json'),
        '-d', shellQuote(JSON.stringify(call.body)));
    }
    return parts.join(' ');
  }

  /* A JSON answer of the API, as the list it should be. */
  function answerList(reply, command) {
    if (Array.isArray(reply.body) && reply.body.every((x) => typeof x === 'string')) {
      return reply.body;
    }
    const text = (reply.text || '').trim().slice(0, 200);
    throw new JslError(`${command}: the gateway answered HTTP ${reply.status}` +
      (text ? `: ${text}` : ' with no list'));
  }

  class Session {
    /* jsl: the object of web/jsl.js; request: see the top of this file. */
    constructor({ jsl, request }) {
      this.jsl = jsl;
      this.request = request;
      this.vars = new Map();
    }

    /*
     * Runs one statement of the tree. hooks.onCall(call) is told of each HTTP call before
     * it starts, hooks.onAnswer(call) when its answer (or failure) is in; hooks.onShow(line)
     * gets each line of Show(); hooks.signal aborts the call in progress.
     * Returns the statement's value; throws JslError for a mistake in the program.
     */
    async run(statement, hooks = {}) {
      this.hooks = hooks;
      try {
        return await this.eval(statement.expr);
      } finally {
        this.hooks = null;
      }
    }

    async eval(node) {
      switch (node.kind) {
        case 'number':
        case 'string':
          return node.value;
        case 'name':
          if (!this.vars.has(node.name)) throw new JslError(`${node.text} is not defined`);
          return this.vars.get(node.name);
        case 'assign': {
          const value = await this.eval(node.value);
          this.vars.set(node.name, value);
          return value;
        }
        case 'index':
          return this.index(await this.eval(node.target), await this.eval(node.index), node);
        case 'socket':
          return this.socket(node.type);
        case 'send':
          return this.send(node);
        case 'call':
          return this.call(node);
        default:
          throw new JslError(`cannot run a ${node.kind}`);
      }
    }

    index(list, i, node) {
      const what = exprText(node.target);
      if (!Array.isArray(list)) throw new JslError(`${what} is not a list`);
      if (typeof i !== 'number' || !Number.isInteger(i)) {
        throw new JslError(`the index of ${what} must be a whole number`);
      }
      if (i < 1 || i > list.length) {
        throw new JslError(`index ${i} is out of range: ${what} has ${list.length} items`);
      }
      return list[i - 1];
    }

    /* One HTTP call, shown to the hooks before and after. */
    async http(command, method, path, body) {
      const call = { command, method, path, body, status: 0, answer: null, error: null };
      const hooks = this.hooks || {};
      if (hooks.onCall) hooks.onCall(call);
      try {
        const reply = await this.request(method, path, body, hooks.signal);
        call.status = reply.status;
        call.answer = answerList(reply, command);
        return call.answer;
      } catch (e) {
        call.error = e.name === 'AbortError' ? 'cancelled' : e.message;
        throw e instanceof JslError ? e : new JslError(`${command}: ${call.error}`);
      } finally {
        if (hooks.onAnswer) hooks.onAnswer(call);
      }
    }

    async socket(type) {
      const answer = await this.http('socket', 'POST', '/sockets', { type });
      if (answer[1] !== 'ok' || typeof answer[2] !== 'string') {
        throw new JslError(`Socket() failed: ${answer[1] || 'no answer'}`);
      }
      return answer[2];
    }

    /* One positional argument as the string the API takes. */
    async argument(node) {
      /* A name nobody assigned stands for itself, as FIONBIO does in ioctl(FIONBIO, 1). */
      if (node.kind === 'name' && !this.vars.has(node.name)) return node.text;
      const v = await this.eval(node);
      if (typeof v === 'number') return String(v);
      /* JSON strings travel NUL-terminated inside the server; ~00 is the same byte. */
      if (typeof v === 'string') return v.replace(/\0/g, '~00');
      if (isBlob(v)) return this.jsl.encode(v, 'ascii~hex');
      throw new JslError(`${exprText(node)} is a list: an argument must be a string, ` +
        'a number or a blob');
    }

    async send(node) {
      const target = await this.eval(node.target);
      if (typeof target !== 'string' || target === '') {
        throw new JslError(`${exprText(node.target)} is not a socket`);
      }
      const args = [];
      for (const a of node.args) args.push(await this.argument(a));
      if (CALLBACK_COMMANDS.has(node.command) && args[1] && this.hooks && this.hooks.onCallback) {
        this.hooks.onCallback(args[1]);
      }
      const path = `/sockets/${encodeURIComponent(target)}/${node.command}`;
      const answer = (await this.http(node.command, 'POST', path, args)).slice();
      if (DATA_COMMANDS.has(node.command) && answer[1] === 'ok' && answer.length > 2) {
        try {
          answer[2] = this.jsl.decode(answer[2], 'ascii~hex');
        } catch (e) {
          /* Keep what the server said rather than lose it. */
        }
      }
      return answer;
    }

    async call(node) {
      const args = [];
      for (const a of node.args) args.push(await this.eval(a));
      switch (node.name) {
        case 'chartoblob': {
          const [text, encoding] = args;
          if (typeof text !== 'string') throw new JslError('Char To Blob() needs a string');
          const enc = encoding === undefined ? 'utf-8' : String(encoding).toLowerCase();
          if (enc === 'utf-8' || enc === 'utf8') return new TextEncoder().encode(text);
          try {
            return this.jsl.decode(text, enc);
          } catch (e) {
            throw new JslError(`Char To Blob(): ${e.message}`);
          }
        }
        case 'blobtochar': {
          const [blob, encoding] = args;
          if (!isBlob(blob)) throw new JslError('Blob To Char() needs a blob');
          const enc = encoding === undefined ? 'utf-8' : String(encoding).toLowerCase();
          if (enc === 'utf-8' || enc === 'utf8') return new TextDecoder('utf-8').decode(blob);
          try {
            return this.jsl.encode(blob, enc);
          } catch (e) {
            throw new JslError(`Blob To Char(): ${e.message}`);
          }
        }
        case 'show':
          node.args.forEach((a, i) => {
            const value = formatValue(args[i], this.jsl);
            const line = (a.kind === 'name' || a.kind === 'index')
              ? `${exprText(a)} = ${value}` : value;
            if (this.hooks && this.hooks.onShow) this.hooks.onShow(line);
          });
          return undefined;
        default:
          throw new JslError(`unknown function ${node.name}`);
      }
    }
  }

  return { Session, JslError, formatValue, exprText, curlFor, jslQuote, DATA_COMMANDS };
}));
