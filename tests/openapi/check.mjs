// The HTTP API against its own description, checked by code that shares nothing with the server:
//  1. /openapi.json is a valid OpenAPI 3.1 document (@apidevtools/swagger-parser);
//  2. every operation is driven from the document: requests generated from its schemas (valid
//     ones, and mutated ones: each required field missing, each field of the wrong type, an
//     unknown field, a body that is not JSON, the wrong Content-Type, no credentials, bad path and
//     query values); no answer may be a 5xx, and every JSON answer must validate (ajv, JSON
//     Schema 2020-12) against the schema the document gives for its status (or `default`).
// Usage: node tests/openapi/check.mjs <nexus-forge binary>   (the server runs on 127.0.0.1, port 0)
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: check.mjs <nexus-forge binary>');
  process.exit(2);
}
const ADMIN_KEY = 'nfk_systemtestsplatformadminkey00001';
const dir = mkdtempSync(join(tmpdir(), 'nf-openapi-'));
const config = join(dir, 'nf.json');
writeFileSync(config, JSON.stringify({
  data_dir: join(dir, 'data'),
  http: { listen: '127.0.0.1:0' },
  auth: { platform_admin_key_sha256: createHash('sha256').update(ADMIN_KEY).digest('hex') },
  ledger: { head_every_ms: 50 },
}));

