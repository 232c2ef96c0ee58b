/*
 * A fuzzer of evaluation: random scripts built from the whole grammar and every built-in
 * function, run by the console's interpreter under node without a gateway. Whatever a
 * script does, it must end as a script ends (done, an error of its own, Stop) and never
 * with a fault of the interpreter ("internal error"), a JavaScript exception, or a hang
 * (each run is stopped after a short while, as the Stop button would). The seed is fixed,
 * so a failure repeats; SOCKGATE_JSL_FUZZ_RUNS=N runs more.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jsl_fuzz.test.js
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { session } = require('./harness.js');

const RUNS = Number(process.env.SOCKGATE_JSL_FUZZ_RUNS || 400);
const STOP_AFTER_MS = 300;

/* A small deterministic generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUNCTIONS = ['Show', 'Print', 'Write', 'Char To Blob', 'Blob To Char', 'Blob Peek', 'Length',
  'N Items', 'Starts With', 'Ends With', 'Contains', 'Substr', 'Left', 'Right', 'Uppercase',
  'Lowercase', 'Trim', 'Concat', 'Concat Items', 'Insert Into', 'Insert', 'Remove From', 'Remove',
  'Char', 'Num', 'Hex', 'Hex To Number', 'Hex To Char', 'Hex To Blob', 'Regex', 'Pat Match', 'Word',
  'Words', 'Is Empty', 'Empty', 'Is String', 'Is List', 'Is Number', 'Is Missing', 'Is Blob', 'Type',
  'Abs', 'Floor', 'Ceiling', 'Round', 'Mod', 'Min', 'Max', 'Sqrt', 'List', 'Eval List',
  'Tick Seconds', 'Today', 'If', 'While', 'For', 'Break', 'Continue', 'Stop', 'Wait', 'Try', 'Throw',
  'Function', 'Return', 'Names Default To Here', 'Socket', 'Get Addr Info', 'Nosuch', 'f', 'g'];
const NAMES = ['a', 'b', 'l', 'x', 's', 'f', 'g', 'k', 'exception_msg', 'IGNORECASE', 'GLOBALREPLACE'];
const STRINGS = ['', 'abc', 'a b  c', 'ascii~hex', 'utf-8', '~0d~0a', '~zz', '(a)(b)?', '\\1-\\0', '[',
  'integer', 'left', 'CLOSED: x', 'h\u00e9', '\\!n', 'base64', 'aGk='];
const BINARY = ['+', '-', '*', '/', '==', '!=', '<', '<=', '>', '>=', '&', '|', '||'];

function generator(next) {
  const pick = (list) => list[Math.floor(next() * list.length)];
  const chance = (p) => next() < p;

  function atom() {
    switch (Math.floor(next() * 6)) {
      case 0: return String(pick([0, 1, 2, 3, -1, 0.5, 1e3, 1e300, 255]));
      case 1: return '.';
      case 2: return `"${pick(STRINGS)}"`;
      case 3: return pick(NAMES);
      case 4: return '{}';
      default: return `{${atom()}, ${atom()}}`;
    }
  }

  function expr(depth) {
    if (depth <= 0 || chance(0.25)) return atom();
    const d = depth - 1;
    switch (Math.floor(next() * 12)) {
      case 0: return `${expr(d)} ${pick(BINARY)} ${expr(d)}`;
      case 1: return `${pick(['-', '!'])}${expr(d)}`;
      case 2: return `${pick(NAMES.slice(0, 8))} ${pick(['=', '+=', '-=', '||='])} ${expr(d)}`;
      case 3: return `${pick(['a', 'l', 'k'])}${pick(['++', '--'])}`;
      case 4: return `(${expr(d)})[${expr(d)}]`;
      case 5: return `l[${expr(d)}] = ${expr(d)}`;
      case 6: return `f = Function({p, q = ${atom()}}, ${expr(d)})`;
      case 7: return `While(k++ < ${Math.floor(next() * 4)}, ${expr(d)})`;
      case 8: return `Try(${expr(d)}, ${expr(d)})`;
      case 9: return `(${expr(d)}; ${expr(d)})`;
      case 10: return `${pick(NAMES.slice(0, 6))} << ${pick(['close', 'Recv(1)', 'Send("x")'])}`;
      default: {
        const args = Array.from({ length: Math.floor(next() * 4) }, () => expr(d));
        return `${pick(FUNCTIONS)}(${args.join(', ')})`;
      }
    }
  }

  return () => Array.from({ length: 1 + Math.floor(next() * 5) }, () => expr(4)).join(';\n');
}

test(`${RUNS} random scripts end as scripts end, never as faults of the interpreter`, { timeout: 600000 },
  async () => {
    const s = await session();
    const make = generator(rng(20261202));
    const seen = { done: 0, error: 0, stop: 0, stopped: 0 };
    try {
      for (let i = 0; i < RUNS; i++) {
        const source = `k = 0; l = {1, 2, 3}; a = 1; b = "b";\n${make()}`;
        const timer = setTimeout(() => s.runner.stop(), STOP_AFTER_MS);
        let r;
        try {
          r = await s.run(source);
        } finally {
          clearTimeout(timer);
        }
        assert.ok(r.status in seen, `status ${r.status} for:\n${source}`);
        seen[r.status]++;
        for (const e of r.errors) {
          assert.doesNotMatch(e.message, /internal error/, `for:\n${source}`);
          assert.equal(typeof e.line, 'number');
        }
        assert.equal(typeof r.out, 'string');
      }
    } finally {
      s.close();
    }
    /* The generator reaches both ends: scripts that run through and ones that fail. */
    if (process.env.SOCKGATE_JSL_FUZZ_SHOW) console.log(JSON.stringify(seen));
    assert.ok(seen.done > RUNS / 10 && seen.error > RUNS / 10, JSON.stringify(seen));
  });
