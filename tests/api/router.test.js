/*
 * The scale-out test (SPEC §12): three real gateways (build/sockgate --node gw1..gw3) and
 * a real router in front of them, on loopback — first Debian's HAProxy, then Debian's
 * nginx, each configured by deploy/router-conf.sh. Sockets created through the router
 * spread over the nodes; each is driven through the router against a local TCP peer;
 * each node's events come through the router on /events?node=NAME; after kill -9 of one
 * gateway its sockets answer 503 ["<command>","UNAVAILABLE: ..."] (a wait in progress
 * included) while the others keep working and new sockets avoid it; once it is back,
 * its old ids answer NOTSOCK.
 *
 *   SOCKGATE_BUILD=build node --test tests/api/router.test.js
 */
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const c = require('./cluster');
const { assertSchema } = require('./described');

const NODES = ['gw1', 'gw2', 'gw3'];
const VICTIM = 'gw2';

const nodeOf = (id) => id.slice(0, id.lastIndexOf('.'));

after(c.stopAll);

async function createSockets(router, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await c.call('POST', `${router.url}/sockets`);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body[1], 'ok');
    assert.equal(r.headers.location, `/sockets/${r.body[2]}`);
    ids.push(r.body[2]);
  }
  return ids;
}

/* send then recv through the router: the peer echoes, so the text must come back. */
async function roundTrip(router, id, text) {
  const s = await c.call('POST', `${router.url}/sockets/${id}/send`, [text]);
  assert.deepEqual([s.status, s.body], [200, ['send', 'ok', '']]);
  const r = await c.call('POST', `${router.url}/sockets/${id}/recv`, { n: 1000, timeout: 5 });
  assert.deepEqual([r.status, r.body], [200, ['recv', 'ok', text]]);
}

function assertUnavailable(r, command) {
  assert.equal(r.status, 503, r.text);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.ok(Array.isArray(r.body), r.text);
  assert.equal(r.body.length, 2, r.text);
  assert.equal(r.body[0], command);
  assert.match(r.body[1], /^UNAVAILABLE: .+\.$/);
  assertSchema('ErrorAnswer', r.body);
}