const server = spawn(binary, ['serve', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
server.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
const failures = [];
const fail = (what) => { failures.push(what); if (failures.length <= 40) console.error('FAIL ' + what); };

function stop(code) {
  server.kill('SIGTERM');
  setTimeout(() => { rmSync(dir, { recursive: true, force: true }); process.exit(code); }, 500);
}
setTimeout(() => { console.error('timed out; server log:\n' + stderr); stop(1); }, 240_000).unref();

const base = await new Promise((resolve, reject) => {
  const rl = createInterface({ input: server.stdout });
  rl.once('line', (line) => { try { resolve(JSON.parse(line).listening); } catch (e) { reject(e); } });
  server.once('exit', (c) => reject(new Error('server exited with ' + c + '\n' + stderr)));
});

async function call(method, path, { body, raw, contentType = 'application/json', auth = true } = {}) {
  const headers = {};
  if (auth) headers.Authorization = 'Bearer ' + ADMIN_KEY;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['Content-Type'] = contentType;
  const res = await fetch(base + path, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') || '', text };
}

// ---- 1. the document ----
const docRes = await call('GET', '/openapi.json', { auth: false });
const doc = JSON.parse(docRes.text);
try {
  await SwaggerParser.validate(structuredClone(doc));
} catch (e) {
  fail('openapi.json is not a valid OpenAPI document: ' + e.message);
}
if (doc.openapi !== '3.1.0') fail('openapi version is ' + doc.openapi);
const deref = await SwaggerParser.dereference(structuredClone(doc));
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);

// ---- 2. resources the path parameters can name ----
const tenant = 't-' + randomUUID().slice(0, 8);
const missionId = randomUUID();
await call('POST', '/tenants', { body: { id: tenant, name: 'OpenAPI', plan: 'pro' } });
const key = JSON.parse((await call('POST', `/tenants/${tenant}/keys`, { body: { role: 'developer', name: 'k' } })).text);
const reservation = JSON.parse((await call('POST', `/tenants/${tenant}/reservations`, { body: { kind: 'concurrentRuns', amount: 1 } })).text);
await call('POST', '/missions', { body: { id: missionId, objective: 'openapi', priority: 'P1', originatingSpec: 'https://spec/x' } });
await call('POST', `/missions/${missionId}/artifacts`, {
  body: { artifactId: 'a1', type: 'code', uri: 'https://a/1', checksum: 'sha256:' + 'ab'.repeat(32), reviewer: 'r' },
});
const record = JSON.parse((await call('POST', '/ledger/record', { body: { json: { hello: 'world' }, kind: 'note', missionId } })).text);
const known = {
  id: (path) => (path.startsWith('/tenants') ? tenant : missionId),
  keyId: () => key.keyId || 'k_none',
  reservationId: () => reservation.reservationId || 'r-none',
  sha256: () => record.sha256 || 'ab'.repeat(32),
  index: () => '0',
  topic: () => 'mission.prompts',
};

// ---- request generation from schemas ----
const PATTERNS = {
  '^sha256:[0-9a-f]{64}$': () => 'sha256:' + 'cd'.repeat(32),
  '^[0-9a-f]{64}$': () => 'ef'.repeat(32),
  '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$': () => 't-' + randomUUID().slice(0, 8),
  '^[a-z0-9_-]{1,64}$': () => 'role-' + randomUUID().slice(0, 6),
  '^[a-z0-9._-]{1,64}$': () => 'note',
  '^[0-9]+$': () => '0',
  '^[0-9]{4}-[0-9]{2}$': () => new Date().toISOString().slice(0, 7),
};
function gen(schema, name = '') {
  if (!schema || typeof schema !== 'object') return 'x';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.oneOf) return gen(schema.oneOf[0], name);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out = {};
      const props = schema.properties || {};
      for (const [k, s] of Object.entries(props)) if ((schema.required || []).includes(k) || k !== 'json') out[k] = gen(s, k);
      if (props.data && props.json) delete out.data;  // ledger records take one of the two
      if (!schema.properties && schema.additionalProperties) out.eventsPerDay = gen(schema.additionalProperties);
      return out;
    }
    case 'array': return Array.from({ length: Math.max(1, schema.minItems || 0) }, () => gen(schema.items, name));
    case 'integer': return schema.minimum !== undefined ? schema.minimum : 1;
    case 'number': return schema.minimum !== undefined ? schema.minimum : 1.5;
    case 'boolean': return true;
    case 'string': {
      if (schema.pattern && PATTERNS[schema.pattern]) return PATTERNS[schema.pattern]();
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'uri') return 'https://example.test/spec';
      if (schema.format === 'date-time') return new Date().toISOString();
      if (name === 'missionId') return missionId;
      if (name === 'from' || name === 'to') return new Date(Date.now() + (name === 'to' ? 60_000 : -3_600_000)).toISOString();
      return 'value';
    }
    default: return name === 'json' ? { k: 'v' } : 'x';
  }
}
const wrongValue = (schema) => {
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  return type === 'string' ? 12345 : type === 'object' ? 'not an object' : type === 'array' ? { no: 'array' } : 'not a number';
};

function pathFor(template, params, override = {}) {
  return template.replace(/\{([^}]+)\}/g, (_, n) => encodeURIComponent(override[n] ?? (known[n] ? known[n](template) : 'x')));
}
function queryFor(params, values) {
  const q = params.filter((p) => p.in === 'query' && values[p.name] !== undefined)
    .map((p) => encodeURIComponent(p.name) + '=' + encodeURIComponent(String(values[p.name])));
  return q.length ? '?' + q.join('&') : '';
}

// ---- checking one answer against the document ----
let requests = 0;
const seen = new Map();
function check(op, method, path, what, res) {
  requests++;
  const label = `${method.toUpperCase()} ${path} (${what}) -> ${res.status}`;
  const key = `${method.toUpperCase()} ${op.path} ${res.status}`;
  seen.set(key, (seen.get(key) || 0) + 1);
  if (res.status >= 500) return fail(label + ': a 5xx for ' + what + ': ' + res.text.slice(0, 300));
  const doc = op.op.responses[String(res.status)] || op.op.responses.default;
  if (!doc) return fail(label + ': status not documented and no default');
  if (!res.type.startsWith('application/json')) return;
  const schema = doc.content?.['application/json']?.schema;
  if (!schema) return fail(label + ': JSON answer but no JSON schema documented for ' + res.status);
  let body;
  try { body = JSON.parse(res.text); } catch { return fail(label + ': the body is not JSON'); }
  const validate = ajv.compile(schema);
  if (!validate(body)) fail(label + ': body does not match its schema: ' + ajv.errorsText(validate.errors) + ' body ' + res.text.slice(0, 300));
}

