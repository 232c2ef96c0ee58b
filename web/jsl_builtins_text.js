/*
 * JSL's functions on strings, blobs and lists (Char To Blob, Length, Substr, Regex,
 * Insert Into, ...), with JMP's documented meanings; the choices made where JMP says
 * nothing are in web/README.md. Positions are 1-based and count UTF-16 code units, as
 * JavaScript strings do. Part of the table built by createBuiltins (jsl_builtins_core.js).
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('./jsl_values.js'), require('./jsl_format.js'));
  } else {
    root.SockgateJslText = factory(root.SockgateJslValues, root.SockgateJslFormat);
  }
}(typeof self !== 'undefined' ? self : this, function (V, F) {
  'use strict';

  const { JslError, MISSING } = V;
  const utf8Encoder = new TextEncoder();
  const utf8Decoder = new TextDecoder('utf-8');

  function need(test, kind) {
    return (v, what) => {
      if (!test(v)) throw new JslError(`${what} needs ${kind}, not ${F.formatValue(v)}`);
      return v;
    };
  }
  const needString = need(V.isString, 'a string');
  const needBlob = need(V.isBlob, 'a blob');
  const needList = need(V.isList, 'a list');
  const needInt = need((v) => V.isNumber(v) && Number.isInteger(v), 'a whole number');

  /* ---- encodings ------------------------------------------------------------------ */

  const CODEC = new Set(['ascii~hex', 'base64', 'hex']);

  function encodingOf(args, named, at, what) {
    const e = named.encoding !== undefined ? named.encoding : args[at];
    if (e === undefined) return 'utf-8';
    return needString(e, `${what}'s encoding`).toLowerCase().replace(/^utf8$/, 'utf-8');
  }

  function charToBlob(interp, text, enc) {
    if (enc === 'utf-8') return utf8Encoder.encode(text);
    if (CODEC.has(enc)) {
      try {
        return interp.jsl.decode(text, enc);
      } catch (e) {
        throw new JslError(`Char To Blob(): ${e.message}`);
      }
    }
    if (enc === 'us-ascii' || enc === 'ascii' || enc === 'latin1' || enc === 'iso-8859-1') {
      const top = enc.endsWith('ascii') ? 0x80 : 0x100;
      return Uint8Array.from(text, (c) => (c.charCodeAt(0) < top ? c.charCodeAt(0) : 0x3f));
    }
    throw new JslError(`unknown encoding "${enc}": use utf-8, ascii~hex, base64, hex, us-ascii or latin1`);
  }

  function blobToChar(interp, blob, enc) {
    if (enc === 'utf-8') return utf8Decoder.decode(blob);
    if (CODEC.has(enc)) return interp.jsl.encode(blob, enc);
    if (enc === 'us-ascii' || enc === 'ascii' || enc === 'latin1' || enc === 'iso-8859-1') {
      const top = enc.endsWith('ascii') ? 0x80 : 0x100;
      let s = '';
      for (const b of blob) s += b < top ? String.fromCharCode(b) : '?';
      return s;
    }
    throw new JslError(`unknown encoding "${enc}": use utf-8, ascii~hex, base64, hex, us-ascii or latin1`);
  }

  function hexOf(bytes) {
    let s = '';
    for (const b of bytes) s += b.toString(16).toUpperCase().padStart(2, '0');
    return s;
  }

  function bytesOfHex(text, what) {
    needString(text, what);
    const t = text.replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(t)) throw new JslError(`${what}: "${text}" is not hexadecimal text`);
    const out = new Uint8Array(t.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
    return out;
  }

  /* Hex(1) is the 16 digits of the IEEE double, as in JMP; Hex(255, "integer") is "FF". */
  function hex(value, mode) {
    if (V.isNumber(value)) {
      if (Number.isNaN(value)) return '.';
      if (mode === 'integer') {
        const n = Math.trunc(value);
        return (n < 0 ? '-' : '') + Math.abs(n).toString(16).toUpperCase();
      }
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, value);
      return hexOf(new Uint8Array(view.buffer));
    }
    if (V.isString(value)) return hexOf(utf8Encoder.encode(value));
    if (V.isBlob(value)) return hexOf(value);
    throw new JslError(`Hex() needs a number, a string or a blob, not ${F.formatValue(value)}`);
  }

  /* ---- strings ---------------------------------------------------------------------- */

  /* Num("12.5") is 12.5; text that is not one number is missing. */
  function toNumber(v) {
    if (V.isNumber(v)) return v;
    if (!V.isString(v)) return MISSING;
    const t = v.trim();
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return MISSING;
    return V.num(Number(t));
  }

  function toChar(v, width, decimals) {
    if (V.isBlob(v)) throw new JslError('Char() of a blob: use Blob To Char()');
    if (V.isNumber(v) && decimals !== undefined && !Number.isNaN(v)) {
      return v.toFixed(Math.max(0, Math.min(20, needInt(decimals, 'Char()'))));
    }
    return F.plainText(v);
  }

  /* Word(n, s, delimiters): runs of delimiter characters separate words. */
  function wordsOf(text, delims) {
    const set = new Set(delims === undefined ? ' ' : needString(delims, 'Words()'));
    const out = [];
    let cur = '';
    for (const c of needString(text, 'Words()')) {
      if (set.has(c)) {
        if (cur) out.push(cur);
        cur = '';
      } else {
        cur += c;
      }
    }
    if (cur) out.push(cur);
    return out;
  }

  function substr(s, start, length) {
    needString(s, 'Substr()');
    needInt(start, 'Substr()');
    let from = start < 0 ? Math.max(0, s.length + start) : Math.max(0, start - 1);
    if (start === 0) from = 0;
    if (length === undefined) return s.slice(from);
    const n = needInt(length, 'Substr()');
    return n <= 0 ? '' : s.slice(from, from + n);
  }

  function side(left) {
    return {
      min: 2, max: 3, fn(i, [v, n, pad]) {
        needInt(n, left ? 'Left()' : 'Right()');
        const k = Math.max(0, n);
        if (V.isList(v)) return (left ? v.slice(0, k) : v.slice(Math.max(0, v.length - k))).map(V.copyValue);
        needString(v, left ? 'Left()' : 'Right()');
        let s = left ? v.slice(0, k) : v.slice(Math.max(0, v.length - k));
        if (pad !== undefined && s.length < k) {
          const fill = needString(pad, 'the padding').slice(0, 1).repeat(k - s.length);
          s = left ? s + fill : fill + s;
        }
        return s;
      },
    };
  }

  function contains(whole, part, start) {
    if (V.isList(whole)) {
      const from = start === undefined ? 0 : Math.max(0, needInt(start, 'Contains()') - 1);
      for (let i = from; i < whole.length; i++) if (V.equal(whole[i], part)) return i + 1;
      return 0;
    }
    needString(whole, 'Contains()');
    needString(part, 'Contains()');
    if (start === undefined) return whole.indexOf(part) + 1;
    needInt(start, 'Contains()');
    /* A negative start searches backwards from that far from the end. */
    if (start < 0) return whole.lastIndexOf(part, whole.length + start) + 1;
    return whole.indexOf(part, Math.max(0, start - 1)) + 1;
  }

  /* ---- regular expressions and patterns --------------------------------------------- */

  /* "\1 car \2": backslash-digit is that group's text (missing groups are ""). */
  function expandFormat(format, match) {
    return format.replace(/\\(\d)/g, (all, d) => (match[Number(d)] === undefined ? '' : match[Number(d)]));
  }

  const REGEX_OPTIONS = new Set(['ignorecase', 'globalreplace']);

  async function regex(interp, nodes) {
    const values = [];
    const options = new Set();
    for (const n of nodes) {
      if (values.length >= 2 && n.kind === 'name' && REGEX_OPTIONS.has(n.name) && !interp.has(n.name)) {
        options.add(n.name);
        continue;
      }
      const v = await interp.eval(n);
      if (values.length >= 2 && V.isString(v) && REGEX_OPTIONS.has(V.normalName(v))) options.add(V.normalName(v));
      else values.push(v);
    }
    const [source, pattern, format = '\\0'] = values;
    needString(source, 'Regex()');
    needString(pattern, 'Regex()\'s pattern');
    needString(format, 'Regex()\'s format');
    let re;
    try {
      re = new RegExp(pattern, (options.has('ignorecase') ? 'i' : '') + (options.has('globalreplace') ? 'g' : ''));
    } catch (e) {
      throw new JslError(`Regex(): the pattern is not valid: ${e.message}`);
    }
    if (options.has('globalreplace')) {
      /* The replacer gets the match and its groups, then the offset (a number). */
      return source.replace(re, (...m) => expandFormat(format, m.slice(0, m.findIndex((x) => typeof x === 'number'))));
    }
    const m = re.exec(source);
    return m ? expandFormat(format, m) : MISSING;
  }

  /* The target of Insert Into/Remove From/Pat Match's replacement: a variable (or a
   * subscript of one) whose value changes in place. */
  function lvalue(node, what) {
    if (node.kind === 'name' || node.kind === 'index') return node;
    throw new JslError(`${what} changes a variable: its first argument must be one, not ${F.unparse(node)}`);
  }

  function insert(source, item, pos) {
    if (V.isList(source)) {
      /* One new item, a list too, as the Scripting Guide's table of list functions says. */
      const items = [V.copyValue(item)];
      const at = pos === undefined ? source.length : needInt(pos, 'Insert()') - 1;
      if (at < 0 || at > source.length) throw new JslError(`Insert(): position ${pos} is outside 1 to ${source.length + 1}`);
      return source.slice(0, at).concat(items, source.slice(at)).map(V.copyValue);
    }
    if (V.isString(source)) {
      needString(item, 'Insert() into a string');
      const at = pos === undefined ? source.length : Math.max(0, Math.min(source.length, needInt(pos, 'Insert()') - 1));
      return source.slice(0, at) + item + source.slice(at);
    }
    throw new JslError(`Insert() needs a list or a string, not ${F.formatValue(source)}`);
  }

  function remove(source, pos, n) {
    if (!V.isList(source) && !V.isString(source)) {
      throw new JslError(`Remove() needs a list or a string, not ${F.formatValue(source)}`);
    }
    const len = source.length;
    const at = pos === undefined ? len - 1 : needInt(pos, 'Remove()') - 1;
    const count = n === undefined ? 1 : needInt(n, 'Remove()');
    if (at < 0 || at >= len) throw new JslError(`Remove(): position ${at + 1} is outside 1 to ${len}`);
    const out = source.slice(0, at).concat(source.slice(at + Math.max(0, count)));
    return V.isList(out) ? out.map(V.copyValue) : out;
  }

  async function evalAll(interp, nodes) {
    const out = [];
    for (const n of nodes) out.push(await interp.eval(n));
    return out;
  }

  function inPlace(name, change) {
    return {
      min: 1, max: 3, lazy: true, async fn(interp, nodes) {
        const target = lvalue(nodes[0], name);
        const [value, ...rest] = await evalAll(interp, nodes);
        const changed = change(value, ...rest);
        await interp.store(target, changed);
        return changed;
      },
    };
  }

  /* Pat Match(s, "plain text"): 1 if the text occurs in s, ignoring case; with a
   * replacement, the first occurrence in the variable s is replaced. */
  async function patMatch(interp, nodes) {
    const [source, pattern, replacement] = await evalAll(interp, nodes);
    needString(source, 'Pat Match()');
    if (!V.isString(pattern)) {
      throw new JslError('Pat Match() here takes a plain string pattern (the Pat functions are not supported)');
    }
    const at = source.toLowerCase().indexOf(pattern.toLowerCase());
    if (at < 0) return 0;
    if (replacement !== undefined) {
      needString(replacement, 'Pat Match()\'s replacement');
      await interp.store(lvalue(nodes[0], 'Pat Match() with a replacement'),
        source.slice(0, at) + replacement + source.slice(at + pattern.length));
    }
    return 1;
  }

  const one = (f) => ({ min: 1, max: 1, fn: (i, [v]) => f(v) });

  const text = {
    chartoblob: { min: 1, max: 2, named: ['encoding'], fn(interp, args, node, named) {
      return charToBlob(interp, needString(args[0], 'Char To Blob()'), encodingOf(args, named, 1, 'Char To Blob()'));
    } },
    blobtochar: { min: 1, max: 2, named: ['encoding'], fn(interp, args, node, named) {
      return blobToChar(interp, needBlob(args[0], 'Blob To Char()'), encodingOf(args, named, 1, 'Blob To Char()'));
    } },
    blobpeek: { min: 1, max: 3, fn(i, [blob, offset, length]) {
      needBlob(blob, 'Blob Peek()');
      const from = offset === undefined ? 0 : Math.max(0, needInt(offset, 'Blob Peek()'));
      const to = length === undefined ? blob.length : from + Math.max(0, needInt(length, 'Blob Peek()'));
      return blob.slice(from, to);
    } },
    length: one((v) => {
      if (V.isString(v) || V.isBlob(v) || V.isList(v)) return v.length;
      throw new JslError(`Length() needs a string, a blob or a list, not ${F.formatValue(v)}`);
    }),
    nitems: one((v) => needList(v, 'N Items()').length),
    startswith: { min: 2, max: 2, fn: (i, [s, p]) => (needString(s, 'Starts With()').startsWith(needString(p, 'Starts With()')) ? 1 : 0) },
    endswith: { min: 2, max: 2, fn: (i, [s, p]) => (needString(s, 'Ends With()').endsWith(needString(p, 'Ends With()')) ? 1 : 0) },
    contains: { min: 2, max: 3, fn: (i, [w, p, s]) => contains(w, p, s) },
    substr: { min: 2, max: 3, fn: (i, [s, start, len]) => substr(s, start, len) },
    left: side(true),
    right: side(false),
    uppercase: one((s) => needString(s, 'Uppercase()').toUpperCase()),
    lowercase: one((s) => needString(s, 'Lowercase()').toLowerCase()),
    trim: { min: 1, max: 2, fn(i, [s, where]) {
      needString(s, 'Trim()');
      const w = where === undefined ? 'both' : needString(where, 'Trim()').toLowerCase();
      if (w === 'left') return s.replace(/^\s+/, '');
      if (w === 'right') return s.replace(/\s+$/, '');
      return s.trim();
    } },
    concat: { min: 1, fn: (interp, values) => values.reduce((a, b) => interp.concat(a, b)) },
    concatitems: { min: 1, max: 2, fn(i, [list, sep]) {
      const glue = sep === undefined ? ' ' : needString(sep, 'Concat Items()');
      return needList(list, 'Concat Items()').map(F.plainText).join(glue);
    } },
    insertinto: inPlace('Insert Into()', insert),
    insert: { min: 2, max: 3, fn: (i, [s, item, pos]) => insert(s, item, pos) },
    removefrom: inPlace('Remove From()', remove),
    remove: { min: 1, max: 3, fn: (i, [s, pos, n]) => remove(s, pos, n) },
    char: { min: 1, max: 3, fn: (i, [v, width, decimals]) => toChar(v, width, decimals) },
    num: one(toNumber),
    hex: { min: 1, max: 2, fn: (i, [v, mode]) => hex(v, V.isString(mode) ? mode.toLowerCase() : undefined) },
    hextonumber: one((s) => {
      const t = needString(s, 'Hex To Number()').trim();
      return /^[0-9a-fA-F]+$/.test(t) ? V.num(parseInt(t, 16)) : MISSING;
    }),
    hextochar: { min: 1, max: 2, named: ['encoding'], fn(interp, args, node, named) {
      return blobToChar(interp, bytesOfHex(args[0], 'Hex To Char()'), encodingOf(args, named, 1, 'Hex To Char()'));
    } },
    hextoblob: one((s) => bytesOfHex(s, 'Hex To Blob()')),
    regex: { min: 2, max: 5, lazy: true, fn: regex },
    patmatch: { min: 2, max: 3, lazy: true, fn: patMatch },
    word: { min: 2, max: 3, fn(i, [n, s, delims]) {
      const words = wordsOf(s, delims);
      const k = needInt(n, 'Word()');
      const at = k < 0 ? words.length + k : k - 1;
      return at >= 0 && at < words.length ? words[at] : '';
    } },
    words: { min: 1, max: 2, fn: (i, [s, delims]) => wordsOf(s, delims) },
  };

  return { text, charToBlob, blobToChar, hex, toNumber };
}));
