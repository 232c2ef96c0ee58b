/*
 * The values a JSL script works with, and the signals that carry control flow through
 * the evaluator (web/jsl_eval.js). Shared by the page and by sockgate-jsl under node.
 *
 * A number is a JS number, JSL's missing value "." is NaN (so arithmetic on it stays
 * missing, as in JSL); a string is a JS string; a blob is a Uint8Array; a list is a JS
 * array; Empty() is the EMPTY object; a socket is a JslSocket; a function a JslFunction.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.SockgateJslValues = factory();
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const MISSING = NaN;
  /* What Empty() returns, and what statements that give nothing (Show, Wait) return. */
  const EMPTY = Object.freeze({ toString: () => 'Empty()' });

  /* A gateway socket, known by its id; element 4 of accept's list is one too. */
  class JslSocket {
    constructor(id) {
      this.id = id;
    }
  }

  /* Function({args}, {locals}, body): its syntax nodes; calls bind fresh locals. */
  class JslFunction {
    constructor(node, params, locals, defaultLocal, body) {
      this.node = node;             /* the Function(...) call, for Show */
      this.params = params;         /* [{name, text, init: node|null}] */
      this.locals = locals;         /* [{name, init: node|null}] */
      this.defaultLocal = defaultLocal;
      this.body = body;             /* node or null */
    }
  }

  /*
   * A mistake in the script: stops it unless a Try() catches it. pos ([line, column,
   * start, end]) is the failing expression's place, filled in by the evaluator.
   */
  class JslError extends Error {
    constructor(message, pos) {
      super(message);
      this.name = 'JslError';
      this.pos = pos || null;
    }
  }

  /* Throw(value): a JslError that carries the thrown value for exception_msg. */
  class JslThrow extends JslError {
    constructor(value, message) {
      super(message);
      this.value = value;
    }
  }

  /* Break(), Continue(), Return(x) and Stop() unwind the evaluator as exceptions. */
  class BreakSignal {
    constructor(pos) {
      this.pos = pos;             /* of the Break(), for "outside a loop" */
    }
  }
  class ContinueSignal extends BreakSignal {}
  class ReturnSignal {
    constructor(value) {
      this.value = value;
    }
  }
  /* byUser: the Stop button or Ctrl+C rather than the script's own Stop(). */
  class StopSignal {
    constructor(byUser) {
      this.byUser = byUser;
    }
  }

  const isNumber = (v) => typeof v === 'number';
  const isMissing = (v) => typeof v === 'number' && Number.isNaN(v);
  const isString = (v) => typeof v === 'string';
  const isBlob = (v) => v instanceof Uint8Array;
  const isList = (v) => Array.isArray(v);
  const isSocket = (v) => v instanceof JslSocket;
  const isFunction = (v) => v instanceof JslFunction;

  /* JSL compares names without case or white space: "Get Sock Name" is "getsockname". */
  const normalName = (s) => String(s).toLowerCase().replace(/\s+/g, '');

  /* A plain JSL number: JS infinities (from 1e308 * 10) are missing, as in JSL. */
  const num = (x) => (Number.isFinite(x) ? x : MISSING);

  /* Whether two values are equal, as ==: lists item by item, blobs byte by byte. */
  function equal(a, b) {
    if (isNumber(a) && isNumber(b)) return a === b;
    if (isString(a) && isString(b)) return a === b;
    if (isBlob(a) && isBlob(b)) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
      return true;
    }
    if (isList(a) && isList(b)) {
      return a.length === b.length && a.every((x, i) => equal(x, b[i]));
    }
    if (isSocket(a) && isSocket(b)) return a.id === b.id;
    return a === b;
  }

  /* The name of a value's type, as JSL's Type() gives it. */
  function typeName(v) {
    if (isNumber(v)) return 'Number';
    if (isString(v)) return 'String';
    if (isBlob(v)) return 'Blob';
    if (isList(v)) return 'List';
    if (isSocket(v)) return 'Socket';
    if (isFunction(v)) return 'Function';
    if (v === EMPTY) return 'Empty';
    return 'Unknown';
  }

  /* A copy deep enough that changing the copy's items never changes the original:
   * JSL lists are values, so `b = a; b[1] = 2` leaves a alone. */
  function copyValue(v) {
    if (isList(v)) return v.map(copyValue);
    return v;
  }

  return {
    MISSING, EMPTY, JslSocket, JslFunction, JslError, JslThrow,
    BreakSignal, ContinueSignal, ReturnSignal, StopSignal,
    isNumber, isMissing, isString, isBlob, isList, isSocket, isFunction,
    normalName, num, equal, typeName, copyValue,
  };
}));
