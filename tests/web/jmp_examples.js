/*
 * Scripts in the manner of JMP's own published socket examples, one for each: the same
 * messages, constants, control flow and quirks (`tcall` for `tCall`, `0 | 1`,
 * `s << <<Char To Blob(...)`, `Show(rc, s << getPeerName)`, `Socket(IPV4)`,
 * `(sk << getSockName)[3]`, `Pat Match(rc[2], "WOULDBLOCK")`, `conskt << close`,
 * `Get Addr Info(...)[3][4]` as a script's last value), aimed at local peers that the
 * tests start. `source` names the JMP page each follows. They are written for this
 * project, not copied: JMP's text is JMP's. To run JMP's own text, put the published
 * scripts in a folder and name it in SOCKGATE_JMP_EXAMPLES (see verbatim() below and
 * web/README.md, "JMP's own examples").
 *
 * Each example: script(ctx) gives the JSL, expect(log, ctx) checks what it wrote (the
 * page's log lines or sockgate-jsl's stdout, one string), and, for a server script,
 * client(ctx) talks to it (under node; in the page, the script's Web() tab does).
 */
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');

const INDEX = 'JMP Scripting Index, Socket (jsl.jmp.com/All%20Categories/Objects/Socket.html)';
const GUIDE = 'JMP Scripting Guide, Extending JMP > Use Sockets in JSL';
const SYNTAX = 'JMP JSL Syntax Reference, JSL Messages > Sockets Messages';

