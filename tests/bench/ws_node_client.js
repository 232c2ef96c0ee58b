/*
 * The browser-like client of the streaming benchmark (part g of `make bench`): node's
 * built-in WebSocket (the WHATWG API browsers have; node 20 needs
 * --experimental-websocket) reads one HTTP response from nginx through a bridge and
 * counts every byte, as a page would. Prints key=value lines like bench_client's.
 *
 *   node --experimental-websocket ws_node_client.js WS_URL URL_PATH EXPECTED_BYTES
 *   node --experimental-websocket ws_node_client.js --gateway GW_PORT HTTP_PORT URL_PATH EXPECTED_BYTES
 *
 * EXPECTED_BYTES is the whole response (headers included) as the direct read got it; the
 * content itself is checked by the lean client's runs.
 *
 * With --gateway, a sockgate socket is made and connected to 127.0.0.1:HTTP_PORT over REST
 * first, then bridged with /sockets/<id>/ws (the work a page would do too). BENCH_TLS=1
 * does that over https:// and wss:// to localhost (the HTTPS listener; trust its
 * certificate with NODE_EXTRA_CA_CERTS).
 */
'use strict';

async function gatewaySocket(gwPort, httpPort) {
  const tls = process.env.BENCH_TLS === '1';
  const base = tls ? `https://localhost:${gwPort}` : `http://127.0.0.1:${gwPort}`;
  const made = await (await fetch(`${base}/sockets`, { method: 'POST' })).json();
  const id = made[2];
  const conn = await (await fetch(`${base}/sockets/${id}/connect`, {
    method: 'POST', body: JSON.stringify(['127.0.0.1', httpPort]),
  })).json();
  if (conn[1] !== 'ok') throw new Error(`connect: ${JSON.stringify(conn)}`);
  return `${base.replace(/^http/, 'ws')}/sockets/${id}/ws`;
}

async function main() {
  const args = process.argv.slice(2);
  const t0 = performance.now();
  let url;
  let path;
  let expected;
  if (args[0] === '--gateway') {
    url = await gatewaySocket(Number(args[1]), Number(args[2]));
    [path, expected] = [args[3], Number(args[4])];
  } else {
    [url, path, expected] = [args[0], args[1], Number(args[2])];
  }
  const ws = new WebSocket(url, []);
  ws.binaryType = 'arraybuffer';
  let bytes = 0;
  const result = await new Promise((resolve) => {
    const limit = setTimeout(() => resolve({ end: 'timeout' }), 60000);
    ws.onopen = () => ws.send(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`));
    ws.onmessage = (e) => { bytes += e.data.byteLength; };
    ws.onerror = () => {};
    ws.onclose = (e) => { clearTimeout(limit); resolve({ end: 'close', code: e.code }); };
  });
  const seconds = (performance.now() - t0) / 1000;
  const ok = bytes === expected;
  process.stdout.write(`bytes=${bytes}\nbody_ok=${ok ? 1 : 0}\nseconds=${seconds.toFixed(3)}\n`
    + `mb_per_s=${(bytes / 1e6 / seconds).toFixed(1)}\nend=${result.end}\nclose_code=${result.code || 0}\n`);
}

main().catch((e) => { process.stderr.write(`ws_node_client: ${e.stack || e}\n`); process.exit(1); });
