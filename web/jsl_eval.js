/*
 * The JSL evaluator: an async tree walker over the syntax tree that web/jsl_parser.c
 * writes (web/README.md, "The syntax tree"). It holds the script's variables, runs the
 * operators and the control forms (If, While, For, Try, Function, ...) itself, and leaves
 * the other functions to the built-in tables (jsl_builtins_*.js) and socket messages to
 * jsl_sockets.js.
 *
 * Every step may pause: a socket message is an HTTP call, Wait() sleeps, and a loop that
 * makes no call still hands control back to the page (or node) every few milliseconds,
 * so a script never freezes its host. Stop is checked at every step.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('./jsl_values.js'), require('./jsl_format.js'));
  } else {
    root.SockgateJslEval = factory(root.SockgateJslValues, root.SockgateJslFormat);
  }
}(typeof self !== 'undefined' ? self : this, function (V, F) {
  'use strict';

  const { JslError, EMPTY, MISSING } = V;

  /* How long a script may run before it lets its host paint and handle input. */
  const SLICE_MS = 8;
  /* Nested user-function calls allowed: deep enough for any socket script, and far
   * short of exhausting the JavaScript heap. */
  const MAX_CALL_DEPTH = 1000;

  const ARITH = {
    '+': (a, b) => a + b,
    '-': (a, b) => a - b,
    '*': (a, b) => a * b,
    '/': (a, b) => a / b,
  };
  const ASSIGN_OPS = { '+=': '+', '-=': '-', '*=': '*', '/=': '/', '||=': '||' };

  /*
   * One run's control: the Stop flag, the AbortSignal of its HTTP calls, and the
   * hooks the host gives to see its output ({write(text), call(call), answer(call),
   * note(text), error(err)}).
   */
  class Run {
    constructor(hooks) {
      this.hooks = hooks || {};
      this.stopped = false;
      this.controller = new AbortController();
      this.signal = this.controller.signal;
      this.wakers = new Set();
    }

    stop() {
      if (this.stopped) return;
      this.stopped = true;
      this.controller.abort();
      for (const wake of this.wakers) wake();
    }
  }

  class Interpreter {
    /*
     * jsl: web/jsl.js over the wasm module; host: {request(method, path, body, signal),
     * listen(name), openUrl(url), yieldNow(), now()}; builtins: a Map from normalised name
     * to {min, max, lazy, named, fn} (see jsl_builtins_core.js).
     */
    constructor({ jsl, host, builtins, sockets }) {
      this.jsl = jsl;
      this.host = host;
      this.builtins = builtins;
      this.sockets = sockets;
      this.globals = new Map();
      this.frame = null;           /* the running user function's locals */
      this.depth = 0;
      this.run = null;
      this.source = '';               /* the text the running code came from */
      this.steps = 0;
      this.sliceStart = 0;
      this.knownSockets = new Set();  /* ids this session made or accepted */
      this.callbacks = new Set();     /* callback names this session armed */
      this.pending = [];              /* delivered callback lists, in arrival order */
      this.lastAnswerOk = true;       /* whether the latest socket message answered ok */
      this.inCallback = false;        /* a callback is running */
    }

    /* ---- variables ------------------------------------------------------------------ */

    lookup(name) {
      if (this.frame && this.frame.vars.has(name)) return this.frame.vars.get(name);
      return this.globals.get(name);
    }

    has(name) {
      return (this.frame && this.frame.vars.has(name)) || this.globals.has(name);
    }

    setVar(name, value) {
      const f = this.frame;
      if (f && (f.vars.has(name) || f.defaultLocal)) f.vars.set(name, value);
      else this.globals.set(name, value);
    }

    /* ---- output --------------------------------------------------------------------- */

    /* Text for the log, as Show/Print/Write make it (line ends included). */
    write(text) {
      if (text && this.run.hooks.write) this.run.hooks.write(text);
    }

    /* A remark of the console's own (Web() opened a tab), shown apart from the output. */
    note(text) {
      if (text && this.run.hooks.note) this.run.hooks.note(text);
    }

    /* ---- running -------------------------------------------------------------------- */

    /* Evaluates a whole tree of source as one run (errors and signals are thrown). */
    async evaluate(ast, run, source) {
      this.run = run;
      this.source = source;
      this.sliceStart = this.host.now();
      try {
        return await this.eval(ast);
      } finally {
        this.frame = null;
        this.depth = 0;
      }
    }

    /* A run of its own for the callbacks that arrived while no script ran. */
    async runQueued(run) {
      this.run = run;
      this.sliceStart = this.host.now();
      try {
        await this.runPending();
      } finally {
        this.frame = null;
        this.depth = 0;
      }
    }

    /* Hands control to the host when this slice of work has run long enough. */
    async checkpoint() {
      if (this.host.now() - this.sliceStart < SLICE_MS) return;
      await this.host.yieldNow();
      this.sliceStart = this.host.now();
      if (this.run.stopped) throw new V.StopSignal(true);
    }

    async eval(node) {
      if (this.run.stopped) throw new V.StopSignal(true);
      if ((++this.steps & 255) === 0) await this.checkpoint();
      try {
        switch (node.kind) {
          case 'number': return node.value;
          case 'missing': return MISSING;
          case 'string': return node.value;
          case 'name': return this.evalName(node);
          case 'glue': return await this.evalGlue(node);
          case 'list': return await this.evalList(node);
          case 'call': return await this.evalCall(node);
          case 'index': return this.subscript(await this.eval(node.target),
            await this.evalIndices(node), node);
          case 'unary': return this.unary(node.op, await this.eval(node.operand));
          case 'binary': return await this.evalBinary(node);
          case 'assign': return await this.evalAssign(node);
          case 'incdec': return await this.evalIncDec(node);
          case 'send': return await this.sockets.send(this, node);
          default: throw new JslError(`cannot run a "${node.kind}" node`);
        }
      } catch (e) {
        if (e instanceof JslError && !e.pos) {
          e.pos = node.pos;
          e.source = this.source;
        }
        throw e;
      }
    }

    evalName(node) {
      const v = this.lookup(node.name);
      if (v === undefined) throw new JslError(`Name Unresolved: ${node.text}`);
      return v;
    }

    async evalGlue(node) {
      let value = EMPTY;
      for (const item of node.items) value = await this.eval(item);
      return value;
    }

    async evalList(node) {
      const out = [];
      for (const item of node.items) out.push(V.copyValue(await this.eval(item)));
      return out;
    }

    async evalIndices(node) {
      const out = [];
      for (const i of node.indices) out.push(await this.eval(i));
      return out;
    }

    /* ---- calls ---------------------------------------------------------------------- */

    async evalCall(node) {
      const spec = this.builtins.get(node.name);
      if (spec) return this.callBuiltin(spec, node);
      const fn = this.lookup(node.name);
      if (V.isFunction(fn)) {
        const args = [];
        for (const a of node.args) args.push(await this.eval(a));
        return this.callFunction(fn, args);
      }
      if (fn !== undefined) throw new JslError(`${node.text} is not a function`);
      throw new JslError(`Unknown function: ${node.text}`);
    }

    async callBuiltin(spec, node) {
      const n = node.args.length;
      if (n < spec.min || (spec.max !== undefined && n > spec.max)) {
        const want = spec.max === undefined ? `at least ${spec.min}`
          : spec.min === spec.max ? String(spec.min) : `${spec.min} to ${spec.max}`;
        throw new JslError(`${node.text}() takes ${want} argument${want === '1' ? '' : 's'}, not ${n}`);
      }
      if (spec.lazy) return spec.fn(this, node.args, node);
      const args = [];
      const named = {};
      for (const a of node.args) {
        if (spec.named && a.kind === 'assign' && a.op === '=' && a.target.kind === 'name' &&
            spec.named.includes(a.target.name)) {
          named[a.target.name] = await this.eval(a.value);
        } else {
          args.push(await this.eval(a));
        }
      }
      return spec.fn(this, args, node, named);
    }

    /* Calls a Function() value with evaluated arguments; Return() ends it early. */
    async callFunction(fn, args) {
      if (this.depth >= MAX_CALL_DEPTH) {
        throw new JslError(`too deep: more than ${MAX_CALL_DEPTH} nested function calls`);
      }
      const frame = { vars: new Map(), defaultLocal: fn.defaultLocal };
      const saved = this.frame;
      const savedSource = this.source;
      this.source = fn.source;
      this.depth++;
      try {
        /* Defaults and locals' initial values are evaluated inside the new frame. */
        this.frame = frame;
        for (let i = 0; i < fn.params.length; i++) {
          const p = fn.params[i];
          let v = i < args.length ? V.copyValue(args[i]) : undefined;
          if (v === undefined) v = p.init ? await this.eval(p.init) : EMPTY;
          frame.vars.set(p.name, v);
        }
        for (const l of fn.locals) {
          frame.vars.set(l.name, l.init ? V.copyValue(await this.eval(l.init)) : EMPTY);
        }
        if (!fn.body) return EMPTY;
        return await this.eval(fn.body);
      } catch (e) {
        if (e instanceof V.ReturnSignal) return e.value;
        throw e;
      } finally {
        this.frame = saved;
        this.source = savedSource;
        this.depth--;
      }
    }

    /* ---- operators ------------------------------------------------------------------ */

    /* JSL's truth: a number other than 0 and missing. */
    truth(v, what) {
      if (V.isNumber(v)) return v !== 0 && !Number.isNaN(v);
      if (v === EMPTY) return false;
      throw new JslError(`${what} must be a number, not a ${V.typeName(v).toLowerCase()}`);
    }

    unary(op, v) {
      if (V.isList(v)) return v.map((x) => this.unary(op, x));
      if (!V.isNumber(v)) {
        throw new JslError(`Cannot convert argument to a number: ${op}${F.formatValue(v)}`);
      }
      if (op === '-') return -v;
      return Number.isNaN(v) ? MISSING : (v === 0 ? 1 : 0);
    }

    async evalBinary(node) {
      const { op } = node;
      if (op === '&' || op === '|') {
        /* Both stop as soon as the answer is known, as JSL's And() and Or() do. */
        const left = this.truth(await this.eval(node.left), `the left side of ${op}`);
        if (op === '&' && !left) return 0;
        if (op === '|' && left) return 1;
        return this.truth(await this.eval(node.right), `the right side of ${op}`) ? 1 : 0;
      }
      const a = await this.eval(node.left);
      const b = await this.eval(node.right);
      return this.binary(op, a, b);
    }

    binary(op, a, b) {
      if (op === '||') return this.concat(a, b);
      if (op in ARITH) return this.arith(op, a, b);
      return this.compare(op, a, b);
    }

    arith(op, a, b) {
      if (V.isNumber(a) && V.isNumber(b)) return V.num(ARITH[op](a, b));
      if (V.isList(a) && V.isList(b)) {
        if (a.length !== b.length) {
          throw new JslError(`${op} on lists of different lengths (${a.length} and ${b.length})`);
        }
        return a.map((x, i) => this.arith(op, x, b[i]));
      }
      if (V.isList(a) && V.isNumber(b)) return a.map((x) => this.arith(op, x, b));
      if (V.isNumber(a) && V.isList(b)) return b.map((x) => this.arith(op, a, x));
      throw new JslError(`Cannot convert argument to a number: ${F.formatValue(a)} ${op} ` +
        F.formatValue(b));
    }

    compare(op, a, b) {
      if (V.isNumber(a) && V.isNumber(b)) {
        /* A comparison with a missing value is missing, as in JSL. */
        if (Number.isNaN(a) || Number.isNaN(b)) return MISSING;
      } else if (op === '==' || op === '!=') {
        const same = V.equal(a, b);
        return (op === '==') === same ? 1 : 0;
      } else if (!(V.isString(a) && V.isString(b))) {
        throw new JslError(`cannot compare ${F.formatValue(a)} ${op} ${F.formatValue(b)}`);
      }
      switch (op) {
        case '==': return a === b ? 1 : 0;
        case '!=': return a !== b ? 1 : 0;
        case '<': return a < b ? 1 : 0;
        case '<=': return a <= b ? 1 : 0;
        case '>': return a > b ? 1 : 0;
        default: return a >= b ? 1 : 0;
      }
    }

    /* ||: strings, lists and blobs each join their own kind; a list takes any item. */
    concat(a, b) {
      if (V.isString(a) && V.isString(b)) return a + b;
      if (V.isBlob(a) && V.isBlob(b)) {
        const out = new Uint8Array(a.length + b.length);
        out.set(a, 0);
        out.set(b, a.length);
        return out;
      }
      if (V.isList(a)) return a.concat(V.isList(b) ? b : [b]).map(V.copyValue);
      if (V.isList(b)) return [a].concat(b).map(V.copyValue);
      throw new JslError(`|| joins two strings, two blobs or lists, not ${F.formatValue(a)} and ` +
        F.formatValue(b));
    }

    /* ---- subscripts and assignment -------------------------------------------------- */

    position(i, length, what) {
      if (!V.isNumber(i) || !Number.isInteger(i)) {
        throw new JslError(`the subscript of ${what} must be a whole number, not ${F.formatValue(i)}`);
      }
      if (i < 1 || i > length) {
        throw new JslError(`Subscript Range: ${what}[${F.formatNumber(i)}], and ${what} has ` +
          `${length} item${length === 1 ? '' : 's'}`);
      }
      return i - 1;
    }

    /* l[i], l[{i, j}] (a list of those items), and l[i, j] for l[i][j] in nested lists. */
    subscript(v, indices, node) {
      let what = F.unparse(node.target);
      let out = v;
      for (const i of indices) {
        if (!V.isList(out)) throw new JslError(`${what} is not a list: it cannot be subscripted`);
        const list = out;
        out = V.isList(i) ? i.map((k) => list[this.position(k, list.length, what)])
          : list[this.position(i, list.length, what)];
        what = `${what}[${F.formatValue(i)}]`;
      }
      return out;
    }

    /* Stores a value where a target node points: a name, or a subscript of one. */
    async store(target, value) {
      if (target.kind === 'name') {
        this.setVar(target.name, value);
        return;
      }
      if (target.kind !== 'index') {
        throw new JslError(`cannot assign to ${F.unparse(target)}`);
      }
      /* x[i][j] = v: walk down from the variable, changing its list in place. */
      const chain = [];
      let root = target;
      while (root.kind === 'index') {
        chain.unshift(root);
        root = root.target;
      }
      if (root.kind !== 'name') throw new JslError(`cannot assign to ${F.unparse(target)}`);
      const steps = [];
      for (const node of chain) {
        const what = F.unparse(node.target);
        for (const i of await this.evalIndices(node)) steps.push({ i, what });
      }
      let list = this.evalName(root);
      for (let k = 0; k < steps.length; k++) {
        const { i, what } = steps[k];
        if (!V.isList(list)) throw new JslError(`${what} is not a list: it cannot be subscripted`);
        if (!V.isNumber(i)) throw new JslError(`assign to one item at a time, not ${what}[${F.formatValue(i)}]`);
        const p = this.position(i, list.length, what);
        if (k === steps.length - 1) list[p] = value;
        else list = list[p];
      }
    }

    async evalAssign(node) {
      let value = V.copyValue(await this.eval(node.value));
      if (node.op !== '=') {
        const old = await this.eval(node.target);
        value = this.binary(ASSIGN_OPS[node.op], old, value);
      }
      await this.store(node.target, value);
      return value;
    }

    /* x++ gives the old value, ++x the new one: `timeout-- > 0` tests before counting. */
    async evalIncDec(node) {
      const old = await this.eval(node.target);
      if (!V.isNumber(old)) {
        throw new JslError(`${node.op} needs a number, and ${F.unparse(node.target)} is ` +
          F.formatValue(old));
      }
      const value = node.op === '++' ? old + 1 : old - 1;
      await this.store(node.target, value);
      return node.prefix ? value : old;
    }

    /* ---- waiting and callbacks ------------------------------------------------------ */

    /* Sleeps up to ms, waking early when the run stops or a callback list arrives. */
    sleep(ms) {
      return new Promise((resolve) => {
        const run = this.run;
        const done = () => {
          clearTimeout(timer);
          run.wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        run.wakers.add(done);
      });
    }

    /* Called by the host for each event of an armed callback (see jsl_sockets.js). */
    enqueue(item) {
      this.pending.push(item);
      if (this.run) for (const wake of this.run.wakers) wake();
    }

    /* Wait(seconds): pauses the script, running delivered callbacks meanwhile. */
    async wait(seconds) {
      const end = this.host.now() + Math.max(0, V.isNumber(seconds) && !Number.isNaN(seconds)
        ? seconds : 0) * 1000;
      for (;;) {
        await this.runPending();
        const left = end - this.host.now();
        if (left <= 0) break;
        await this.sleep(left);
        if (this.run.stopped) throw new V.StopSignal(true);
      }
      await this.host.yieldNow();
      this.sliceStart = this.host.now();
      if (this.run.stopped) throw new V.StopSignal(true);
      return EMPTY;
    }

    /* Runs the delivered callbacks one at a time, each in its own error scope; a Wait()
     * inside a callback runs none, so that they never nest. */
    async runPending() {
      if (this.inCallback) return;
      while (this.pending.length) {
        if (this.run.stopped) throw new V.StopSignal(true);
        await this.runCallback(this.pending.shift());
      }
    }

    async runCallback({ name, text, list }) {
      const fn = this.globals.get(name);
      const savedFrame = this.frame;
      const savedDepth = this.depth;
      const savedSource = this.source;
      this.inCallback = true;
      try {
        if (!V.isFunction(fn)) {
          throw new JslError(`the callback ${text} is not a function (an event arrived for it: ` +
            `${F.formatValue(list)})`);
        }
        await this.callFunction(fn, [list]);
      } catch (e) {
        /* An error ends the callback, not the script that waits (JMP logs it too). */
        if (e instanceof V.StopSignal && e.byUser) throw e;
        let err = e;
        if (e instanceof V.BreakSignal) {
          err = new JslError(`${e instanceof V.ContinueSignal ? 'Continue' : 'Break'}() outside a ` +
            'loop', e.pos);
        }
        if (err instanceof JslError) {
          if (this.run.reportError) this.run.reportError(err, `in the callback ${text}`);
        } else if (!(err instanceof V.StopSignal)) {
          throw err;
        }
      } finally {
        this.frame = savedFrame;
        this.depth = savedDepth;
        this.source = savedSource;
        this.inCallback = false;
      }
    }
  }

  return { Interpreter, Run, SLICE_MS };
}));
