/*
 * JMP-style socket scripts, run by the console's interpreter under node against the real
 * gateway (build/sockgate) and real local peers: SPEC section 8's example as it stands
 * (only its port changed), and scripts written for this project in the manner of JMP's
 * examples: a non-blocking GET that polls until CLOSED, a blocking recv loop with a
 * timeout counter and Wait, a one-shot web server, UDP, and callback functions.
 *
 *   SOCKGATE_BUILD=build node --test tests/web/jsl_scripts.test.js
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startGateway, runJsl, session, until } = require('./harness.js');
const peers = require('./peers.js');

let gateway;
before(async () => { gateway = await startGateway(); });
after(async () => { if (gateway) await gateway.stop(); });

/* The script's log, failing the test on any error. */
async function run(source, options = {}) {
  const r = await runJsl(source, { gateway, ...options });
  assert.deepEqual(r.errors, [], `errors running:\n${source}\nlog:\n${r.out}`);
  assert.equal(r.status, 'done', `log:\n${r.out}`);
  return r;
}

test('the SPEC section 8 example runs as written, but for its port', async (t) => {
  const answer = 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n' + 'sockgate '.repeat(5000);
  const server = await peers.fixedAnswerServer(Buffer.from(answer, 'latin1'));
  t.after(() => server.close());
  const r = await run(peers.specExample(server.port));
  assert.equal(r.out, `Length(blob) = ${answer.length}\n`);
  /* Several recv calls, the last answering CLOSED. */
  const recvs = r.calls.filter((c) => c.command === 'recv');
  assert.ok(recvs.length >= 2);
  assert.match(recvs[recvs.length - 1].answer[1], /^CLOSED: /);
});

test('a non-blocking GET polls, waiting on WOULDBLOCK, until CLOSED', async (t) => {
  const body = Array.from({ length: 4000 }, (_, i) => `line ${i}\n`).join('');
  const web = await peers.httpServer({
    /* The answer comes late, so the first polls find nothing. */
    '/slow': (req, res) => setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end(body);
    }, 300),
  });
  t.after(() => web.close());
  const r = await run(`s = Socket();
s << ioctl(FIONBIO, 1);
rc = s << connect("localhost", "${web.port}");
If(rc[2] != "ok", Show(rc); Stop());
s << send("GET /slow HTTP/1.0\\!r\\!nHost: localhost\\!r\\!n\\!r\\!n");
data = Char To Blob("");
polls = 0;
While(1,
	rc = s << recv(1000);
	If(rc[2] == "ok", data = data || rc[3],
		Starts With(rc[2], "WOULDBLOCK"), polls++; Wait(0.02),
		Starts With(rc[2], "CLOSED"), Break(),
		Show(rc); Stop()
	)
);
s << close();
text = Blob To Char(data);
at = Contains(text, "\\!r\\!n\\!r\\!n");
Print(Word(2, text), Substr(text, at + 4) == "${body.replace(/\n/g, '\\!n')}", polls > 0);`);
  assert.equal(r.out, '"200"\n1\n1\n');
});

test('a blocking recv loop with a timeout counter and Wait reads until END', async (t) => {
  const server = await peers.tcpServer((sock) => {
    sock.once('data', () => {
      sock.write('alpha\n');
      setTimeout(() => sock.write('beta\n'), 100);
      setTimeout(() => sock.write('END\n'), 250);
    });
  });
  t.after(() => server.close());
  const r = await run(`s = Socket();
rc = s << Connect("127.0.0.1", ${server.port});
If(rc[2] != "ok", Show(rc); Stop());
s << Send("START\\!n");
got = "";
timeout = 100;
While(timeout-- > 0 & !Contains(got, "END"),
	rc = s << Recv(1000);
	If(rc[2] == "ok", got = got || Blob To Char(rc[3]),
		Show(rc); Break()
	);
	Wait(0.01);
);
s << Close();
Show(got, timeout > 0);`);
  assert.equal(r.out, 'got = "alpha\\!nbeta\\!nEND\\!n"\ntimeout > 0 = 1\n');
});

test('a one-shot web server in JSL answers a real HTTP client', async () => {
  let port = 0;
  let client = null;
  const running = runJsl(`srv = Socket();
srv << Bind("localhost", 0);
port = (srv << Get Sock Name)[4];
srv << Listen();
Write("listening on " || port || "\\!n");
rc = srv << Accept();
If(rc[2] != "ok", Show(rc); Stop());
conn = rc[4];
request = conn << Recv(4000);
Print(Word(2, Blob To Char(request[3])));
body = "hello from JSL";
conn << Send("HTTP/1.0 200 OK\\!r\\!nContent-Type: text/plain\\!r\\!nContent-Length: " ||
	Char(Length(body)) || "\\!r\\!n\\!r\\!n" || body);
conn << Close();
srv << Close();`, {
    gateway,
    onWrite: (text, all) => {
      const m = /listening on (\d+)\n/.exec(all);
      if (m && !client) {
        port = Number(m[1]);
        client = peers.httpGet(`http://127.0.0.1:${port}/from-the-test?x=1`);
      }
    },
  });
  const r = await running;
  assert.deepEqual(r.errors, []);
  assert.equal(r.status, 'done');
  assert.ok(client, `no port in: ${r.out}`);
  assert.deepEqual(await client, { status: 200, body: 'hello from JSL' });
  assert.equal(r.out, `listening on ${port}\n"/from-the-test?x=1"\n`);
});

