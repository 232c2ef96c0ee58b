/*
 * The files in deploy/, checked as their own tools check them: the shipped router
 * configurations are what deploy/render-all.sh writes today, HAProxy accepts them
 * (haproxy -c), nginx accepts its own (nginx -t); their timeouts outlast --max-wait and the
 * heartbeat; the compose file parses, agrees with the HAProxy config and passes
 * `docker compose config` where a Compose is installed; every Kubernetes manifest parses
 * and validates against the Kubernetes schemas (kubernetes-models, offline) and, field by
 * field with no unknown field allowed, against the API's models (k8s_strict.py), and the
 * objects fit together: pod names are node names, probes on /healthz, non-root, requests,
 * disruption budgets, the router's servers are the StatefulSet's pods.
 *
 *   node --test tests/api/deploy.test.js
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const YAML = require('yaml');
const c = require('./cluster');

const deploy = path.join(c.root, 'deploy');
const read = (p) => fs.readFileSync(path.join(deploy, p), 'utf8');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sockgate-deploy-'));
fs.chmodSync(tmp, 0o755);

function haproxyCheck(text) {
  const file = path.join(tmp, `check-${Math.random().toString(36).slice(2)}.cfg`);
  fs.writeFileSync(file, text);
  const r = spawnSync(c.sbin('haproxy'), ['-c', '-f', file]);
  assert.equal(r.status, 0, `haproxy -c:\n${r.stdout}${r.stderr}`);
}

/* The HAProxy config a ConfigMap carries. */
function routerConfigOf(docs) {
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'sockgate-router');
  assert.ok(cm, 'no ConfigMap sockgate-router');
  return cm.data['haproxy.cfg'];
}

function yamlDocs(file) {
  return YAML.parseAllDocuments(read(file)).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: ${d.errors}`);
    return d.toJS();
  });
}

const manifests = fs.readdirSync(path.join(deploy, 'kubernetes')).filter((f) => f.endsWith('.yaml'));
const objects = manifests.flatMap((f) => yamlDocs(`kubernetes/${f}`).map((o) => ({ file: f, o })));
const find = (kind, name) => objects.map((x) => x.o).find((o) => o.kind === kind && o.metadata.name === name);

test('the shipped router configurations are what render-all.sh writes', () => {
  execFileSync(path.join(deploy, 'render-all.sh'), [tmp]);
  for (const f of ['haproxy/haproxy.cfg', 'nginx/sockgate.conf', 'kubernetes/router-config.yaml']) {
    assert.equal(read(f), fs.readFileSync(path.join(tmp, f), 'utf8'),
      `deploy/${f} differs from deploy/render-all.sh's output: run it and commit the result`);
  }
});

test('haproxy -c accepts the compose and the Kubernetes router configurations', () => {
  haproxyCheck(read('haproxy/haproxy.cfg'));
  haproxyCheck(routerConfigOf(yamlDocs('kubernetes/router-config.yaml')));
});

test('nginx -t accepts the nginx configuration, in an http block and standalone', () => {
  const main = path.join(tmp, 'nginx-main.conf');
  fs.writeFileSync(main, `events {}\nhttp {\n    include ${path.join(deploy, 'nginx', 'sockgate.conf')};\n}\n`);
  let r = spawnSync(c.sbin('nginx'), ['-t', '-p', tmp, '-e', 'stderr', '-c', main]);
  assert.equal(r.status, 0, `nginx -t:\n${r.stderr}`);
  const standalone = path.join(tmp, 'nginx-standalone.conf');
  fs.writeFileSync(standalone, execFileSync(path.join(deploy, 'router-conf.sh'),
    ['nginx', '--run-dir', tmp, 'a=127.0.0.1:1', 'b=127.0.0.1:2']));
  r = spawnSync(c.sbin('nginx'), ['-t', '-p', tmp, '-e', 'stderr', '-c', standalone]);
  assert.equal(r.status, 0, `nginx -t:\n${r.stderr}`);
});