// ---- 3. every operation, valid and mutated ----
const ops = [];
for (const [path, item] of Object.entries(deref.paths)) for (const [method, op] of Object.entries(item)) ops.push({ path, method, op });
// Deletions last, so the resources they remove are there for everything else.
ops.sort((a, b) => (a.method === 'delete') - (b.method === 'delete'));
for (const o of ops) {
  const { path, method, op } = o;
  if (path === '/subscribe' || path === '/ws') continue;  // streams: driven by the system tests
  const params = op.parameters || [];
  const body = op.requestBody?.content?.['application/json']?.schema;
  const validQuery = {};
  for (const p of params) if (p.in === 'query' && p.name !== 'access_token' && (p.required || Math.random() < 0.5)) validQuery[p.name] = gen(p.schema, p.name);
  if (path === '/ledger/proof/inclusion') { delete validQuery.leaf_hash; validQuery.index = 0; }
  if (path === '/ledger/search') { delete validQuery.artifactId; validQuery.missionId = missionId; }
  const target = pathFor(path, params) + queryFor(params, validQuery);
  const send = (what, opts) => call(method.toUpperCase(), opts.target ?? target, opts).then((r) => check(o, method, opts.target ?? target, what, r));

  if (path === '/evidence/blobs/{sha256}' && method === 'put') {
    const bytes = 'blob ' + randomUUID();
    const sha = createHash('sha256').update(bytes).digest('hex');
    await send('valid', { target: `/evidence/blobs/${sha}`, raw: bytes, contentType: 'application/octet-stream' });
    await send('body does not hash to the name', { raw: 'other bytes', contentType: 'application/octet-stream' });
  } else {
    await send('valid', body ? { body: gen(body) } : {});
  }
  await send('no credentials', { auth: false, ...(body ? { body: gen(body) } : {}) });
  for (const p of params) {
    if (p.in === 'path') await send(`path ${p.name} garbage`, { target: pathFor(path, params, { [p.name]: 'zz\u00e9%' }) + queryFor(params, validQuery), ...(body ? { body: gen(body) } : {}) });
    if (p.in === 'query' && p.name !== 'access_token')
      await send(`query ${p.name} wrong`, { target: pathFor(path, params) + queryFor(params, { ...validQuery, [p.name]: 'not-a-valid-value\u00e9' }), ...(body ? { body: gen(body) } : {}) });
  }
  if (body) {
    const good = gen(body);
    for (const f of body.required || []) {
      const b = structuredClone(good);
      delete b[f];
      await send(`without ${f}`, { body: b });
    }
    for (const [f, s] of Object.entries(body.properties || {})) await send(`${f} of the wrong type`, { body: { ...good, [f]: wrongValue(s) } });
    await send('an unknown field', { body: { ...good, noSuchField: 1 } });
    await send('not JSON', { raw: '{"unterminated": ' });
    await send('a JSON array', { raw: '[1,2,3]' });
    await send('wrong Content-Type', { raw: JSON.stringify(good), contentType: 'text/plain' });
    await send('deeply nested', { raw: '['.repeat(200) + ']'.repeat(200) });
  }
}

const operations = ops.filter((o) => o.path !== '/subscribe' && o.path !== '/ws').length;
console.log(`openapi: ${Object.keys(doc.paths).length} paths, ${operations} operations driven, ${requests} requests, ${failures.length} failures`);
if (process.env.NF_OPENAPI_VERBOSE) for (const [k, n] of [...seen].sort()) console.log(`  ${k}  x${n}`);
stop(failures.length ? 1 : 0);
