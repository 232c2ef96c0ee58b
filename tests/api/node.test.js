/*
 * A gateway as one node among several (SPEC §2, §12), on real gateways over real HTTP:
 * ?node=NAME with its own name is accepted on every endpoint; another node's name, or a
 * socket id of another node, answers 421 MISDIRECTED and touches nothing; socket and
 * event ids are never given out twice, not even by a restarted gateway (after SIGTERM or
 * kill -9); a Last-Event-ID from before a restart gets a `restart` event first.
 *
 *   SOCKGATE_BUILD=build node --test tests/api/node.test.js
 */
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const c = require('./cluster');
const { assertDescribed, assertSchema } = require('./described');

after(c.stopAll);

const num = (id) => BigInt(id.slice(id.lastIndexOf('.') + 2));

/* One request of each kind, the way a client behind a router sends them. */
function requests(id) {
  return [
    ['POST', '/sockets', undefined, 201, 'socket'],
    ['GET', '/sockets', undefined, 200, 'sockets'],
    ['GET', `/sockets/${id}`, undefined, 200, 'socket'],
    ['POST', `/sockets/${id}/bind`, ['localhost', 0], 200, 'bind'],
    ['GET', `/sockets/${id}/getsockname`, undefined, 200, 'getsockname'],
    ['POST', `/sockets/${id}/ioctl`, ['FIONBIO', 1], 200, 'ioctl'],
    ['POST', `/sockets/${id}/recv?n=5`, undefined, 200, 'recv'],
    ['GET', '/healthz', undefined, 200, 'healthz'],
    ['GET', '/metrics', undefined, 200, 'metrics'],
    ['GET', '/openapi.json', undefined, 200, 'openapi'],
    ['GET', '/', undefined, 200, 'request'],
    ['HEAD', '/events', undefined, 200, 'events'],
  ];
}

const withNode = (p, node) => `${p}${p.includes('?') ? '&' : '?'}node=${node}`;

test('?node=NAME: its own name is accepted on every endpoint, another answers 421', async () => {
  const gw = await c.startGateway('gw1');
  const id = (await c.call('POST', `${gw.url}/sockets?node=gw1`)).body[2];
  assert.match(id, /^gw1\.s[0-9]+$/);
  for (const [method, p, body, status, name] of requests(id)) {
    const ok = await c.call(method, gw.url + withNode(p, 'gw1'), body);
    assert.equal(ok.status, status, `${method} ${p}?node=gw1: ${ok.text}`);
    if (method !== 'HEAD') assertDescribed(method, withNode(p, 'gw1'), ok);
    for (const other of ['gw2', 'gw', 'gw1x', '']) {
      const no = await c.call(method, gw.url + withNode(p, other), body);
      assert.equal(no.status, 421, `${method} ${p}?node=${other}: ${no.text}`);
      if (method === 'HEAD') continue;
      assert.deepEqual(no.body, [name, 'MISDIRECTED: this gateway is node gw1, not the one the request names.']);
      assertDescribed(method, withNode(p, other), no);
    }
  }
  /* A socket id of another node is misdirected too, whatever the command; one that is
   * no id at all is simply not a socket. */
  for (const [method, p, name] of [['POST', '/sockets/gw2.s5/recv', 'recv'], ['GET', '/sockets/gw2.s5', 'socket'],
    ['DELETE', '/sockets/gw2.s5', 'close'], ['POST', `/sockets/x${id}/send`, 'send'],
    ['GET', '/sockets/s5/getpeername', null]]) {
    const r = await c.call(method, gw.url + p, method === 'POST' ? ['x'] : undefined);
    if (name) {
      assert.equal(r.status, 421, `${method} ${p}: ${r.text}`);
      assert.equal(r.body[0], name);
      assert.match(r.body[1], /^MISDIRECTED: /);
    } else {
      assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
    }
  }
  const weird = await c.call('GET', `${gw.url}/sockets/gw1.x`);
  assert.equal(weird.status, 404, weird.text);
  /* Nothing of that touched the socket: it is still bound and non-blocking, and alone. */
  const info = await c.call('GET', `${gw.url}/sockets/${id}`);
  assert.equal(info.body.state, 'bound');
  assert.equal(info.body.blocking, false);
  /* The event stream of the node it names. */
  const ev = await c.openEvents(`${gw.url}/events?node=gw1`);
  assert.equal(ev.status, 200);
  ev.close();
  const ev2 = await c.openEvents(`${gw.url}/events?node=gw2`);
  assert.equal(ev2.status, 421);
  ev2.close();
});

