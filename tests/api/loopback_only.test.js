/*
 * Issue 14, point 10, for the tests in JavaScript: they run on the machine's own network,
 * so cluster.js's call() refuses a request that names an address beyond loopback (the C
 * tests that must name one run in a network namespace of their own). This proves the
 * refusal happens, before anything is sent, and that loopback forms pass.
 *
 *   node --test tests/api/loopback_only.test.js
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const c = require('./cluster');

test('the address finder tells remote literals from loopback and unspecified ones', () => {
  for (const remote of ['169.254.169.254', '10.0.0.1', '192.168.1.1', '8.8.8.8', '100.64.0.1',
    'fe80::1', '2001:db8::1', '::ffff:10.0.0.1', 'fd00::2']) {
    const found = c.remoteAddressIn(`["${remote}", 80]`);
    assert.ok(found && remote.includes(found), `${remote}: ${found}`);
  }
  for (const local of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '::1', '::', '::ffff:127.0.0.1',
    'localhost', 'gw1.s1796221598982532', '12:30:00', 'HTTP/1.1 200 OK~0D~0A']) {
    assert.equal(c.remoteAddressIn(`["${local}", 80]`), null, local);
  }
});

test('call() refuses to send a request that names a remote address, in the body or the query', async () => {
  /* A listener that counts connections: none may arrive. */
  let connections = 0;
  const server = net.createServer((s) => { connections++; s.destroy(); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  try {
    await assert.rejects(c.call('POST', `${url}/sockets/s1/connect`, ['169.254.169.254', 80]),
      /names 169\.254\.169\.254, beyond loopback/);
    await assert.rejects(c.call('POST', `${url}/sockets/s1/sendto?address=10%2E0%2E0%2E1&port=9`, 'x'),
      /names 10\.0\.0\.1, beyond loopback/);
    await assert.rejects(c.call('POST', `${url}/sockets/s1/connect`, { socketname: 'fe80::1', port: 80 }),
      /names fe80::1, beyond loopback/);
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
});