test('router timeouts outlast --max-wait and the heartbeat', () => {
  for (const [maxWait, heartbeat] of [[30, 15], [5, 120], [600, 15]]) {
    const opts = ['--max-wait', String(maxWait), '--heartbeat', String(heartbeat), 'a=127.0.0.1:1'];
    const h = execFileSync(path.join(deploy, 'router-conf.sh'), ['haproxy', ...opts]).toString();
    const n = execFileSync(path.join(deploy, 'router-conf.sh'), ['nginx', ...opts]).toString();
    const secs = (re, text) => Number(re.exec(text)[1]);
    for (const t of [secs(/timeout server (\d+)s/, h), secs(/timeout client (\d+)s/, h),
      secs(/proxy_read_timeout (\d+)s/, n), secs(/proxy_send_timeout (\d+)s/, n)]) {
      assert.ok(t > maxWait && t > heartbeat, `${t}s with --max-wait ${maxWait} --heartbeat ${heartbeat}`);
    }
    /* SSE unbuffered, WebSockets passed through. */
    assert.match(n, /proxy_buffering off;/);
    assert.match(n, /proxy_set_header Upgrade \$http_upgrade;/);
    assert.match(h, /timeout tunnel 1h/);
  }
});

test('router-conf.sh refuses node names that could break its rules', () => {
  for (const bad of ['a"b=127.0.0.1:1', 'a b=127.0.0.1:1', '=127.0.0.1:1']) {
    const r = spawnSync(path.join(deploy, 'router-conf.sh'), ['haproxy', bad]);
    assert.notEqual(r.status, 0, bad);
  }
});

test('the compose file runs three gateways and HAProxy on loopback, as haproxy.cfg expects', () => {
  const compose = YAML.parse(read('compose.yaml'), { merge: true });
  const servers = [...read('haproxy/haproxy.cfg').matchAll(/^ {4}server (\S+) (\S+) check$/gm)]
    .map((m) => [m[1], m[2]]);
  assert.equal(servers.length, 3);
  for (const [name, address] of servers) {
    const svc = compose.services[name];
    assert.ok(svc, `no service ${name}`);
    assert.equal(svc.network_mode, 'host');
    const args = svc.command;
    assert.equal(args[args.indexOf('--node') + 1], name);
    assert.equal(args[args.indexOf('--listen') + 1], address);
    assert.match(address, /^127\./, 'loopback only');
    /* Behind the router every connection comes from one address: no per-address limit. */
    assert.equal(args[args.indexOf('--max-connections-per-ip') + 1], '0', name);
  }
  assert.equal(compose.services.router.network_mode, 'host');
  assert.match(read('haproxy/haproxy.cfg'), /bind 127\.0\.0\.1:8080/);
});

test('docker compose config accepts the compose file', (t) => {
  const tries = [['docker', ['compose', 'version']], ['docker-compose', ['version']]];
  const found = tries.find(([cmd, args]) => spawnSync(cmd, args).status === 0);
  if (!found) {
    t.skip('no Compose installed (make test installs docker-compose)');
    return;
  }
  const cmd = found[0] === 'docker' ? ['docker', ['compose']] : ['docker-compose', []];
  const r = spawnSync(cmd[0], [...cmd[1], '-f', path.join(deploy, 'compose.yaml'), 'config', '-q']);
  assert.equal(r.status, 0, `${found[0]} config:\n${r.stderr}`);
});

test('every Kubernetes manifest validates against the Kubernetes schemas', () => {
  const models = {
    'v1/Namespace': 'kubernetes-models/v1/Namespace',
    'v1/Service': 'kubernetes-models/v1/Service',
    'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
    'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
    'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
    'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
    'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  };
  assert.ok(objects.length >= 9, `only ${objects.length} objects`);
  for (const { file, o } of objects) {
    const key = `${o.apiVersion}/${o.kind}`;
    assert.ok(models[key], `${file}: no schema for ${key}`);
    const Model = require(models[key])[o.kind];
    assert.doesNotThrow(() => new Model(o).validate(), `${file}: ${o.kind} ${o.metadata.name}`);
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'sockgate', `${file}: ${o.kind}`);
  }
  /* The validator is real: it refuses a broken object. */
  const { StatefulSet } = require('kubernetes-models/apps/v1/StatefulSet');
  const broken = structuredClone(find('StatefulSet', 'sockgate'));
  broken.spec.replicas = 'three';
  assert.throws(() => new StatefulSet(broken).validate());
});