test('a gateway without --node answers 421 to any ?node= but an empty one', async () => {
  const gw = await c.startGateway('');
  assert.equal((await c.call('POST', `${gw.url}/sockets?node=`)).status, 201);
  const r = await c.call('POST', `${gw.url}/sockets?node=gw1`);
  assert.deepEqual([r.status, r.body], [421, ['socket', 'MISDIRECTED: this gateway has no node name (--node).']]);
});

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`ids are never given out again after a restart (${signal})`, async () => {
    const peer = await c.startEchoPeer();
    let gw = await c.startGateway('gw1');
    const port = gw.port;
    const before = [];
    for (let i = 0; i < 3; i++) before.push((await c.call('POST', `${gw.url}/sockets`)).body[2]);
    /* An event, to have an event id of this run. */
    const s = before[0];
    await c.call('POST', `${gw.url}/sockets/${s}/connect`, ['127.0.0.1', peer.port]);
    await c.call('POST', `${gw.url}/sockets/${s}/recv`, { n: 10, callback: 'onData' });
    await c.call('POST', `${gw.url}/sockets/${s}/send`, ['one']);
    let es = await c.openEvents(`${gw.url}/events`);
    const old = await es.next((e) => e.event === 'onData');
    es.close();

    await c.stop(gw.child, signal);
    gw = await c.startGateway('gw1', port);
    const after = [];
    for (let i = 0; i < 3; i++) after.push((await c.call('POST', `${gw.url}/sockets`)).body[2]);
    for (const id of after) {
      assert.ok(!before.includes(id), `${id} was given out before the restart too`);
      assert.ok(num(id) > before.map(num).reduce((a, b) => (a > b ? a : b)), `${id} after ${before}`);
    }
    /* Old ids name nothing, even now that the new run has sockets. */
    for (const id of before) {
      const r = await c.call('POST', `${gw.url}/sockets/${id}/recv`, [10]);
      assert.equal(r.status, 404, r.text);
      assert.match(r.body[1], /^NOTSOCK: /);
    }

    /* The old event id: a restart event first, then this run's events. */
    const t = after[0];
    await c.call('POST', `${gw.url}/sockets/${t}/connect`, ['127.0.0.1', peer.port]);
    await c.call('POST', `${gw.url}/sockets/${t}/recv`, { n: 10, callback: 'onData' });
    await c.call('POST', `${gw.url}/sockets/${t}/send`, ['two']);
    es = await c.openEvents(`${gw.url}/events`, { 'Last-Event-ID': old.id });
    const restart = await es.next(() => true);
    const fresh = await es.next((e) => e.event === 'onData');
    es.close();
    assert.equal(restart.event, 'restart');
    assertSchema('RestartEvent', restart.data);
    assert.equal(restart.data.node, 'gw1');
    assert.ok(BigInt(restart.id) > BigInt(old.id), `restart ${restart.id} after ${old.id}`);
    assert.ok(BigInt(fresh.id) > BigInt(restart.id), `event ${fresh.id} after ${restart.id}`);
    assert.deepEqual(fresh.data, ['recv', 'ok', 'two', t]);
    /* Resuming from the restart event: not told twice. */
    es = await c.openEvents(`${gw.url}/events`, { 'Last-Event-ID': restart.id });
    const next = await es.next(() => true);
    es.close();
    assert.equal(next.event, 'onData');
    assert.equal(next.id, fresh.id);
    await peer.stop();
  });
}
