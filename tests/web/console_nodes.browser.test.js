/*
 * The console behind a router, in real Chromium (SPEC section 12): three gateways
 * (build/sockgate --node gw1..gw3) behind Debian's HAProxy, configured by
 * deploy/router-conf.sh (tests/api/cluster.js starts them all). The page comes through
 * the router; a script's sockets land on several gateways; the console follows every
 * node whose sockets it holds, one EventSource each, so every socket's callback fires,
 * once, and its sockets panel lists the sockets of all those nodes. sockgate-jsl, the command-line runner, does the same with its own streams.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/console_nodes.browser.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const c = require('../api/cluster');
const { launch, openConsole, runScript, lines } = require('./browser.js');

const SOCKETS = 6;

/* Sockets on several nodes, a callback on each, and the count of callbacks that ran. */
const script = (port) => `got = 0;
onPush = Function({rc}, got++; Print(rc[4]));
For(i = 1, i <= ${SOCKETS}, i++,
    s = Socket();
    s << Connect("127.0.0.1", ${port});
    s << Recv(100, "onPush");
    s << Send("PUSH");
);
tries = 200;
While(got < ${SOCKETS} & tries-- > 0, Wait(0.05));
Wait(0.3);
Print(got);`;

/* The socket ids the callbacks printed ("Socket(\"gw2.s...\")" in a log), each once, and
 * the nodes they are on, at least two of them. */
function calledBack(out) {
  assert.equal(out.length, SOCKETS + 1, out.join('\n'));
  assert.equal(out[SOCKETS], String(SOCKETS));
  const ids = out.slice(0, SOCKETS).map((x) => (/Socket\("([^"]+)"\)/.exec(x) || [null, x])[1]);
  assert.equal(new Set(ids).size, SOCKETS, `a callback ran twice: ${ids}`);
  const nodes = [...new Set(ids.map((id) => id.slice(0, id.lastIndexOf('.'))))].sort();
  assert.ok(nodes.length >= 2, `the router put every socket on one node: ${ids}`);
  return nodes;
}
let router;
let tcp;
let browser;

before(async () => {
  tcp = net.createServer((sock) => {
    sock.on('data', (d) => {
      if (d.toString('latin1').includes('PUSH')) sock.write('pushed\r\n');
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => tcp.listen(0, '127.0.0.1', r));
  const gateways = [];
  for (const name of ['gw1', 'gw2', 'gw3']) gateways.push(await c.startGateway(name));
  router = await c.startRouter('haproxy', gateways);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await c.stopAll();
  if (tcp) tcp.close();
});

test('the console follows the event stream of every node whose sockets it holds', async (t) => {
  const page = await openConsole(t, browser, { base: router.url, token: '' }, { query: '' });
  const port = tcp.address().port;
  /* The event streams the page opens from here on (the first, without ?node=, is open). */
  const streams = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.pathname === '/events') streams.push(u.searchParams.get('node'));
  });
  await runScript(page, script(port));
  assert.deepEqual(await lines(page, 'error'), []);
  const nodes = calledBack(await lines(page, 'out'));
  /* One EventSource per node, named with ?node=, and no other. */
  assert.deepEqual([...streams].sort(), nodes);
  assert.match(await page.locator('#events-status').innerText(), new RegExp(`\\(${nodes.length} nodes\\)`));
  /* The sockets panel lists the sockets of every node, not only those of the gateway the
   * router picked for a plain GET /sockets: each node asked with ?node=NAME. */
  await page.click('#sockets-refresh');
  await page.waitForFunction((n) => document.querySelectorAll('#sockets .sock-id').length === n,
    SOCKETS, { timeout: 10000 });
  const listed = await page.locator('#sockets .sock-id').allInnerTexts();
  assert.deepEqual([...new Set(listed.map((id) => id.slice(0, id.lastIndexOf('.'))))].sort(), nodes);
  assert.match(await page.locator('#sockets-note').innerText(), new RegExp(`^${SOCKETS} open on ${nodes.length} nodes`));
});

test('sockgate-jsl follows every node too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-nodes-'));
  const file = path.join(dir, 'nodes.jsl');
  fs.writeFileSync(file, script(tcp.address().port));
  const out = await new Promise((resolve, reject) => {
    execFile(path.join(c.build, 'sockgate-jsl'), ['--gateway', router.url, file],
      { timeout: 30000, env: { ...process.env, SOCKGATE_TOKEN: '' } }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stdout}${stderr}`));
        else resolve(stdout);
      });
  });
  fs.rmSync(dir, { recursive: true, force: true });
  calledBack(out.trim().split('\n'));
});
