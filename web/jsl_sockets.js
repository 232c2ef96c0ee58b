/*
 * Socket() and the messages sent to it, as SPEC.md section 8 describes them: each message
 * is one HTTP call to the gateway (`s << recv(100)` is POST /sockets/<id>/recv with
 * ["100"]) whose answer list is the value, with recv's data as a blob and accept's new
 * socket as a socket object, as in JMP. Also the name look-ups (Get Addr Info, Get Name
 * Info, section 13) and the callback events (recv(100, "onData")) that the host hands to
 * deliver().
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('./jsl_values.js'), require('./jsl_format.js'));
  } else {
    root.SockgateJslSockets = factory(root.SockgateJslValues, root.SockgateJslFormat);
  }
}(typeof self !== 'undefined' ? self : this, function (V, F) {
  'use strict';

  const { JslError } = V;

  /* Each command's arguments in JSL's positional order (SPEC section 3), used to name
   * them when a message also has named arguments (connect(..., tls = 1)). */
  const COMMANDS = {
    bind: ['localhost', 'port'],
    listen: ['backlog'],
    accept: ['callback', 'timeout'],
    acceptfast: ['callback', 'timeout'],
    connect: ['socketname', 'port'],
    send: ['stream'],
    sendto: ['address', 'port', 'dgram'],
    recv: ['n', 'callback', 'timeout'],
    recvfrom: ['n', 'callback', 'timeout'],
    getpeername: [],
    getsockname: [],
    ioctl: [],
    close: [],
    starttls: [],
  };
  /* Commands whose answer carries received bytes at element 3. */
  const DATA_COMMANDS = new Set(['recv', 'recvfrom']);
  const ACCEPTS = new Set(['accept', 'acceptfast']);
  /* Where each background command takes its callback name. */
  const CALLBACK_AT = { accept: 0, acceptfast: 0, recv: 1, recvfrom: 1 };
  const SOCKET_KINDS = { stream: 'type', dgram: 'type', ipv4: 'family', ipv6: 'family' };

  function socketObject(interp, id) {
    interp.knownSockets.add(id);
    return new V.JslSocket(id);
  }

  /* Whether an answer is a list of strings (getaddrinfo nests lists of strings). */
  function isAnswer(body) {
    return Array.isArray(body) && body.length >= 2 &&
      body.every((x) => typeof x === 'string' || (Array.isArray(x) && x.every((y) => typeof y === 'string')));
  }

  /*
   * One HTTP call of the run, shown to the host's hooks before it starts and when it
   * ends. Stop cancels it (the run's AbortSignal), which ends the script at once.
   */
  async function http(interp, call) {
    const run = interp.run;
    const hooks = run.hooks;
    Object.assign(call, { status: 0, answer: null, error: null });
    if (hooks.call) hooks.call(call);
    try {
      const reply = await interp.host.request(call.method, call.path, call.body, run.signal);
      call.status = reply.status;
      if (!isAnswer(reply.body)) {
        const text = String(reply.text || '').trim().slice(0, 200);
        call.error = `the gateway answered HTTP ${reply.status}` + (text ? `: ${text}` : ' with no list');
        throw new JslError(`${call.command}: ${call.error}`);
      }
      call.answer = reply.body;
      interp.lastAnswerOk = reply.body[1] === 'ok';
      return reply.body;
    } catch (e) {
      if (run.stopped) {
        call.error = call.error || 'stopped';
        throw new V.StopSignal(true);
      }
      if (e instanceof JslError) throw e;
      call.error = `the gateway could not be reached (${e.message})`;
      throw new JslError(`${call.command}: ${call.error}`);
    } finally {
      if (hooks.answer) hooks.answer(call);
    }
  }

  /*
   * One call of the gateway's API with fetch, for the hosts (the page, node): resolves to
   * {status, body (the parsed JSON, or null), text}; a network failure rejects.
   */
  async function callApi(url, method, headers, body, signal) {
    const h = { ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(url, {
      method, headers: h, signal, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      parsed = null;
    }
    return { status: res.status, body: parsed, text };
  }

  /*
   * The gateways (nodes, SPEC section 12) that a call's socket ids name: "gw2" for
   * gw2.s17..., in the call's path (/sockets/gw2.s17.../recv) or among the strings of its
   * answer (["socket","ok","gw2.s17..."], accept's new socket). Behind a router each node
   * has its own event stream, and a host follows every node its sockets are on.
   */
  const NODE_ID = /^([A-Za-z0-9_.-]+)\.s[0-9]+$/;
  function nodesNamed(path, answer) {
    const ids = [(/^\/sockets\/([^/?]+)/.exec(path) || [])[1] || ''];
    if (Array.isArray(answer)) ids.push(...answer.filter((x) => typeof x === 'string'));
    return ids.map((id) => NODE_ID.exec(id)).filter(Boolean).map((m) => m[1]);
  }

  /* A value as the API takes it: text. Data (send's stream, sendto's dgram) travels as
   * ascii~hex: a blob as the encoding of its bytes; a string as JMP sends one, its
   * ~XX escapes standing for bytes ("GET / HTTP/1.0~0d~0a" ends with CR LF, as JMP's
   * Socket documentation shows) and everything else for itself: a ~ that starts no
   * escape is sent as ~7E and a NUL as ~00 rather than refused by the gateway. */
  function stringAsData(s) {
    return s.replace(/~(?![0-9A-Fa-f]{2})/g, '~7E').replace(/\0/g, '~00');
  }

  function apiValue(interp, v, isData, what) {
    if (V.isNumber(v)) {
      if (Number.isNaN(v)) throw new JslError(`${what} is missing`);
      return String(v);
    }
    if (V.isString(v)) return isData ? stringAsData(v) : v;
    if (V.isBlob(v)) return interp.jsl.encode(v, 'ascii~hex');
    if (V.isSocket(v)) return v.id;
    throw new JslError(`${what} must be a string, a number or a blob, not ${F.formatValue(v)}`);
  }

  /* A message argument: a name that holds no value stands for itself (FIONBIO). */
  async function messageArg(interp, node, command, index) {
    if (node.kind === 'name') {
      const constant = command === 'ioctl' && index === 0 && /^fion(bio|read)$/.test(node.name);
      if (constant || !interp.has(node.name)) return { value: node.text.replace(/\s+/g, '') };
      const v = interp.lookup(node.name);
      /* recv(100, onData) names the function itself: its name is the callback. */
      if (V.isFunction(v)) return { value: node.text.replace(/\s+/g, ''), callback: true };
      return { value: v };
    }
    return { value: await interp.eval(node) };
  }

  function isDataArg(command, index, count) {
    if (command === 'send') return index === 0;
    if (command === 'sendto') return index === count - 1 && (count === 1 || count === 3);
    return false;
  }

  /* The answer as a JSL value: recv's data a blob, accept's new socket an object. */
  function answerValue(interp, command, list) {
    const out = list.map(V.copyValue);
    if (out[1] !== 'ok') return out;
    if (DATA_COMMANDS.has(command) && typeof out[2] === 'string') {
      try {
        out[2] = interp.jsl.decode(out[2], 'ascii~hex');
      } catch (e) {
        /* Keep what the gateway said rather than lose it. */
      }
    }
    if (ACCEPTS.has(command) && typeof out[3] === 'string' && out[3]) out[3] = socketObject(interp, out[3]);
    return out;
  }

  /* target << message(args): the evaluator hands every send node here. */
  async function send(interp, node) {
    const target = await interp.eval(node.target);
    if (!V.isSocket(target)) {
      throw new JslError(`${F.unparse(node.target)} is not a socket: << sends a message to a ` +
        `Socket(), and this is ${F.formatValue(target)}`);
    }
    const msg = node.message;
    const command = msg.name;
    const positional = [];
    const named = {};
    let callback = null;
    const plain = msg.args.filter((a) => !(a.kind === 'assign' && a.op === '=' && a.target.kind === 'name'));
    for (const a of msg.args) {
      const what = `${msg.text}()'s argument ${F.unparse(a)}`;
      if (a.kind === 'assign' && a.op === '=' && a.target.kind === 'name') {
        named[a.target.name] = apiValue(interp, await interp.eval(a.value), false, what);
        continue;
      }
      const i = positional.length;
      const { value, callback: isFn } = await messageArg(interp, a, command, i);
      if (CALLBACK_AT[command] === i && (isFn || V.isString(value))) callback = value;
      positional.push(apiValue(interp, value, isDataArg(command, i, plain.length), what));
    }
    if (callback) {
      /* Listen before arming, so that the event cannot come first. */
      interp.callbacks.add(V.normalName(callback));
      await interp.host.listen(callback);
    }
    let body = positional;
    if (Object.keys(named).length) {
      const names = COMMANDS[command] || [];
      if (positional.length > names.length) {
        throw new JslError(`${msg.text}() with named arguments takes at most ${names.length} others`);
      }
      body = {};
      positional.forEach((v, i) => { body[names[i]] = v; });
      Object.assign(body, named);
    }
    const call = {
      command, label: F.unparse(node), method: 'POST',
      path: `/sockets/${encodeURIComponent(target.id)}/${encodeURIComponent(command)}`,
      body, dataIndex: DATA_COMMANDS.has(command) ? 2 : -1,
    };
    return answerValue(interp, command, await http(interp, call));
  }

  /* Socket(), Socket(DGRAM), Socket("STREAM", IPV6): POST /sockets. */
  async function socket(interp, nodes, node) {
    const spec = {};
    for (const n of nodes) {
      const word = n.kind === 'name' && !interp.has(n.name) ? n.name : await interp.eval(n);
      const key = V.isString(word) ? V.normalName(word) : '';
      if (!(key in SOCKET_KINDS)) {
        throw new JslError(`Socket() takes STREAM, DGRAM, IPV4 or IPV6, not ${F.unparse(n)}`);
      }
      spec[SOCKET_KINDS[key]] = key.toUpperCase();
    }
    const call = { command: 'socket', label: F.unparse(node), method: 'POST', path: '/sockets', body: spec, dataIndex: -1 };
    const answer = await http(interp, call);
    if (answer[1] !== 'ok' || typeof answer[2] !== 'string') {
      throw new JslError(`Socket() failed: ${answer[1]}`);
    }
    return socketObject(interp, answer[2]);
  }

  /* Get Addr Info(name, port) and Get Name Info(address, port): GET /getaddrinfo and
   * /getnameinfo, with JMP's name in element 1. */
  function lookup(endpoint, key, jmpName) {
    return {
      min: 1, max: 2, async fn(interp, [what, port], node) {
        const query = new URLSearchParams();
        query.set(key, apiValue(interp, what, false, `${jmpName}()'s ${key}`));
        if (port !== undefined) query.set('port', apiValue(interp, port, false, `${jmpName}()'s port`));
        const call = { command: endpoint, label: F.unparse(node), method: 'GET', path: `/${endpoint}?${query}`, dataIndex: -1 };
        const answer = (await http(interp, call)).map(V.copyValue);
        answer[0] = jmpName;
        return answer;
      },
    };
  }

  const builtins = {
    socket: { min: 0, max: 2, lazy: true, fn: socket },
    getaddrinfo: lookup('getaddrinfo', 'name', 'Get Addr Info'),
    getnameinfo: lookup('getnameinfo', 'address', 'Get Name Info'),
  };

  /*
   * An event from the gateway's stream (SPEC section 3): when its name is a callback
   * this session armed and it concerns one of its sockets, it is queued for the
   * interpreter, which calls the JSL function during Wait() or when the script is idle.
   * Returns whether it was taken.
   */
  function deliver(interp, eventName, list) {
    if (!interp.callbacks.has(V.normalName(eventName)) || !isAnswer(list)) return false;
    const command = list[0];
    const ids = list.slice(3).filter((x) => typeof x === 'string' && interp.knownSockets.has(x));
    /* An error event may name no socket; one that names sockets must name ours. */
    const ownerAt = ACCEPTS.has(command) ? 4 : 3;
    if (list.length > ownerAt && !ids.length) return false;
    const out = answerValue(interp, command, list);
    for (let i = 3; i < out.length; i++) {
      if (typeof out[i] === 'string' && interp.knownSockets.has(out[i])) out[i] = socketObject(interp, out[i]);
    }
    interp.enqueue({ name: V.normalName(eventName), text: eventName, list: out });
    return true;
  }

  return { builtins, send, deliver, callApi, nodesNamed, DATA_COMMANDS, COMMANDS };
}));
