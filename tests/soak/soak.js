// The soak test (make soak, and 30 s of it in make test): the real gateway under a mixed
// load for SOAK_SECONDS against a real peer (the bench's echo server), while its memory
// and descriptors are sampled. It fails on any 5xx, reset, wrong answer, lost or
// duplicated event, or clear growth of RSS or open files; it prints what it saw over time.
//
//   node tests/soak/soak.js GATEWAY_BIN ECHO_BIN SECONDS
//
// Loopback only; every loop stops at the deadline and every request has a timeout.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Load } = require('./soak_load.js');

const HOST = '127.0.0.1';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(port, deadline) {
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: HOST, port, path: '/healthz', timeout: 500 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`the gateway on port ${port} did not answer /healthz`);
}

// Resident memory (kB) and open descriptors of a process, from /proc.
function sampleProcess(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number((status.match(/^VmRSS:\s+(\d+)/m) || [])[1] || -1);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { rss, fds };
}

// Growth from the early part of the run (after warm-up) to its end: the largest value of
// the window at 20-40 % of the samples against the smallest of the last 20 %, so that
// in-flight connections and buffers coming and going do not count, only what stays.
function growth(samples, key) {
  const n = samples.length;
  const early = samples.slice(Math.floor(n * 0.2), Math.max(Math.floor(n * 0.4), Math.floor(n * 0.2) + 1));
  const late = samples.slice(Math.floor(n * 0.8));
  const base = Math.max(...early.map((s) => s[key]));
  const end = Math.min(...late.map((s) => s[key]));
  return { base, end, grew: end - base };
}

function table(samples) {
  const lines = ['|   t (s) |  RSS (kB) |  fds | requests | 5xx | resets | errors | events | lost | dup |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'];
  for (const s of samples) {
    lines.push(`| ${s.t.toFixed(0)} | ${s.rss} | ${s.fds} | ${s.requests} | ${s.http5xx} | ${s.resets} | ` +
      `${s.errors} | ${s.events} | ${s.lost} | ${s.dup} |`);
  }
  return lines.join('\n');
}

async function main() {
  const [gatewayBin, echoBin, secondsArg] = process.argv.slice(2);
  const seconds = Number(secondsArg || process.env.SOAK_SECONDS || 300);
  if (!gatewayBin || !echoBin || !(seconds > 0)) {
    console.error('usage: node tests/soak/soak.js GATEWAY_BIN ECHO_BIN SECONDS');
    process.exit(2);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-soak-'));
  const echoPort = await freePort();
  const gwPort = await freePort();
  const children = [];
  const stopAll = () => children.forEach((c) => { try { c.kill('SIGKILL'); } catch (e) { /* gone */ } });
  process.on('exit', stopAll);

  const echo = spawn(echoBin, [String(echoPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(echo);
  await new Promise((resolve, reject) => {
    echo.stdout.once('data', resolve);
    echo.once('exit', () => reject(new Error('the echo peer exited')));
  });
  const logPath = path.join(tmp, 'gateway.log');
  const log = fs.openSync(logPath, 'w');
  const gw = spawn(gatewayBin, ['--listen', `${HOST}:${gwPort}`, '--max-wait', '10', ...(process.env.SOAK_VERBOSE ? [] : ['--quiet'])],
    { stdio: ['ignore', log, log] });
  children.push(gw);
  let gwExit = null;
  gw.on('exit', (code, signal) => { gwExit = { code, signal }; });
  await waitHealthy(gwPort, Date.now() + 10000);

  const load = new Load({ host: HOST, port: gwPort, echoPort });
  const t0 = Date.now();
  const deadline = t0 + seconds * 1000;
  const sampleMs = Math.max(1000, Math.min(10000, Math.round(seconds * 1000 / 30)));
  const samples = [];
  const running = load.run(deadline);
  while (Date.now() < deadline && gwExit === null) {
    await sleep(Math.min(sampleMs, deadline - Date.now()));
    if (gwExit !== null) break;
    samples.push({ t: (Date.now() - t0) / 1000, ...sampleProcess(gw.pid), ...load.counts() });
  }
  await running;
  await load.finish();

  const problems = [];
  if (gwExit !== null) problems.push(`the gateway died under load (${JSON.stringify(gwExit)})`);
  else {
    gw.kill('SIGTERM');
    const exit = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ code: null, signal: 'timeout' }), 10000);
      gw.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
      if (gwExit !== null) resolve(gwExit);
    });
    if (exit.code !== 0) problems.push(`the gateway did not exit 0 on SIGTERM (${JSON.stringify(exit)})`);
  }
  echo.kill('SIGTERM');

  const c = load.counts();
  console.log(`\nsockgate soak: ${seconds} s, ${c.requests} requests, sampled every ${sampleMs / 1000} s\n`);
  console.log(table(samples));
  console.log('');
  for (const [k, v] of Object.entries(load.detail())) console.log(`${k}: ${v}`);
  if (c.http5xx) problems.push(`${c.http5xx} answers were 5xx`);
  if (c.resets) problems.push(`${c.resets} connections were reset or dropped`);
  if (c.errors) problems.push(`${c.errors} answers were wrong: ${load.firstErrors().join('; ')}`);
  if (c.lost) problems.push(`${c.lost} events were lost`);
  if (c.dup) problems.push(`${c.dup} events came twice`);
  if (c.events === 0) problems.push('no event arrived');
  if (samples.length >= 5) {
    const rss = growth(samples, 'rss');
    const fds = growth(samples, 'fds');
    console.log(`RSS: ${rss.base} kB after warm-up, ${rss.end} kB at the end; ` +
      `open files: ${fds.base} after warm-up, ${fds.end} at the end`);
    if (rss.grew > 4096 && rss.grew > rss.base * 0.1) problems.push(`RSS grew by ${rss.grew} kB`);
    if (fds.grew > 16) problems.push(`open files grew by ${fds.grew}`);
  } else {
    problems.push(`only ${samples.length} samples: run longer`);
  }
  if (problems.length) {
    console.log(`\nsoak FAILED:\n- ${problems.join('\n- ')}\n(gateway log: ${logPath})`);
    process.exit(1);
  }
  console.log('\nsoak passed: no 5xx, no reset, no wrong answer, no lost or duplicated event, ' +
    'RSS and open files flat');
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`soak: ${e.stack || e}`);
  process.exit(1);
});