test('every Kubernetes manifest passes a strict check: no field the API does not define', () => {
  /* kubernetes-models (above) lets unknown fields pass, so a misspelt probe would be
   * dropped by the cluster without a word. k8s_strict.py walks every object through the
   * API's own models (Debian's python3-kubernetes) and names any field they lack. */
  const strict = path.join(__dirname, 'k8s_strict.py');
  const files = manifests.map((f) => path.join(deploy, 'kubernetes', f));
  let r = spawnSync(strict, files);
  assert.equal(r.status, 0, `k8s_strict.py:\n${r.stdout}${r.stderr}`);
  /* It is real: a misspelt field, one in the wrong place and a wrong type are refused. */
  const broken = read('kubernetes/gateways.yaml')
    .replace('readinessProbe:', 'readinesProbe:')
    .replace(/^( *)serviceName:/m, '$1servicename:')
    .replace(/^( *)replicas: \d+/m, '$1replicas: three');
  const file = path.join(tmp, 'broken.yaml');
  fs.writeFileSync(file, broken);
  r = spawnSync(strict, [file]);
  assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
  const out = r.stdout.toString();
  assert.match(out, /unknown field "readinesProbe" in V1Container/);
  assert.match(out, /unknown field "servicename" in V1StatefulSetSpec/);
  assert.match(out, /replicas: 'three' is not of type int/);
});

test('the StatefulSet names each gateway after its pod, behind a headless Service', () => {
  const sts = find('StatefulSet', 'sockgate');
  const svc = find('Service', sts.spec.serviceName);
  assert.ok(svc, 'the StatefulSet names no Service');
  assert.equal(svc.spec.clusterIP, 'None');
  assert.deepEqual(svc.spec.selector, sts.spec.template.metadata.labels);
  const [gw] = sts.spec.template.spec.containers;
  const env = Object.fromEntries(gw.env.map((e) => [e.name, e]));
  assert.equal(env.SOCKGATE_NODE.valueFrom.fieldRef.fieldPath, 'metadata.name');
  assert.equal(env.SOCKGATE_TOKEN.valueFrom.secretKeyRef.name, 'sockgate-token');
  assert.equal(env.SOCKGATE_MAX_CONNECTIONS_PER_IP.value, '0');
  assert.ok(sts.spec.template.spec.terminationGracePeriodSeconds > Number(env.SOCKGATE_MAX_WAIT.value));
});

test('gateways and router: probes on /healthz, requests, non-root, disruption budgets', () => {
  for (const [kind, name] of [['StatefulSet', 'sockgate'], ['Deployment', 'sockgate-router']]) {
    const o = find(kind, name);
    const pod = o.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true, name);
    for (const ctr of pod.containers) {
      assert.equal(ctr.readinessProbe.httpGet.path, '/healthz', name);
      assert.equal(ctr.livenessProbe.httpGet.path, '/healthz', name);
      assert.ok(ctr.resources.requests.cpu && ctr.resources.requests.memory, name);
      assert.equal(ctr.securityContext.allowPrivilegeEscalation, false, name);
    }
    const pdb = objects.map((x) => x.o).find((p) => p.kind === 'PodDisruptionBudget' &&
      Object.entries(p.spec.selector.matchLabels).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
    assert.ok(pdb, `no PodDisruptionBudget selects ${name}`);
  }
});

test("the router's servers are the StatefulSet's pods, by their names", () => {
  const sts = find('StatefulSet', 'sockgate');
  const cfg = routerConfigOf(objects.map((x) => x.o));
  const servers = [...cfg.matchAll(/^ {4}server (\S+) (\S+) check/gm)].map((m) => [m[1], m[2]]);
  const expected = Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`);
  assert.deepEqual(servers.map((s) => s[0]), expected);
  for (const [name, address] of servers) {
    assert.equal(address, `${name}.${sts.spec.serviceName}.sockgate.svc.cluster.local:8080`);
  }
  const router = find('Deployment', 'sockgate-router');
  const volume = router.spec.template.spec.volumes.find((v) => v.configMap);
  assert.equal(volume.configMap.name, 'sockgate-router');
  assert.match(cfg, /bind 0\.0\.0\.0:8080/);
  const port = router.spec.template.spec.containers[0].ports[0].containerPort;
  assert.equal(port, 8080);
});
