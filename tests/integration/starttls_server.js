// An SMTP-like line server with STARTTLS, for the TLS tests: a real TLS peer that starts
// in plaintext and upgrades in the middle of the conversation, as SMTP, IMAP and LDAP do.
// Usage: node starttls_server.js PORT CERT KEY. It listens on 127.0.0.1 only.
//   EHLO x            -> 250-localhost / 250 STARTTLS   (plaintext)
//   STARTTLS          -> 220 Ready to start TLS, then a TLS handshake
//   STARTTLS INJECT   -> the same, with a plaintext "250 INJECTED" line written right
//                        behind the 220 (what an attacker on the path would add)
//   STARTTLS PLAIN    -> 220, and then plaintext instead of a handshake
// Over TLS: EHLO -> "250 secure <protocol>", ECHO text -> text, QUIT -> 221 and close.
'use strict';
const net = require('net');
const tls = require('tls');
const fs = require('fs');

const [port, certFile, keyFile] = process.argv.slice(2);
const context = tls.createSecureContext({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
});

// Calls onLine for every CRLF-ended line of stream, until it returns true.
function lines(stream, onLine) {
  let buf = '';
  const onData = (chunk) => {
    buf += chunk.toString('latin1');
    let end;
    while ((end = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (onLine(line)) {
        stream.removeListener('data', onData);
        return;
      }
    }
  };
  stream.on('data', onData);
}

function serveSecure(secure) {
  secure.on('error', () => {});
  lines(secure, (line) => {
    const word = line.split(' ')[0].toUpperCase();
    if (word === 'EHLO') secure.write(`250 secure ${secure.getProtocol()}\r\n`);
    else if (word === 'ECHO') secure.write(line.slice(5) + '\r\n');
    else if (word === 'QUIT') secure.end('221 bye\r\n');
    else secure.write('500 unknown command\r\n');
    return false;
  });
}

net.createServer((sock) => {
  sock.on('error', () => {});
  sock.write('220 localhost ESMTP sockgate test\r\n');
  lines(sock, (line) => {
    const cmd = line.toUpperCase();
    if (cmd.startsWith('EHLO')) {
      sock.write('250-localhost\r\n250 STARTTLS\r\n');
    } else if (cmd === 'STARTTLS PLAIN') {
      sock.write('220 Ready to start TLS\r\n250 but this is still plaintext\r\n');
    } else if (cmd === 'STARTTLS' || cmd === 'STARTTLS INJECT') {
      sock.write('220 Ready to start TLS\r\n' + (cmd === 'STARTTLS INJECT' ? '250 INJECTED\r\n' : ''));
      serveSecure(new tls.TLSSocket(sock, { isServer: true, secureContext: context }));
      return true;
    } else if (cmd === 'QUIT') {
      sock.end('221 bye\r\n');
    } else {
      sock.write('500 unknown command\r\n');
    }
    return false;
  });
}).listen(Number(port), '127.0.0.1');
