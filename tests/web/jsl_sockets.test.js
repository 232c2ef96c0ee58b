/*
 * Socket messages as SPEC.md section 8 gives them, run by the console's interpreter under
 * node against the real gateway and real local peers: every form of a message, what each
 * becomes on the wire, what comes back as a JSL value, and how failures show.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jsl_sockets.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startGateway, runJsl, session, freePort } = require('./harness.js');
const peers = require('./peers.js');

let gateway;
let echo;        /* a TCP peer that echoes each chunk back */
before(async () => {
  gateway = await startGateway();
  echo = await peers.tcpServer((sock) => sock.on('data', (d) => sock.write(d)));
});
after(async () => {
  if (echo) await echo.close();
  if (gateway) await gateway.stop();
});

async function run(source) {
  const r = await runJsl(source, { gateway });
  assert.deepEqual(r.errors, [], `log:\n${r.out}`);
  assert.equal(r.status, 'done');
  return r;
}

test('messages in every form become the right HTTP calls', async () => {
  const r = await run(`s = Socket(STREAM);
s << Connect("127.0.0.1", ${echo.port});
s << Ioctl("FIONBIO", 0);
s << <<"ping\\!n";
rc = s << Recv(n = 5);
s << ioctl(FIONREAD);
s << Get Peer Name;
s << close;`);
  const wire = r.calls.map((c) => [c.method, c.path.replace(/s\d+/, 'ID'), JSON.stringify(c.body)]);
  assert.deepEqual(wire, [
    ['POST', '/sockets', '{"type":"STREAM"}'],
    ['POST', '/sockets/ID/connect', `["127.0.0.1","${echo.port}"]`],
    ['POST', '/sockets/ID/ioctl', '["FIONBIO","0"]'],
    ['POST', '/sockets/ID/send', '["ping\\n"]'],
    ['POST', '/sockets/ID/recv', '{"n":"5"}'],
    ['POST', '/sockets/ID/ioctl', '["FIONREAD"]'],
    ['POST', '/sockets/ID/getpeername', '[]'],
    ['POST', '/sockets/ID/close', '[]'],
  ]);
  assert.deepEqual(r.calls.map((c) => c.answer[1]), Array(8).fill('ok'));
  assert.deepEqual(r.calls[6].answer.slice(2), ['127.0.0.1', String(echo.port)]);
  assert.equal(r.calls[0].label, 'Socket(STREAM)');
  assert.equal(r.calls[3].label, 's << Send("ping\\!n")');
});

test('a string is sent as JMP sends it (~XX is a byte), a blob as its bytes; recv gives a blob', async () => {
  const r = await run(`s = Socket();
s << Connect("localhost", "${echo.port}");
s << Send("GET~0d~0A 100% ~zz ~7 \\!"q\\!"\\!0");
a = s << Recv(100);
s << Send(Char To Blob("~00~01~FF", "ascii~hex"));
b = s << Recv(100);
s << Close();
Print(Type(a[3]), Blob To Char(a[3], "ascii~hex"), Length(a[3]), Hex(b[3]), Length(b[3]));`);
  assert.equal(r.out, '"Blob"\n"GET~0D~0A 100% ~7Ezz ~7E7 ~22q~22~00"\n22\n"0001FF"\n3\n');
  assert.deepEqual(r.calls[2].body, ['GET~0d~0A 100% ~7Ezz ~7E7 "q"~00']);
});

test('Socket(DGRAM), Socket("DGRAM"), Socket(IPV6) and both together', async () => {
  const r = await run(`a = Socket(DGRAM); b = Socket("dgram"); c = Socket(IPV6); d = Socket(DGRAM, IPV6);
c << Bind("::1", 0);
Print(c << Get Sock Name);
Print(a, Type(b));
a << Close(); b << Close(); c << Close(); d << Close();`);
  assert.deepEqual(r.calls.slice(0, 4).map((c) => c.body),
    [{ type: 'DGRAM' }, { type: 'DGRAM' }, { family: 'IPV6' }, { type: 'DGRAM', family: 'IPV6' }]);
  assert.match(r.out, /^\{"getsockname", "ok", "::1", "\d+"\}\nSocket\("s\d+"\)\n"Socket"\n$/);
});

