/*
 * How JMP's log shows values and expressions: numbers to 15 significant digits, missing
 * as ".", strings quoted with JSL's \! escapes, lists in braces, blobs as the Char To Blob
 * call that makes them; and the canonical text of an expression, which Show() prints
 * before " = value" (Show(rc[3]) writes "rc[3] = ...").
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = factory(require('./jsl_values.js'));
  else root.SockgateJslFormat = factory(root.SockgateJslValues);
}(typeof self !== 'undefined' ? self : this, function (V) {
  'use strict';

  /* A number as JMP writes it: whole numbers in full, others to 15 significant digits. */
  function formatNumber(x) {
    if (!Number.isFinite(x)) return '.';
    if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x === 0 ? 0 : x);
    let s = x.toPrecision(15);
    let exp = '';
    const e = s.indexOf('e');
    if (e >= 0) {
      exp = s.slice(e);
      s = s.slice(0, e);
    }
    if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    return s + exp;
  }

  const ESCAPES = { '\\!': '\\!\\!', '"': '\\!"', '\n': '\\!n', '\r': '\\!r', '\t': '\\!t', '\0': '\\!0' };

  /* A JSL string literal: what a script would write to get s. A backslash is itself
   * unless "!" follows it, so only that pair needs an escape. */
  function quote(s) {
    return '"' + s.replace(/\\!|["\n\r\t\0]/g, (c) => ESCAPES[c]) + '"';
  }

  /* Bytes as ascii~hex without the wasm codec (the log must work before it loads). */
  function asciiHex(bytes) {
    let out = '';
    for (const b of bytes) {
      const plain = b >= 0x20 && b <= 0x7e && b !== 0x7e && b !== 0x5c && b !== 0x22 && b !== 0x21;
      out += plain ? String.fromCharCode(b) : '~' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    return out;
  }

  /* A value as Print() and Show() write it. */
  function formatValue(v) {
    if (V.isNumber(v)) return formatNumber(v);
    if (V.isString(v)) return quote(v);
    if (V.isList(v)) return '{' + v.map(formatValue).join(', ') + '}';
    if (V.isBlob(v)) return `Char To Blob(${quote(asciiHex(v))}, "ascii~hex")`;
    if (V.isSocket(v)) return `Socket(${quote(v.id)})`;
    if (V.isFunction(v)) return unparse(v.node);
    if (v === V.EMPTY || v === undefined || v === null) return 'Empty()';
    return String(v);
  }

  /* A value as Write() and Char() give it: strings as they are, the rest as Print's. */
  function plainText(v) {
    return V.isString(v) ? v : formatValue(v);
  }

  /* Binding strength of each operator, to put back only the parentheses that matter. */
  const PRECEDENCE = {
    assign: 1, '|': 2, '&': 3, '==': 4, '!=': 4, '<': 4, '<=': 4, '>': 4, '>=': 4,
    send: 5, '||': 6, '+': 7, '-': 7, '*': 8, '/': 8, unary: 9, postfix: 10,
  };

  function strength(node) {
    switch (node.kind) {
      case 'assign': return PRECEDENCE.assign;
      case 'binary': return PRECEDENCE[node.op];
      case 'send': return PRECEDENCE.send;
      case 'unary': return PRECEDENCE.unary;
      case 'incdec': return node.prefix ? PRECEDENCE.unary : PRECEDENCE.postfix;
      case 'glue': return 0;
      default: return 11;
    }
  }

  function wrap(node, min) {
    const text = unparse(node);
    return strength(node) < min ? `(${text})` : text;
  }

  const args = (list) => list.map((a) => unparse(a)).join(', ');

  /* The canonical JSL text of a syntax node (web/README.md, "The syntax tree"). */
  function unparse(node) {
    switch (node.kind) {
      case 'glue': return node.items.map(unparse).join('; ');
      case 'number': return formatNumber(node.value);
      case 'missing': return '.';
      case 'string': return quote(node.value);
      case 'name': return node.text;
      case 'list': return `{${args(node.items)}}`;
      case 'call': return node.bare ? node.text : `${node.text}(${args(node.args)})`;
      case 'index': return `${wrap(node.target, 10)}[${args(node.indices)}]`;
      case 'unary': return `${node.op}${wrap(node.operand, 9)}`;
      case 'binary': {
        const p = PRECEDENCE[node.op];
        return `${wrap(node.left, p)} ${node.op} ${wrap(node.right, p + 1)}`;
      }
      case 'assign': return `${wrap(node.target, 2)} ${node.op} ${wrap(node.value, 1)}`;
      case 'incdec': return node.prefix ? `${node.op}${wrap(node.target, 10)}`
        : `${wrap(node.target, 10)}${node.op}`;
      case 'send': return `${wrap(node.target, 5)} << ${unparse(node.message)}`;
      default: return '?';
    }
  }

  return { formatNumber, quote, asciiHex, formatValue, plainText, unparse };
}));
