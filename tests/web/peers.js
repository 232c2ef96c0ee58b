/*
 * Real local peers for the JSL tests, on 127.0.0.1 and free ports: a TCP server that
 * answers as a script tells it, an HTTP server, a UDP echo, and a client that connects
 * to a port a JSL script listens on; and SPEC section 8's example script.
 */
'use strict';

const dgram = require('node:dgram');
const http = require('node:http');
const net = require('node:net');

/* A TCP server; onConnection(sock) decides what it says. */
function tcpServer(onConnection) {
  return new Promise((resolve) => {
    const sockets = new Set();
    const server = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {});
      onConnection(sock);
    });
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      sockets,
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((r) => server.close(r));
      },
    }));
  });
}

/* A TCP server that answers any request with these bytes and closes. */
function fixedAnswerServer(bytes) {
  return tcpServer((sock) => {
    sock.once('data', () => sock.end(bytes));
  });
}

/* An HTTP server; routes maps a path to (req, res) => void. */
function httpServer(routes) {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const route = routes[req.url];
      if (route) return route(req, res);
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found\n');
    });
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      close: () => new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
    }));
  });
}

/* A UDP socket that sends each datagram back upper-cased, to its sender. */
function udpEcho() {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, from) => {
      sock.send(Buffer.from(msg.toString('latin1').toUpperCase(), 'latin1'), from.port, from.address);
    });
    sock.bind(0, '127.0.0.1', () => resolve({
      port: sock.address().port,
      close: () => new Promise((r) => sock.close(r)),
    }));
  });
}

/* Connects to 127.0.0.1:port, sends `text`, and resolves with all it reads until the
 * other side closes. */
function talk(port, text) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
  });
}

/* An HTTP GET; resolves with {status, body}. */
function httpGet(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

/* SPEC.md section 8's example script, word for word but for the port it connects to. */
function specExample(port) {
  return `tCall = Socket();
rc = tCall << connect("localhost", "${port}");
If(rc[2] != "ok", Show(rc); Stop());
tCall << Send(Char To Blob("GET / HTTP/1.0~0d~0a~0d~0a", "ascii~hex"));
blob = Char To Blob("");
While(1,
    rc = tCall << recv(10000);
    If(rc[2] == "ok", blob = blob || rc[3],
       Starts With(rc[2], "CLOSED"), Break(),
       Show(rc); Stop());
);
Show(Length(blob));`;
}

module.exports = { tcpServer, fixedAnswerServer, httpServer, udpEcho, talk, httpGet, specExample };
