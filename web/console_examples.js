/*
 * The console's own example scripts, written for sockgate in the style of JMP's socket
 * examples. They talk to the gateway that serves the page (its /healthz answers HTTP), so
 * each runs as it is; HOST and PORT are filled in from the page's address.
 */
(function (root) {
  'use strict';

  const EXAMPLES = [
    {
      title: 'HTTP GET, blocking',
      source: `// Ask the gateway's own web server for /healthz and read until it closes.
s = Socket();
rc = s << Connect("HOST", "PORT");
If(rc[2] != "ok", Show(rc); Stop());
s << Send("GET /healthz HTTP/1.0\\!r\\!n\\!r\\!n");
page = Char To Blob("");
While(1,
	rc = s << Recv(4096);
	If(rc[2] == "ok", page = page || rc[3],
		Starts With(rc[2], "CLOSED"), Break(),
		Show(rc); Stop()
	)
);
s << Close();
Show(Length(page));
Print(Blob To Char(page));`,
    },
    {
      title: 'HTTP GET, non-blocking poll',
      source: `// The same request on a non-blocking socket: poll, and Wait() when nothing is there.
s = Socket();
s << Ioctl(FIONBIO, 1);
rc = s << Connect("HOST", "PORT");
If(rc[2] != "ok", Show(rc); Stop());
s << Send("GET /healthz HTTP/1.0\\!r\\!n\\!r\\!n");
text = "";
tries = 200;
While(tries-- > 0,
	rc = s << Recv(1000);
	If(rc[2] == "ok", text = text || Blob To Char(rc[3]),
		Starts With(rc[2], "WOULDBLOCK"), Wait(0.05),
		Starts With(rc[2], "CLOSED"), Break(),
		Show(rc); Break()
	)
);
s << Close;
Show(Word(1, text, "\\!r\\!n"), Regex(text, "Content-Length: (\\d+)", "\\1"));`,
    },
    {
      title: 'UDP to itself',
      source: `// A datagram socket sends to its own port and reads the datagram back.
u = Socket(DGRAM);
u << Bind("localhost", 0);
port = (u << Get Sock Name)[4];
u << Send To("127.0.0.1", port, "hello, datagram");
rc = u << Recv From(100);
Show(Blob To Char(rc[3]), rc[4], rc[5]);
u << Close();`,
    },
    {
      title: 'A web server for one request',
      source: `// Listen, open the page in a new tab, answer one request (when the gateway runs
// on this machine: the tab must reach its 127.0.0.1).
srv = Socket();
srv << Bind("127.0.0.1", 0);
port = (srv << Get Sock Name)[4];
srv << Listen();
srv << Ioctl(FIONBIO, 1);
url = "http://127.0.0.1:" || port || "/";
Write("Waiting for a browser at " || url || "\\!n");
Web(url);
tries = 300;
While(tries-- > 0 & Starts With((rc = srv << Accept())[2], "WOULDBLOCK"), Wait(0.1));
If(rc[2] != "ok", Show(rc); srv << Close(); Stop());
c = rc[4];
request = c << Recv(4000);
Print(Word(1, Blob To Char(request[3]), "\\!r\\!n"));
body = "<h1>Hello from a JSL script</h1>";
c << Send("HTTP/1.0 200 OK\\!r\\!nContent-Type: text/html\\!r\\!nContent-Length: " ||
	Char(Length(body)) || "\\!r\\!n\\!r\\!n" || body);
c << Close();
srv << Close();`,
    },
    {
      title: 'A callback function',
      source: `// recv with a callback: onData is called with the list when the data arrives,
// during Wait() or once the script has ended.
onData = Function({rc}, Show(rc[2]); Print(Blob To Char(rc[3])));
s = Socket();
s << Connect("HOST", "PORT");
s << Recv(1000, "onData");
s << Send("GET /healthz HTTP/1.0\\!r\\!n\\!r\\!n");
Wait(1);
s << Close();`,
    },
  ];

  /* The examples with HOST and PORT of the gateway at `location`. */
  function examplesFor(location) {
    const host = location.hostname.replace(/^\[|\]$/g, '') || 'localhost';
    const port = location.port || (location.protocol === 'https:' ? '443' : '80');
    return EXAMPLES.map((ex) => ({
      title: ex.title,
      source: ex.source.replace(/"HOST"/g, JSON.stringify(host)).replace(/"PORT"/g, JSON.stringify(port)),
    }));
  }

  root.SockgateConsoleExamples = { EXAMPLES, examplesFor };
}(typeof self !== 'undefined' ? self : this));