for (const kind of ['haproxy', 'nginx']) {
  test(`three gateways behind ${kind}`, async (t) => {
    const peer = await c.startEchoPeer();
    t.after(() => peer.stop());
    const gateways = {};
    for (const name of NODES) gateways[name] = await c.startGateway(name);
    const router = await c.startRouter(kind, Object.values(gateways));
    t.after(() => c.stop(router.child));
    for (const g of Object.values(gateways)) t.after(() => c.stop(g.child));

    let ids = [];
    await t.test('sockets created through the router spread over the nodes', async () => {
      ids = await createSockets(router, 6);
      const per = {};
      for (const id of ids) per[nodeOf(id)] = (per[nodeOf(id)] || 0) + 1;
      assert.deepEqual(Object.keys(per).sort(), NODES, `ids: ${ids}`);
      for (const n of NODES) assert.ok(per[n] <= 4, `uneven spread: ${JSON.stringify(per)}`);
    });

    await t.test('each socket is driven through the router against a local peer', async () => {
      for (const id of ids) {
        const r = await c.call('POST', `${router.url}/sockets/${id}/connect`,
          { socketname: '127.0.0.1', port: peer.port });
        assert.deepEqual([r.status, r.body], [200, ['connect', 'ok']], id);
        await roundTrip(router, id, `hello from ${id}`);
        const n = await c.call('GET', `${router.url}/sockets/${id}/getsockname`);
        assert.equal(n.body[1], 'ok');
        assert.equal(n.body[2], '127.0.0.1');
        const info = await c.call('GET', `${router.url}/sockets/${id}`);
        assert.equal(info.body.id, id);
        assert.equal(info.body.peer_port, String(peer.port));
      }
      /* ?node=NAME reaches that node's own listing, and only its sockets are in it. */
      for (const name of NODES) {
        const l = await c.call('GET', `${router.url}/sockets?node=${name}`);
        assert.equal(l.status, 200, l.text);
        assert.deepEqual(l.body.sockets.map((s) => s.id).sort(),
          ids.filter((id) => nodeOf(id) === name).sort());
      }
    });

    await t.test("each node's events come through the router on /events?node=NAME", async () => {
      const streams = {};
      for (const name of NODES) {
        streams[name] = await c.openEvents(`${router.url}/events?node=${name}`);
        assert.equal(streams[name].status, 200);
        assert.match(streams[name].headers['content-type'], /^text\/event-stream/);
      }
      try {
        for (const id of ids) {
          const r = await c.call('POST', `${router.url}/sockets/${id}/recv`, { n: 100, callback: 'onData' });
          assert.deepEqual([r.status, r.body], [202, ['recv', 'ok']]);
          const s = await c.call('POST', `${router.url}/sockets/${id}/send`, [`event for ${id}`]);
          assert.equal(s.body[1], 'ok');
          /* Unbuffered: the event arrives while the stream stays open. */
          const ev = await streams[nodeOf(id)].next((e) => e.data[3] === id);
          assert.equal(ev.event, 'onData');
          assert.deepEqual(ev.data, ['recv', 'ok', `event for ${id}`, id]);
        }
        for (const name of NODES) {
          for (const ev of streams[name].events) {
            assert.equal(nodeOf(ev.data[3]), name, `node ${name}'s stream carried ${JSON.stringify(ev)}`);
          }
        }
      } finally {
        for (const s of Object.values(streams)) s.close();
      }
    });

    await t.test('a WebSocket bridge to each node passes through the router, both ways', async () => {
      for (const name of NODES) {
        const id = (await c.call('POST', `${router.url}/sockets?node=${name}`)).body[2];
        assert.equal(nodeOf(id), name);
        const r = await c.call('POST', `${router.url}/sockets/${id}/connect`, ['127.0.0.1', peer.port]);
        assert.deepEqual(r.body, ['connect', 'ok']);
        /* The peer echoes: the bytes went router -> gateway -> peer and back. */
        const ws = await c.webSocketEcho(`${router.url}/sockets/${id}/ws`, `ws ${id}`);
        assert.equal(ws.status, 101, ws.text);
        assert.equal(ws.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
        assert.deepEqual(ws.reply, { opcode: 2, data: `ws ${id}` });
        await c.call('DELETE', `${router.url}/sockets/${id}`);
      }
    });

    await t.test('a wait answers from its gateway, within the router timeouts', async () => {
      const id = ids[0];
      const r = await c.call('POST', `${router.url}/sockets/${id}/recv`, { n: 10, timeout: 1.5 });
      assert.deepEqual([r.status, r.body[0]], [200, 'recv']);
      assert.match(r.body[1], /^TIMEDOUT: /);
    });

    await t.test('a node the router does not know answers 421 MISDIRECTED', async () => {
      const a = await c.call('GET', `${router.url}/sockets?node=gw9`);
      assert.equal(a.status, 421, a.text);
      assert.equal(a.body[0], 'sockets');
      assert.match(a.body[1], /^MISDIRECTED: /);
      const b = await c.call('POST', `${router.url}/sockets/gw9.s1/Recv`, [10]);
      assert.equal(b.status, 421, b.text);
      assert.equal(b.body[0], 'recv');
      assertSchema('ErrorAnswer', a.body);
      assertSchema('ErrorAnswer', b.body);
    });

    const victimIds = () => ids.filter((id) => nodeOf(id) === VICTIM);
    const survivorIds = () => ids.filter((id) => nodeOf(id) !== VICTIM);

    await t.test(`kill -9 of ${VICTIM}: its sockets answer UNAVAILABLE, the others keep working`, async () => {
      const victim = gateways[VICTIM];
      /* A recv waiting on the victim when it dies is answered by the router. */
      const waiting = c.call('POST', `${router.url}/sockets/${victimIds()[0]}/recv`, { n: 10, timeout: 20 });
      await c.sleep(300);
      await c.stop(victim.child, 'SIGKILL');
      assertUnavailable(await waiting, 'recv');

      const check = async () => {
        for (const id of victimIds()) {
          assertUnavailable(await c.call('POST', `${router.url}/sockets/${id}/recv`, [10]), 'recv');
          assertUnavailable(await c.call('GET', `${router.url}/sockets/${id}/getsockname`), 'getsockname');
          assertUnavailable(await c.call('DELETE', `${router.url}/sockets/${id}`), 'close');
        }
        assertUnavailable(await c.call('GET', `${router.url}/events?node=${VICTIM}`), 'events');
        assertUnavailable(await c.call('GET', `${router.url}/sockets?node=${VICTIM}`), 'sockets');
        assertUnavailable(await c.call('POST', `${router.url}/sockets?node=${VICTIM}`), 'socket');
        for (const id of survivorIds()) await roundTrip(router, id, `still here ${id}`);
      };
      await check();
      /* New sockets avoid the dead gateway at once, before any health check notices. */
      const fresh = await createSockets(router, 6);
      assert.ok(fresh.every((id) => nodeOf(id) !== VICTIM), `new sockets: ${fresh}`);
      assert.equal(new Set(fresh.map(nodeOf)).size, 2, `new sockets: ${fresh}`);
      for (const id of fresh) await c.call('DELETE', `${router.url}/sockets/${id}`);
      /* And the same once the router has marked it down: never another node's answer. */
      await c.sleep(2500);
      await check();
    });

    await t.test(`${VICTIM} restarted: its old ids answer NOTSOCK`, async () => {
      gateways[VICTIM] = await c.startGateway(VICTIM, gateways[VICTIM].port);
      t.after(() => c.stop(gateways[VICTIM].child));
      await c.waitFor(`${kind} to use ${VICTIM} again`, async () =>
        (await c.call('GET', `${router.url}/healthz?node=${VICTIM}`)).status === 200);
      for (const id of victimIds()) {
        const r = await c.call('POST', `${router.url}/sockets/${id}/recv`, [10]);
        assert.equal(r.status, 404, r.text);
        assert.equal(r.body[0], 'recv');
        assert.match(r.body[1], /^NOTSOCK: /);
      }
      /* New sockets reach it again: HAProxy once its health check passes, nginx once the
       * 5 s it leaves a failed server alone are over. */
      const reborn = await c.waitFor(`a new socket on ${VICTIM}`, async () => {
        const [id] = await createSockets(router, 1);
        return nodeOf(id) === VICTIM ? id : (await c.call('DELETE', `${router.url}/sockets/${id}`), null);
      }, 15000);
      /* With a new id: the old ones still name nothing, never the new socket. */
      assert.ok(!victimIds().includes(reborn), `${reborn} was given out before the restart`);
      for (const id of victimIds()) {
        const r = await c.call('GET', `${router.url}/sockets/${id}`);
        assert.equal(r.status, 404, r.text);
      }
      /* ?node=NAME picks the gateway of a new socket. */
      for (const name of NODES) {
        const r = await c.call('POST', `${router.url}/sockets?node=${name}`);
        assert.equal(r.status, 201, r.text);
        assert.equal(nodeOf(r.body[2]), name);
      }
    });
  });
}