test('an answer that is not ok is a list like any other, for the script to test', async () => {
  const closed = await freePort();
  const r = await run(`s = Socket();
rc = s << Connect("127.0.0.1", ${closed});
Print(rc[1], Starts With(rc[2], "CONNREFUSED: "));
s << Close();
rc = s << Recv(10);
Print(rc[1], Starts With(rc[2], "NOTSOCK: "));
u = Socket(DGRAM);
u << Ioctl(FIONBIO, 1);
Print(Starts With((u << Recv From(10))[2], "WOULDBLOCK: "));
u << Close();`);
  assert.equal(r.out, '"connect"\n1\n"recv"\n1\n1\n');
  assert.equal(r.calls.find((c) => c.answer[1].startsWith('NOTSOCK')).status, 404);
});

test('an accepted socket is a socket object', async () => {
  const r = await run(`srv = Socket();
srv << Bind("127.0.0.1", 0);
srv << Listen();
c = Socket();
c << Connect("127.0.0.1", (srv << Get Sock Name)[4]);
rc = srv << Accept();
Print(rc[1], rc[2], Type(rc[4]));
peer = rc[4];
c << Send("over");
Print(Blob To Char((peer << Recv(10))[3]));
peer << Close(); c << Close(); srv << Close();`);
  assert.equal(r.out, '"accept"\n"ok"\n"Socket"\n"over"\n');
});

test('Stop cancels a recv that waits, and the wait takes no byte', { timeout: 20000 }, async (t) => {
  let peer = null;
  const server = await peers.tcpServer((sock) => { peer = sock; });
  t.after(() => server.close());
  const s = await session({ gateway });
  t.after(() => s.close());
  await s.run(`s = Socket(); s << Connect("127.0.0.1", ${server.port})`);
  const waiting = s.run('rc = s << Recv(100); Print("not reached")');
  await new Promise((r) => setTimeout(r, 300));
  s.runner.stop();
  const r = await waiting;
  assert.equal(r.status, 'stopped');
  assert.equal(r.out, '');
  assert.equal(r.calls[0].error, 'stopped');
  peer.write('late');
  const after2 = await s.run('Print(Blob To Char((s << Recv(100))[3])); s << Close()');
  assert.equal(after2.out, '"late"\n');
});

test('a gateway that cannot be reached, or refuses the token, is an error of the script', async () => {
  let r = await runJsl('s = Socket()', { gateway: { base: `http://127.0.0.1:${await freePort()}`, token: '' } });
  assert.equal(r.status, 'error');
  assert.match(r.errors[0].message, /^socket: the gateway could not be reached/);
  r = await runJsl('s = Socket()', { gateway: { base: gateway.base, token: 'wrong' } });
  assert.equal(r.status, 'error');
  assert.match(r.errors[0].message, /^Socket\(\) failed: AUTH: /);
  r = await runJsl('Show(1); x = Socket(STREEM)', { gateway });
  assert.match(r.errors[0].message, /Socket\(\) takes STREAM, DGRAM, IPV4 or IPV6, not STREEM/);
  assert.equal(r.out, '1\n');
});

test('Get Addr Info and Get Name Info answer JMP\'s lists, with JMP\'s names', async () => {
  const r = await run(`Show(Get Addr Info("localhost", 80));
rc = Get Name Info("127.0.0.1", "80");
Print(rc, rc[3][4]);
Print(Get Addr Info("127.0.0.1"));
Print(Get Addr Info("localhost", "nosuchservice")[1]);`);
  assert.equal(r.out, [
    'Get Addr Info("localhost", 80) = {"Get Addr Info", "ok", {"PF_INET", "SOCK_0", "IPPROTO_0", ' +
      '"127.0.0.1", "80"}, {"PF_INET6", "SOCK_0", "IPPROTO_0", "::1", "80"}}',
    '{"Get Name Info", "ok", {"PF_INET", "SOCK_0", "IPPROTO_0", "localhost", "80"}}',
    '"localhost"',
    '{"Get Addr Info", "ok", {"PF_INET", "SOCK_0", "IPPROTO_0", "127.0.0.1", "0"}}',
    '"Get Addr Info"', ''].join('\n'));
  assert.deepEqual(r.calls.map((c) => `${c.method} ${c.path} ${c.status}`), [
    'GET /getaddrinfo?name=localhost&port=80 200',
    'GET /getnameinfo?address=127.0.0.1&port=80 200',
    'GET /getaddrinfo?name=127.0.0.1 200',
    'GET /getaddrinfo?name=localhost&port=nosuchservice 400',
  ]);
  assert.match(r.calls[3].answer[1], /^INVAL: /);
});
