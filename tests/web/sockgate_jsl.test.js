/*
 * sockgate-jsl, the command-line runner (build/sockgate-jsl), run as a user runs it:
 * a real process against the real gateway and real peers. Its log goes to stdout, errors
 * to stderr, and its exit status says how the script ended.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/sockgate_jsl.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { root, build, startGateway, freePort } = require('./harness.js');
const peers = require('./peers.js');

const cli = path.join(build, 'sockgate-jsl');
let gateway;
let dir;
before(async () => {
  assert.ok(fs.existsSync(cli), `${cli} is missing: build it first (make)`);
  gateway = await startGateway();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-jsl-'));
});
after(async () => {
  if (gateway) await gateway.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/* Runs sockgate-jsl; resolves with {code, stdout, stderr}. onStdout sees output live. */
function jsl(args, { input, env, onStdout } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cli, args, {
      env: { ...process.env, SOCKGATE_GATEWAY: '', SOCKGATE_TOKEN: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (onStdout) onStdout(stdout, child);
    });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(input || '');
  });
}

let n = 0;
function script(text) {
  const file = path.join(dir, `script${++n}.jsl`);
  fs.writeFileSync(file, text);
  return file;
}

const gw = () => ['--gateway', gateway.base, '--token', gateway.token];

test('a script that runs to its end prints its log and exits 0', async (t) => {
  const server = await peers.fixedAnswerServer('HTTP/1.0 200 OK\r\n\r\nhello');
  t.after(() => server.close());
  const file = script(`${peers.specExample(server.port)}
Write(Blob To Char(blob));`);
  const r = await jsl([...gw(), file]);
  assert.deepEqual(r, { code: 0, signal: null, stdout: 'Length(blob) = 24\nHTTP/1.0 200 OK\r\n\r\nhello', stderr: '' });
});

test('the README\'s console script runs as the README shows', async () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const source = /```jsl\n([^]*?)```/.exec(readme)[1];
  assert.match(source, /Connect\("localhost", "8080"\)/);
  const r = await jsl([...gw(), script(source.replace('"8080"', `"${gateway.port}"`))]);
  assert.equal(r.code, 0, r.stderr);
  const [first, second] = r.stdout.split('\n');
  const length = Number(/^Length\(page\) = (\d+)$/.exec(first)[1]);
  assert.match(second, /^"HTTP\/1\.1 200 OK\\!r\\!n.*\{\\!"status\\!":\\!"ok\\!"\}"$/);
  assert.ok(length > 100);
  assert.ok(readme.includes('\n    $ build/sockgate-jsl --gateway http://localhost:8080 healthz.jsl\n' +
    `    Length(page) = ${length}\n`), 'the README shows the length this gateway answers with');
});

test('Stop() after a failed answer exits 1; after a good one, 0', async () => {
  const closed = await freePort();
  let r = await jsl([...gw(), script(`s = Socket();
rc = s << Connect("127.0.0.1", ${closed});
If(rc[2] != "ok", Show(rc); Stop());
Print("not reached");`)]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^rc = \{"connect", "CONNREFUSED: [^"]*"\}\n$/);
  assert.equal(r.stderr, '');
  r = await jsl([...gw(), script('s = Socket(); s << Close(); Print("done"); Stop(); Print("not reached")')]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '"done"\n', '']);
});

test('errors go to stderr with file, line and column; the exit status is 1', async () => {
  let file = script('Print("before");\nx = {1, 2};\nShow(x[5]);\nPrint("after");');
  let r = await jsl([...gw(), file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '"before"\n');
  assert.equal(r.stderr, `${file}:3:6: error: Subscript Range: x[5], and x has 2 items\n  Show(x[5]);\n       ^\n`);
  file = script('Show(1,\n\t2');
  r = await jsl([...gw(), file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^${file.replace(/[.]/g, '\\.')}:2:\\d+: error: syntax error: `));
});

test('the token comes from --token or SOCKGATE_TOKEN; a wrong one is an error', async () => {
  const file = script('s = Socket(); Print(Type(s)); s << Close();');
  let r = await jsl(['--gateway', gateway.base, file], { env: { SOCKGATE_TOKEN: gateway.token } });
  assert.deepEqual([r.code, r.stdout], [0, '"Socket"\n']);
  r = await jsl(['--gateway', gateway.base, '--token', 'wrong', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: Socket\(\) failed: AUTH: /);
  r = await jsl([file], { env: { SOCKGATE_GATEWAY: gateway.base, SOCKGATE_TOKEN: gateway.token } });
  assert.equal(r.code, 0);
});

test('"-" reads the script from stdin; --trace shows each message', async () => {
  const r = await jsl([...gw(), '--trace', '-'], { input: 's = Socket(DGRAM); s << close; Print(1)' });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '1\n');
  assert.match(r.stderr, /^Socket\(DGRAM\) {2}-> {2}POST \/sockets {2}201 \{"socket", "ok", "s\d+"\}\n/);
  assert.match(r.stderr, /\ns << close {2}-> {2}POST \/sockets\/s\d+\/close {2}200 \{"close", "ok"\}\n$/);
});

test('callbacks run during Wait under node too (the event stream)', async (t) => {
  const server = await peers.tcpServer((sock) => sock.once('data', () => setTimeout(() => sock.write('pushed'), 100)));
  t.after(() => server.close());
  const r = await jsl([...gw(), script(`got = "";
onData = Function({rc}, got = Blob To Char(rc[3]));
s = Socket();
s << Connect("127.0.0.1", ${server.port});
s << Recv(100, "onData");
s << Send("go");
timeout = 250;
While(got == "" & timeout-- > 0, Wait(0.02));
Show(got);
s << Close();`)]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'got = "pushed"\n', '']);
});

test('usage errors exit 2; --help exits 0', async () => {
  let r = await jsl([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^sockgate-jsl: no script given\nusage: sockgate-jsl /);
  r = await jsl(['--gateway', 'ftp://x', 'a.jsl']);
  assert.equal(r.code, 2);
  r = await jsl([...gw(), path.join(dir, 'missing.jsl')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read/);
  r = await jsl(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: sockgate-jsl \[--gateway URL\] \[--token T\]/);
});

test('Ctrl+C stops a running loop: exit 130', { timeout: 20000 }, async () => {
  let signalled = false;
  const r = await jsl([...gw(), script('i = 0; While(1, i++; If(Mod(i, 5000) == 0, Print(i)))')], {
    onStdout: (out, child) => {
      if (!signalled && out.includes('\n')) {
        signalled = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.ok(signalled);
  assert.equal(r.code, 130);
});
