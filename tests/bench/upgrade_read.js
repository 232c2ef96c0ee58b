// Reads an upgraded connection for make bench part g: sends an HTTP/1.1 upgrade request
// to 127.0.0.1:PORT (over TLS, certificate unchecked, with "https"), then counts the bytes
// that follow until BYTES have come or SECONDS have passed, and prints
// bytes=N, seconds=S and mb_per_s=R, one a line. Loopback only.
//   node upgrade_read.js http|https PORT BYTES SECONDS
'use strict';
const net = require('node:net');
const tls = require('node:tls');

const [scheme, port, want, limit] = process.argv.slice(2);
const sock = scheme === 'https'
  ? tls.connect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false })
  : net.connect({ host: '127.0.0.1', port: Number(port) });
let header = Buffer.alloc(0);
let bytes = 0;
let start = 0;
function done() {
  const seconds = start ? (Date.now() - start) / 1000 : 0;
  console.log(`bytes=${bytes}\nseconds=${seconds.toFixed(3)}\nmb_per_s=${(bytes / Math.max(seconds, 1e-3) / 1e6).toFixed(2)}`);
  process.exit(0);
}
sock.on(scheme === 'https' ? 'secureConnect' : 'connect', () => {
  sock.write('GET /up HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: sockgate-bench\r\n\r\n');
  setTimeout(done, Number(limit) * 1000);
});
sock.on('data', (chunk) => {
  if (!start) {
    header = Buffer.concat([header, chunk]);
    const end = header.indexOf('\r\n\r\n');
    if (end < 0) return;
    start = Date.now();
    chunk = header.subarray(end + 4);
  }
  bytes += chunk.length;
  if (bytes >= Number(want)) done();
});
sock.on('error', (e) => { console.error(`upgrade_read: ${e.message}`); process.exit(1); });