/* The sum of every "<expr> = N" that a chunk-by-chunk Show(Length(...)) wrote. */
function shownLengths(log) {
  return [...log.matchAll(/^Length\([^)]*\) = (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/* A client for a JSL web server: connects (again, until the script listens), sends a
 * GET and resolves with everything the script answers before it closes. */
async function getFromScript(port, resource) {
  for (let tries = 0; ; tries++) {
    try {
      return await new Promise((resolve, reject) => {
        const chunks = [];
        const sock = net.connect(port, '127.0.0.1', () => {
          sock.write(`GET /${resource} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`);
        });
        sock.on('data', (d) => chunks.push(d));
        sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        sock.on('error', reject);
      });
    } catch (e) {
      if (e.code !== 'ECONNREFUSED' || tries > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const examples = [
  {
    name: 'a non-blocking GET polled until CLOSED',
    source: `${INDEX}: the Socket() constructor's example`,
    script: (c) => `// Socket() then << Ioctl(FIONBIO, 1): every Recv answers at once
conn = Socket();
CONN << Ioctl( FIONBIO, 1 );
rc = conn << connect( "localhost", "${c.httpPort}" );
If( rc[2] == "ok",
	conn << <<Char To Blob(
		"GET /index.html HTTP/1.1~0d~0aHost: localhost~0d~0aConnection: Close~0d~0a~0d~0a",
		"ASCII~HEX"
	);
	While( 1,
		reply = conn << Recv( 100000 );
		If(
			reply[2] == "ok",
				Show( Length( reply[3] ) ); // a line per chunk
		,
			Starts With( reply[2], "WOULDBLOCK" ),
				Show( "not yet" ) // nothing has arrived
		,
			Starts With( reply[2], "CLOSED" ),
				Break(); // all of it came
		, // anything else
			Show( reply );
			Stop();
		);
	);
	conn << Close();
, // no connection
	Show( rc );
	Stop();
);`,
    expect(log, c) {
      assert.equal(shownLengths(log), c.answer.length, log);
      assert.doesNotMatch(log, /^reply = /m);
    },
  },
  {
    name: 'a blocking GET read with a timeout counter and Wait',
    source: `${INDEX}: the Connect message's example`,
    script: (c) => `sock = Socket();
rc = sock << connect( "localhost", "${c.httpPort}" );
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
sock << Send(
	Char To Blob(
		"GET /index.html HTTP/1.1~0d~0aHost: localhost~0d~0aConnection: Close~0d~0a~0d~0a",
		"ascii~hex"
	)
);
whole = Char To Blob( "" );
wholetext = "";
tries = 50;
While( tries-- > 0,
	rc = sock << recv( 10000 );
	If(
		rc[2] == "ok",
			whole = whole || rc[3];
			Write( "\\!nchunk received" );
			tries = 50;
	,
		Starts With( rc[2], "CLOSED" ),
			Break();
	,
		Starts With( rc[2], "WOULDBLOCK" ),
			Write( "\\!nwaiting" )
	,
		Show( rc );
		Stop();
	);
	wholetext = Blob To Char( whole, encoding = "utf-8" );
	If( tries == 0,
		Write( "\\!ngave up" );
		Stop();
	);
	Wait( .05 );
);
Show( Length( whole ), Length( wholetext ) == Length( whole ) );`,
    expect(log, c) {
      assert.match(log, /chunk received/);
      /* Show goes on from where Write left the line, as in JMP's log. */
      assert.match(log, new RegExp(`Length\\(whole\\) = ${c.answer.length}$`, 'm'));
      assert.match(log, /^Length\(wholetext\) == Length\(whole\) = 1$/m);
    },
  },
  {
    name: 'the Scripting Guide\'s first GET, one Recv of 1000 bytes',
    source: `${GUIDE}: the example program`,
    script: (c) => `web = Socket( );
web << Connect( "localhost", "${c.httpPort}" );
web << Send( Char To Blob( "GET / HTTP/1.0~0d~0a~0d~0a", "ASCII~HEX" ) );
answer = web << Recv( 1000 );
page = Blob To Char( answer[3] );
Show( page );
web << Close( );`,
    expect(log, c) {
      const first = c.answer.slice(0, 1000).replace(/\r/g, '\\!r').replace(/\n/g, '\\!n');
      assert.ok(log.startsWith(`page = "${first.slice(0, 40)}`), log.slice(0, 200));
    },
  },
  {
    name: 'the names at either end: Show(rc, s << getPeerName) and getSockName',
    source: `${INDEX}: the GetPeerName and GetSockName messages' examples`,
    script: (c) => `peer = Socket();
rc = peer << connect( "localhost", "${c.httpPort}" );
Show( rc, peer << getPeerName );
Show( peer << getSockName );`,
    expect(log, c) {
      assert.match(log, new RegExp(`^rc = \\{"connect", "ok"\\}\npeer << getPeerName = \\{"getpeername", "ok", "127\\.0\\.0\\.1", "${c.httpPort}"\\}\n`));
      assert.match(log, /^peer << getSockName = \{"getsockname", "ok", "127\.0\.0\.1", "\d+"\}$/m);
    },
  },
  {
    name: 'the fragments: Accept, AcceptFast, Bind, Close, Recv, Send, Ioctl on new sockets',
    source: `${INDEX}: the Accept, Accept Fast, Bind, Close, Recv, Send and Ioctl messages' examples`,
    script: (c) => `a = Socket();
Show( a << accept() );
b = Socket();
Show( b << AcceptFast() );
d = Socket();
Show( d << bind( "localhost", "${c.freePort}" ) );
e = Socket();/* not used */ e << Close();
f = Socket();
Show( f << recv( 1000 ) );
g = Socket();
Show( g << Send( Char To Blob( "Hello" ) ) );
h = Socket();
h << Ioctl( FIONBIO, 0 | 1 );
Show( h << Ioctl( FIONREAD ) );`,
    expect(log) {
      /* Real sockets, answered as the OS answers: no listen, no peer. */
      assert.match(log, /^a << accept\(\) = \{"accept", "INVAL: /m);
      assert.match(log, /^b << AcceptFast\(\) = \{"acceptfast", "INVAL: /m);
      assert.match(log, /^d << bind\("localhost", "\d+"\) = \{"bind", "ok"\}$/m);
      assert.match(log, /^f << recv\(1000\) = \{"recv", "NOTCONN: /m);
      assert.match(log, /^g << Send\(Char To Blob\("Hello"\)\) = \{"send", "PIPE: /m);
      assert.match(log, /^h << Ioctl\(FIONREAD\) = \{"ioctl", "ok", "0"\}$/m);
    },
  },
  {
    name: 'a one-request web server: bind, Listen, a polled accept, rc[4], Regex, Send, close',
    source: `${INDEX}: the Listen message's example`,
    script: (c) => `sk = Socket( IPV4 );
rc = sk << bind( "localhost", "${c.freePort}" );
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
rc = sk << Ioctl( "FIONBIO", 1 );
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
Write( "\\!nlistening on ", (sk << getSockName)[3] );
sk << Listen();

Web( "http://localhost:${c.freePort}/someResource" );

conskt = Empty();
For( i = 1, i < 200, i++,
	Wait( 0.1 );
	rc = sk << accept();
	If( Starts With( rc[2], "WOULDBLOCK" ),
		polled = i
	,
		If( rc[2] == "ok",
			remoteaddr = rc[3];
			Write( "\\!nConnection from ", remoteaddr );
			conskt = rc[4];
			Break();
		,
			Show( rc );
			Stop();
		)
	);
);
sk << Close();
If( Is Empty( conskt ),
	Write( "\\!nNo one came.\\!n" );
	Stop();
);
blob = Char To Blob( "" );
blobtext = "";
timeout = 50;
While( timeout-- > 0,
	rc = conskt << recv( 10000 );
	If(
		rc[2] == "ok",
			blob = blob || rc[3];
	,
		Starts With( rc[2], "WOULDBLOCK" ),
			Write( "\\!n..." ),
		Show( rc );
		Stop();
	);
	blobtext = Blob To Char( blob, encoding = "utf-8" );
	If( Right( blobtext, 4 ) == "\\!r\\!n\\!r\\!n",
		Break()
	);
	If( timeout == 0,
		Write( "\\!nno request" );
		Stop();
	);
	Wait( 0.1 );
);
Write( "\\!n", Word( 1, blobtext, "\\!r\\!n" ) );
requested = Regex( blobtext, "^GET /([^ ]*)", "\\1" );
conskt << Send(
	Char To Blob(
		"HTTP/1.0 200 OK\\!nContent-Type: text/html\\!n\\!n<html><body><h1>You asked for " ||
		requested || ".</h1>Served by a JSL script.</body></html>"
	)
);
conskt << close;`,
    client: (c) => getFromScript(c.freePort, 'someResource'),
    expect(log, c, answer) {
      assert.match(log, /^listening on 127\.0\.0\.1$/m);
      assert.match(log, /^Connection from /m);
      assert.match(log, /^GET \/someResource HTTP\/1\.1$/m);
      if (answer !== undefined) {
        assert.match(answer, /^HTTP\/1\.0 200 OK\n/);
        assert.match(answer, /<h1>You asked for someResource\.<\/h1>/);
      }
    },
  },
  {
    name: 'a datagram to itself: bind, a recvFrom that would block, sendTo, recvFrom',
    source: `${INDEX}: the RecvFrom message's example`,
    script: (c) => `rx = Socket( DGRAM );
tx = Socket( DGRAM );
rc = rx << bind( "127.0.0.1", "${c.freePort}" );
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
rc = rx << ioctl( FIONBIO, 1 );
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
rc = rx << recvFrom( 100 );
If( !Pat Match( rc[2], "WOULDBLOCK" ),
	Show( rc );
	Stop();
);
rc = tx << sendTo( "127.0.0.1", "${c.freePort}", Char To Blob( "datagram to myself" ) );
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
rc = rx << recvFrom( 100 );
If( Pat Match( rc[2], "WOULDBLOCK" ),
	Wait( 1 );
	rc = rx << recvFrom( 100 );
);
If( rc[2] != "ok",
	Show( rc );
	Stop();
);
Show( rc );
said = Blob To Char( rc[3] );
rc = rx << Close();
rc = tx << Close();
Show( said );`,
    expect(log) {
      assert.match(log, /^rc = \{"recvfrom", "ok", Char To Blob\("datagram to myself", "ascii~hex"\), "127\.0\.0\.1", "\d+"\}$/m);
      assert.match(log, /^said = "datagram to myself"$/m);
    },
  },
  {
    name: 'name look-ups printed: Get Addr Info with and without a port, Get Name Info',
    source: `${GUIDE} > Socket-Related Commands`,
    script: (c) => `Print( Get Addr Info( "localhost" ) );
Print( Get Addr Info( "localhost", "${c.httpPort}" ) );
Print( Get Name Info( "127.0.0.1" ) );`,
    expect(log, c) {
      const lines = log.split('\n');
      assert.match(lines[0], /^\{"Get Addr Info", "ok", \{"PF_INET", "SOCK_0", "IPPROTO_0", "127\.0\.0\.1", "0"\}/);
      assert.match(lines[1], new RegExp(`^\\{"Get Addr Info", "ok", \\{"PF_INET", "SOCK_0", "IPPROTO_0", "127\\.0\\.0\\.1", "${c.httpPort}"\\}`));
      assert.equal(lines[2], '{"Get Name Info", "ok", {"PF_INET", "SOCK_0", "IPPROTO_0", "localhost", "0"}}');
    },
  },
  {
    name: 'Get Addr Info(name)[3][4] as the last value of a script',
    source: `JMP Scripting Index, Get Addr Info (jsl.jmp.com, Utility functions)`,
    script: () => 'Get Addr Info( "localhost" )[3][4];',
    expect(log) { assert.equal(log, '"127.0.0.1"\n'); },
  },
  {
    name: 'Get Name Info(address)[3][4] as the last value of a script',
    source: `JMP Scripting Index, Get Name Info (jsl.jmp.com, Utility functions)`,
    script: () => 'Get Name Info( "127.0.0.1" )[3][4];',
    expect(log) { assert.equal(log, '"localhost"\n'); },
  },
  {
    name: 'a recv with a callback function and a timeout, answered while the script waits',
    source: `${SYNTAX}: skt<<Recv(n, <callback, timeout>)`,
    script: (c) => `arrived = Function( {rc}, Show( rc[1], rc[2], Blob To Char( rc[3] ) ) );
s = Socket();
s << Connect( "localhost", "${c.greetPort}" );
s << Recv( 100, "arrived", 5 );
Wait( 2 );
s << Close();`,
    expect(log) {
      assert.match(log, /^rc\[1\] = "recv"\nrc\[2\] = "ok"\nBlob To Char\(rc\[3\]\) = "hello from the peer\\!n"$/m);
    },
  },
  {
    name: 'the Syntax Reference\'s send((...) has one parenthesis too many: an error, as in JMP',
    source: `${SYNTAX}: the note on send (\`skt<<send((...);\`)`,
    script: () => 's = Socket();\ns<<send(("PING~0d~0a");\n',
    error: /^3:1: syntax error: expected '\)' to close the '\(' at 2:8, found the end of the input$/,
    expect(log) { assert.equal(log, ''); },
  },
];

/*
 * JMP's own published scripts, read from a folder (SOCKGATE_JMP_EXAMPLES) that holds
 * them as published, one file each, named as below. Only the host and port they name
 * are changed, by the substitutions listed; each must change the script, so a file that
 * is not the published one fails loudly rather than passing untested.
 */
function verbatim(dir) {
  const read = (file) => fs.readFileSync(path.join(dir, file), 'utf8');
  const swap = (text, file, pairs) => {
    let out = text;
    for (const [from, to] of pairs) {
      assert.ok(out.includes(from), `${file}: "${from}" is not in it; is it JMP's published script?`);
      out = out.split(from).join(to);
    }
    return out;
  };
  const jmpHost = (c) => [['"www.jmp.com", "80"', `"localhost", "${c.httpPort}"`]];
  const byName = {
    'socket.jsl': { like: 0, pairs: (c) => [...jmpHost(c), ['Host: www.jmp.com', 'Host: localhost']] },
    'connect.jsl': { like: 1, pairs: (c) => [...jmpHost(c), ['Host: www.jmp.com', 'Host: localhost']] },
    'use-sockets-in-jsl.jsl': { like: 2, pairs: (c) => [['"www.jmp.com", "80"', `"localhost", "${c.httpPort}"`]] },
    'getpeername.jsl': { like: 3, pairs: jmpHost },
    'getsockname.jsl': { like: 3, pairs: jmpHost },
    'listen.jsl': { like: 5, pairs: (c) => [['8081', String(c.freePort)]] },
    'recvfrom.jsl': { like: 6, pairs: (c) => [['"12345"', `"${c.freePort}"`]] },
    'socket-related-commands.jsl': {
      like: 7, pairs: (c) => [['"www.sas.com", "80"', `"localhost", "${c.httpPort}"`], ['www.sas.com', 'localhost'],
        ['149.173.5.120', '127.0.0.1']],
    },
    'get-addr-info.jsl': { like: 8, pairs: () => [['www.jmp.com', 'localhost']] },
    'get-name-info.jsl': { like: 9, pairs: () => [['149.173.5.120', '127.0.0.1']] },
  };
  const found = [];
  for (const [file, how] of Object.entries(byName)) {
    if (!fs.existsSync(path.join(dir, file))) continue;
    const like = examples[how.like];
    found.push({
      name: `JMP's own ${file}`,
      source: `${dir}/${file}`,
      script: (c) => swap(read(file), file, how.pairs(c)),
      client: like.client,
      /* JMP's texts print their own words; what must hold is what the data says. */
      expect: verbatimChecks[file] || (() => {}),
    });
  }
  return found;
}

const verbatimChecks = {
  'socket.jsl': (log, c) => assert.equal(shownLengths(log), c.answer.length, log),
  'connect.jsl': (log, c) => assert.match(log, new RegExp(`Length\\(blob\\) = ${c.answer.length}$`, 'm')),
  'use-sockets-in-jsl.jsl': (log) => assert.match(log, /^text = "HTTP\/1\.0 200 OK/),
  'getpeername.jsl': (log, c) => assert.match(log, new RegExp(`"getpeername", "ok", "127\\.0\\.0\\.1", "${c.httpPort}"`)),
  'getsockname.jsl': (log) => assert.match(log, /"getsockname", "ok", "127\.0\.0\.1", "\d+"/),
  'listen.jsl': (log, c, answer) => {
    assert.match(log, /^GET \/someResource HTTP\/1\.1$/m);
    if (answer !== undefined) assert.match(answer, /here's the doc for someResource\./);
  },
  'recvfrom.jsl': (log) => assert.match(log, /^result = "this is a test"$/m),
  'socket-related-commands.jsl': (log) => assert.match(log, /^\{"Get Name Info", "ok", \{"PF_INET", "SOCK_0", "IPPROTO_0", "localhost", "0"\}\}$/m),
  'get-addr-info.jsl': (log) => assert.equal(log, '"127.0.0.1"\n'),
  'get-name-info.jsl': (log) => assert.equal(log, '"localhost"\n'),
};

/* The examples to run: ours, and JMP's own when SOCKGATE_JMP_EXAMPLES names them. */
function all() {
  const dir = process.env.SOCKGATE_JMP_EXAMPLES;
  return dir ? [...examples, ...verbatim(dir)] : examples;
}

/* What the examples talk to: an HTTP-like server answering any request with `answer`
 * (big enough to come in several chunks) and closing, a peer that greets, a free port. */
async function peersFor(peers, freePort) {
  const answer = `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n${'JMP example '.repeat(3000)}`;
  const http = await peers.fixedAnswerServer(Buffer.from(answer, 'latin1'));
  const greet = await peers.tcpServer((sock) => sock.write('hello from the peer\n'));
  return {
    ctx: async () => ({ httpPort: http.port, greetPort: greet.port, freePort: await freePort(), answer }),
    close: async () => { await http.close(); await greet.close(); },
  };
}

module.exports = { examples, verbatim, all, peersFor };
