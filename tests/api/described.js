/*
 * Checks a real answer against server/openapi.json: the request's path and method must
 * be described, the answer's status must be one of that operation's responses, its
 * Content-Type one of that response's media types, and a JSON body must match the
 * response's schema (ajv, JSON Schema 2020-12, which OpenAPI 3.1 uses).
 */
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const doc = require(path.join(__dirname, '..', '..', 'server', 'openapi.json'));

/* OpenAPI keywords (example, contentMediaType...) are not all JSON Schema vocabulary. */
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

const pointer = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map();
function validator(ref) {
  if (!validators.has(ref)) validators.set(ref, ajv.compile({ $ref: ref }));
  return validators.get(ref);
}

/* Follows a $ref inside the document (responses, parameters). */
function deref(obj) {
  while (obj && obj.$ref) {
    obj = obj.$ref.slice(2).split('/').reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return obj;
}

/* The path template that describes a request path ("/sockets/gw1.s5/recv" -> "/sockets/{id}/recv"),
 * command names compared without case as the gateway does. */
function templateOf(urlPath) {
  const segs = urlPath.split('?')[0].split('/');
  const found = Object.keys(doc.paths).find((tpl) => {
    const t = tpl.split('/');
    return t.length === segs.length &&
      t.every((s, i) => (s.startsWith('{') ? segs[i] !== '' : s.toLowerCase() === segs[i].toLowerCase()));
  });
  return found || null;
}

/* Asserts that res ({status, headers, body, text}) is described for method urlPath. */
function assertDescribed(method, urlPath, res) {
  const tpl = templateOf(urlPath);
  const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  /* A path the description does not have (an unknown command or endpoint) is answered
   * as its 404 says, and a method a path does not have as its 405 says. */
  const op = !tpl ? { responses: { 404: { $ref: '#/components/responses/NotFound' } } }
    : doc.paths[tpl][m] || { responses: { 405: { $ref: '#/components/responses/MethodNotAllowed' } } };
  const code = String(res.status);
  const described = op.responses[code] || op.responses.default;
  assert.ok(described, `${method} ${tpl} answered ${code}, which openapi.json does not describe: ${res.text}`);
  const response = deref(described);
  const type = (res.headers['content-type'] || '').split(';')[0].trim();
  if (!response.content) {
    return;
  }
  assert.ok(response.content[type],
    `${method} ${tpl} ${code}: Content-Type ${type} is not described (${Object.keys(response.content)})`);
  if (type !== 'application/json') return;
  const key = op.responses[code] ? code : 'default';
  const ref = described.$ref
    ? `openapi.json#/${pointer(...described.$ref.slice(2).split('/'), 'content', type, 'schema')}`
    : `openapi.json#/${pointer('paths', tpl, m, 'responses', key, 'content', type, 'schema')}`;
  const validate = validator(ref);
  assert.ok(validate(res.body),
    `${method} ${urlPath} ${code} ${res.text}\ndoes not match its schema: ${ajv.errorsText(validate.errors)}`);
}

/* Validates a value against a named schema of components/schemas. */
function assertSchema(name, value) {
  const validate = validator(`openapi.json#/components/schemas/${name}`);
  assert.ok(validate(value), `${JSON.stringify(value)} is not a ${name}: ${ajv.errorsText(validate.errors)}`);
}

module.exports = { doc, assertDescribed, assertSchema, templateOf };