test('UDP: a socket sends to itself, and to an echo peer', async (t) => {
  const echo = await peers.udpEcho();
  t.after(() => echo.close());
  const r = await run(`u = Socket(DGRAM);
u << Bind("localhost", 0);
port = (u << Get Sock Name)[4];
rc = u << Send To("127.0.0.1", port, Char To Blob("self~00test", "ascii~hex"));
Show(rc);
rc = u << Recv From(100);
Show(Hex(rc[3]), Length(rc[3]), rc[4], rc[5] == port);
u << Send To("127.0.0.1", "${echo.port}", "hello, echo");
rc = u << Recv From(100);
Show(Blob To Char(rc[3]), rc[5]);
u << close;`);
  assert.equal(r.out, ['rc = {"sendto", "ok", ""}', 'Hex(rc[3]) = "73656C660074657374"',
    'Length(rc[3]) = 9', 'rc[4] = "127.0.0.1"', 'rc[5] == port = 1',
    'Blob To Char(rc[3]) = "HELLO, ECHO"', `rc[5] = "${echo.port}"`, ''].join('\n'));
});

test('callbacks: recv(n, "onData") calls the function during Wait, one list at a time', async (t) => {
  let peer = null;
  const server = await peers.tcpServer((sock) => { peer = sock; });
  t.after(() => server.close());
  let onOut = () => {};
  const s = await session({ gateway, onWrite: (text, all) => onOut(all) });
  t.after(() => s.close());
  let r = await s.run(`received = {};
onData = Function({rc},
	Insert Into(received, Blob To Char(rc[3]));
	If(rc[4] != conn, Throw("the list names another socket"));
	Print(N Items(rc), rc[2]);
);
conn = Socket();
conn << Connect("127.0.0.1", ${server.port});
Show(conn << Recv(100, "onData"));`);
  assert.deepEqual(r.errors, []);
  assert.equal(r.out, 'conn << Recv(100, "onData") = {"recv", "ok"}\n');
  await until(() => peer, 5000, 'the connection');
  /* The second piece goes out once the script has armed its second recv. */
  onOut = (all) => {
    if (all.includes('armed')) {
      onOut = () => {};
      peer.write('second');
    }
  };
  const running = s.run(`timeout = 200;
While(N Items(received) < 1 & timeout-- > 0, Wait(0.02));
conn << Recv(100, onData);
Write("armed\\!n");
While(N Items(received) < 2 & timeout-- > 0, Wait(0.02));
Show(received);`);
  peer.write('first');
  r = await running;
  assert.deepEqual(r.errors, []);
  assert.equal(r.out, '4\n"ok"\narmed\n4\n"ok"\nreceived = {"first", "second"}\n');

  /* A callback armed by a script that has ended runs when its event comes (idle). */
  r = await s.run('conn << Recv(100, "onData")');
  assert.equal(r.status, 'done');
  peer.write('third');
  await until(() => s.log().out.includes('"ok"'), 5000, 'the idle callback');
  assert.equal(s.log().out, '4\n"ok"\n');
  assert.deepEqual(s.interp.globals.get('received'), ['first', 'second', 'third']);
});

test('accept with a callback hands over the new socket and the listening one', async (t) => {
  const s = await session({ gateway });
  t.after(() => s.close());
  const r = await s.run(`conns = {};
onConn = Function({rc}, Insert Into(conns, rc));
srv = Socket();
srv << Bind("127.0.0.1", 0);
port = Num((srv << Get Sock Name)[4]);
srv << Listen();
srv << Accept("onConn", 0);
Write(port, "\\!n");`);
  assert.deepEqual(r.errors, []);
  const port = Number(r.out.trim());
  const reply = peers.talk(port, 'hi');
  await until(() => (s.interp.globals.get('conns') || []).length === 1, 5000, 'the accept callback');
  const r2 = await s.run(`rc = conns[1];
Print(rc[1], rc[2], Type(rc[4]), rc[5] == srv);
c = rc[4];
got = c << Recv(10);
c << Send("got " || Blob To Char(got[3]));
c << Close();
srv << Close();`);
  assert.deepEqual(r2.errors, []);
  assert.equal(r2.out, '"accept"\n"ok"\n"Socket"\n1\n');
  assert.equal(await reply, 'got hi');
});
