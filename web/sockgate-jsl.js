#!/usr/bin/env node
/*
 * sockgate-jsl: runs a JSL script against a sockgate gateway from the command line, with
 * the console's own interpreter and wasm parser, and prints its log (what Show, Print and
 * Write write) on stdout; errors and notes go to stderr. `make` puts it in build/ next to
 * the console's files (build/web), which it loads.
 *
 *   sockgate-jsl [--gateway URL] [--token T] [--trace] script.jsl   ("-" reads stdin)
 *
 * Exit status: 0 when the script ran to its end (or called Stop() after a successful
 * answer), 1 on an error or a Stop() right after a failed socket answer, 2 on a usage
 * error, 130 when interrupted.
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const USAGE = `usage: sockgate-jsl [--gateway URL] [--token T] [--trace] script.jsl
  --gateway URL  the gateway (default $SOCKGATE_GATEWAY or http://127.0.0.1:8080)
  --token T      its credential (default $SOCKGATE_TOKEN)
  --trace        also write each socket message and its answer to stderr
  script.jsl     the script; "-" reads it from stdin`;

function parseArgs(argv) {
  const opts = {
    gateway: process.env.SOCKGATE_GATEWAY || 'http://127.0.0.1:8080',
    token: process.env.SOCKGATE_TOKEN || '',
    trace: false,
    script: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--gateway' || a === '-g') opts.gateway = value();
    else if (a.startsWith('--gateway=')) opts.gateway = a.slice(10);
    else if (a === '--token') opts.token = value();
    else if (a.startsWith('--token=')) opts.token = a.slice(8);
    else if (a === '--trace') opts.trace = true;
    else if (a === '--help' || a === '-h') opts.help = true;
    else if (a.startsWith('-') && a !== '-') throw new Error(`unknown option ${a}`);
    else if (opts.script === null) opts.script = a;
    else throw new Error(`only one script, not ${a} too`);
  }
  if (!opts.help && opts.script === null) throw new Error('no script given');
  if (!/^https?:\/\//.test(opts.gateway)) throw new Error(`--gateway must be an http:// or https:// URL, not ${opts.gateway}`);
  return opts;
}

/* The console's files: build/web beside this program, or $SOCKGATE_WEB_DIR. */
function webDir() {
  if (process.env.SOCKGATE_WEB_DIR) return process.env.SOCKGATE_WEB_DIR;
  const beside = path.join(__dirname, 'web');
  return fs.existsSync(path.join(beside, 'jsl_runner.js')) ? beside : __dirname;
}

function formatError(file, info) {
  const where = info.line ? `${file}:${info.line}:${info.column}: ` : `${file}: `;
  let text = `${where}error: ${info.message}\n`;
  if (info.line && info.sourceLine) {
    const pad = Array.from(info.sourceLine).slice(0, info.column - 1).map((c) => (c === '\t' ? '\t' : ' ')).join('');
    text += `  ${info.sourceLine}\n  ${pad}^\n`;
  }
  return text;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sockgate-jsl: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let source;
  try {
    source = fs.readFileSync(opts.script === '-' ? 0 : opts.script, 'utf8');
  } catch (e) {
    process.stderr.write(`sockgate-jsl: cannot read ${opts.script}: ${e.message}\n`);
    return 2;
  }
  const dir = webDir();
  const { loadJsl, createNodeHost } = require(path.join(dir, 'jsl_node.js'));
  const { Runner } = require(path.join(dir, 'jsl_runner.js'));
  const { formatValue } = require(path.join(dir, 'jsl_format.js'));
  const { EMPTY } = require(path.join(dir, 'jsl_values.js'));
  const file = opts.script === '-' ? 'stdin' : opts.script;
  const jsl = await loadJsl(dir);

  let runner = null;
  let lineOpen = false;
  let wrote = false;
  const out = (text) => {
    process.stdout.write(text);
    wrote = true;
    lineOpen = !text.endsWith('\n');
  };
  const err = (text) => {
    /* Keep stderr lines apart from an unfinished Write() line. */
    if (lineOpen && process.stdout.isTTY && process.stderr.isTTY) process.stderr.write('\n');
    process.stderr.write(text);
  };
  const host = createNodeHost({
    gateway: opts.gateway,
    token: opts.token,
    onEvent: (name, list) => runner.deliver(name, list),
    onNote: (text) => err(`sockgate-jsl: ${text}\n`),
  });
  runner = new Runner({
    jsl, host,
    hooksFor: () => ({
      write: out,
      note: (text) => err(`${text}\n`),
      error: (info) => err(formatError(file, info)),
      answer(call) {
        if (!opts.trace) return;
        const answer = call.answer ? formatValue(call.answer) : `(${call.error})`;
        err(`${call.label}  ->  ${call.method} ${call.path}  ${call.status || ''} ${answer}\n`);
      },
    }),
  });

  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    runner.stop();
  });
  const result = await runner.run(source);
  host.close();
  /* As JMP's log (and the page) show it: a script that wrote nothing prints the value of
   * its last expression, so `Get Addr Info("localhost")[3][4];` shows the address. */
  if (result.status === 'done' && !wrote && result.value !== undefined && result.value !== EMPTY) {
    out(`${formatValue(result.value)}\n`);
  }
  switch (result.status) {
    case 'done': return 0;
    case 'stop': return result.lastAnswerOk ? 0 : 1;
    case 'stopped': return 130;
    default: return 1;
  }
}

main().then((code) => {
  process.exitCode = code;
  /* Should a keep-alive connection hold the process open, end it anyway. */
  setTimeout(() => process.exit(code), 1000).unref();
}, (e) => {
  process.stderr.write(`sockgate-jsl: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
});
