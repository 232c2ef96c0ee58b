/*
 * JSL's control forms (If, While, For, Try, Function, ...), the log functions (Show,
 * Print, Write), type tests, numbers and time: the built-in functions that are not about
 * text. Each entry says how many arguments it takes and whether it gets them evaluated
 * (fn(interp, values, node, named)) or as syntax nodes (lazy: fn(interp, nodes, node)).
 * createBuiltins() gathers this table, jsl_builtins_text.js and jsl_sockets.js into the
 * Map the evaluator uses.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('./jsl_values.js'), require('./jsl_format.js'));
  } else {
    root.SockgateJslCore = factory(root.SockgateJslValues, root.SockgateJslFormat);
  }
}(typeof self !== 'undefined' ? self : this, function (V, F) {
  'use strict';

  const { JslError, EMPTY, MISSING } = V;

  /* Seconds from JMP's date origin (1904-01-01) to the Unix epoch. */
  const JMP_EPOCH_OFFSET = 2082844800;

  /* ---- control -------------------------------------------------------------------- */

  async function loop(interp, cond, body, step) {
    for (;;) {
      if (cond && !interp.truth(await interp.eval(cond), 'the loop condition')) break;
      try {
        if (body) await interp.eval(body);
      } catch (e) {
        if (e instanceof V.ContinueSignal) { /* on to the step */ } else if (e instanceof V.BreakSignal) break;
        else throw e;
      }
      if (step) await interp.eval(step);
    }
    return EMPTY;
  }

  /* exception_msg as JSL sets it: the thrown value, or for JSL's own errors a list
   * whose first item is the message. */
  function exceptionValue(e) {
    if (e instanceof V.JslThrow) return e.value;
    return [e.message];
  }

  /* A Function()'s parameter or local: `a` or `a = default`. */
  function declared(node, what) {
    if (node.kind === 'name') return { name: node.name, text: node.text, init: null };
    if (node.kind === 'assign' && node.op === '=' && node.target.kind === 'name') {
      return { name: node.target.name, text: node.target.text, init: node.value };
    }
    throw new JslError(`a Function's ${what} must be a name or name = value, not ${F.unparse(node)}`);
  }

  function makeFunction(interp, nodes, node) {
    const [paramsNode, second, third] = nodes;
    if (paramsNode.kind !== 'list') throw new JslError('Function() takes its arguments as a list: Function({a, b}, ...)');
    const params = paramsNode.items.map((p) => declared(p, 'argument'));
    let locals = [];
    let defaultLocal = false;
    let body = nodes.length >= 2 ? second : null;
    if (nodes.length === 3) {
      if (second.kind !== 'list') throw new JslError("Function()'s locals go in a list: Function({a}, {b, c}, ...)");
      for (const item of second.items) {
        if (item.kind === 'name' && item.name === 'defaultlocal') defaultLocal = true;
        else locals.push(declared(item, 'local'));
      }
      body = third;
    }
    locals = locals.filter((l) => !params.some((p) => p.name === l.name));
    const fn = new V.JslFunction(node, params, locals, defaultLocal, body);
    fn.source = interp.source;   /* so that an error inside it shows its own line */
    return fn;
  }

  const control = {
    if: { min: 1, lazy: true, async fn(interp, nodes) {
      let i = 0;
      for (; i + 1 < nodes.length; i += 2) {
        if (interp.truth(await interp.eval(nodes[i]), 'If()\'s condition')) return interp.eval(nodes[i + 1]);
      }
      return i < nodes.length ? interp.eval(nodes[i]) : EMPTY;
    } },
    while: { min: 1, max: 2, lazy: true, fn: (interp, [cond, body]) => loop(interp, cond, body, null) },
    for: { min: 3, max: 4, lazy: true, async fn(interp, [init, cond, step, body]) {
      await interp.eval(init);
      return loop(interp, cond, body, step);
    } },
    break: { min: 0, max: 0, lazy: true, fn(interp, nodes, node) { throw new V.BreakSignal(node.pos); } },
    continue: { min: 0, max: 0, lazy: true, fn(interp, nodes, node) { throw new V.ContinueSignal(node.pos); } },
    stop: { min: 0, max: 0, lazy: true, fn() { throw new V.StopSignal(false); } },
    wait: { min: 0, max: 1, fn: (interp, [seconds]) => interp.wait(seconds === undefined ? 3 : seconds) },
    try: { min: 1, max: 2, lazy: true, async fn(interp, [expr, onError]) {
      try {
        return await interp.eval(expr);
      } catch (e) {
        if (!(e instanceof JslError)) throw e;
        interp.setVar('exception_msg', exceptionValue(e));
        return onError ? interp.eval(onError) : EMPTY;
      }
    } },
    throw: { min: 0, max: 1, fn(interp, [value]) {
      const v = value === undefined ? '' : value;
      const text = V.isString(v) ? v : F.formatValue(v);
      throw new V.JslThrow(v, text ? `Throw: ${text}` : 'Throw() stopped the script');
    } },
    function: { min: 1, max: 3, lazy: true, fn: makeFunction },
    return: { min: 0, max: 1, async fn(interp, [value]) {
      if (interp.depth === 0) throw new JslError('Return() outside a function');
      throw new V.ReturnSignal(value === undefined ? EMPTY : value);
    } },
    namesdefaulttohere: { min: 0, max: 1, fn: () => EMPTY },
  };

  /* ---- the log ------------------------------------------------------------------------ */

  const LITERALS = new Set(['number', 'string', 'missing']);

  const log = {
    /* Show(x, "y") writes "x = 1" and "y": an expression with its value, a literal alone. */
    show: { min: 0, lazy: true, async fn(interp, nodes) {
      const lines = [];
      for (const n of nodes) {
        const v = await interp.eval(n);
        lines.push(LITERALS.has(n.kind) ? F.formatValue(v) : `${F.unparse(n)} = ${F.formatValue(v)}`);
      }
      interp.write(lines.map((l) => l + '\n').join(''));
      return EMPTY;
    } },
    print: { min: 0, fn(interp, values) {
      interp.write(values.map((v) => F.formatValue(v) + '\n').join(''));
      return EMPTY;
    } },
    /* Write() adds no quotes and no line end: "\!n" in the text makes lines. */
    write: { min: 0, fn(interp, values) {
      interp.write(values.map(F.plainText).join(''));
      return EMPTY;
    } },
  };

  /* ---- types, numbers, time -------------------------------------------------------- */

  const isNum = (v) => V.isNumber(v);
  function needNumber(v, what) {
    if (!V.isNumber(v)) throw new JslError(`${what} needs a number, not ${F.formatValue(v)}`);
    return v;
  }
  const numeric = (name, f) => ({ min: 1, max: 1, fn: (interp, [x]) => V.num(f(needNumber(x, name))) });

  const types = {
    /* Is Empty(x): 1 for Empty() and for a name that has no value yet. */
    isempty: { min: 1, max: 1, lazy: true, async fn(interp, [n]) {
      if (n.kind === 'name' && !interp.has(n.name)) return 1;
      return (await interp.eval(n)) === EMPTY ? 1 : 0;
    } },
    empty: { min: 0, max: 0, fn: () => EMPTY },
    isstring: { min: 1, max: 1, fn: (i, [v]) => (V.isString(v) ? 1 : 0) },
    islist: { min: 1, max: 1, fn: (i, [v]) => (V.isList(v) ? 1 : 0) },
    isnumber: { min: 1, max: 1, fn: (i, [v]) => (isNum(v) ? 1 : 0) },
    ismissing: { min: 1, max: 1, fn: (i, [v]) => (V.isMissing(v) ? 1 : 0) },
    isblob: { min: 1, max: 1, fn: (i, [v]) => (V.isBlob(v) ? 1 : 0) },
    type: { min: 1, max: 1, fn: (i, [v]) => V.typeName(v) },
    list: { min: 0, fn: (i, values) => values.map(V.copyValue) },
    evallist: { min: 1, max: 1, fn(i, [v]) {
      if (!V.isList(v)) throw new JslError('Eval List() needs a list');
      return v.map(V.copyValue);
    } },
    abs: numeric('Abs()', Math.abs),
    floor: numeric('Floor()', Math.floor),
    ceiling: numeric('Ceiling()', Math.ceil),
    sqrt: numeric('Sqrt()', Math.sqrt),
    round: { min: 1, max: 2, fn(i, [x, places]) {
      needNumber(x, 'Round()');
      const p = places === undefined ? 0 : needNumber(places, 'Round()');
      const f = 10 ** p;
      /* Half away from zero, as JMP rounds. */
      return V.num(Math.sign(x) * Math.round(Math.abs(x) * f) / f);
    } },
    mod: { min: 2, max: 2, fn(i, [a, b]) {
      needNumber(a, 'Mod()');
      needNumber(b, 'Mod()');
      /* Mod() takes the sign of the divisor, as JSL's does. */
      return V.num(b === 0 ? NaN : a - b * Math.floor(a / b));
    } },
    min: { min: 1, fn: (i, values) => V.num(Math.min(...values.map((v) => needNumber(v, 'Min()')))) },
    max: { min: 1, fn: (i, values) => V.num(Math.max(...values.map((v) => needNumber(v, 'Max()')))) },
    /* Seconds on a clock that only moves forward: for timing, not for dates. */
    tickseconds: { min: 0, max: 0, fn: (interp) => interp.host.now() / 1000 },
    /* JMP's date-time: seconds since 1904-01-01 in local time. */
    today: { min: 0, max: 0, fn() {
      const now = new Date();
      return Math.floor(now.getTime() / 1000) - now.getTimezoneOffset() * 60 + JMP_EPOCH_OFFSET;
    } },
    web: { min: 1, max: 2, fn(interp, [url]) {
      if (!V.isString(url) || !/^https?:\/\//i.test(url)) {
        throw new JslError(`Web() opens an http:// or https:// address, not ${F.formatValue(url)}`);
      }
      interp.note(interp.host.openUrl(url));
      return EMPTY;
    } },
  };

  /* The evaluator's table: normalised name -> spec, from this file and the others. */
  function createBuiltins(...more) {
    const map = new Map();
    for (const table of [control, log, types, ...more]) {
      for (const [name, spec] of Object.entries(table)) map.set(name, spec);
    }
    return map;
  }

  return { createBuiltins, JMP_EPOCH_OFFSET, exceptionValue, needNumber, MISSING };
}));
