// The web console end to end: a real serve on 127.0.0.1, Debian's Chromium, and the user's
// journeys through the console (see docs/console.md). Screenshots go to $NF_BROWSER_OUT.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { generate } from '../../console/api-types.mjs';
import os from 'node:os';
import { IdentityProvider, repo, shot, signedIn, suite, until } from './harness.mjs';

let server;
let browser;
let acme; // owner key of tenant acme
let viewer; // viewer key of acme
let globex; // developer key of tenant globex

// JWTs from a test identity provider are accepted too (no leeway: expiry is exact).
const idp = new IdentityProvider(fs.mkdtempSync(path.join(os.tmpdir(), 'nf-idp-')));

suite(
  async (srv, br) => {
    server = srv;
    browser = br;
    acme = await server.tenantKey('acme', 'owner');
    viewer = await server.tenantKey('acme', 'viewer');
    globex = await server.tenantKey('globex', 'developer');
  },
  { auth: { jwks_file: idp.jwksFile, jwt_issuer: idp.issuer, jwt_leeway_s: 0 } },
);

const sha = (s) => 'sha256:' + createHash('sha256').update(s).digest('hex');

test('the console is served with its content types, caching and security policy', async () => {
  const page = await fetch(server.url + '/', { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe/);
  const html = await page.text();
  const script = html.match(/src="(\/assets\/main-[^"]+\.js)"/)[1];
  const js = await fetch(server.url + script, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  const again = await fetch(server.url + script, { headers: { 'If-None-Match': js.headers.get('etag') } });
  assert.equal(again.status, 304);
  const missing = await fetch(server.url + '/assets/nothing-here.js');
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'not_found');
});

test("the console's API types are those of this server's /openapi.json", async () => {
  const doc = await (await fetch(server.url + '/openapi.json')).json();
  const committed = fs.readFileSync(path.join(repo, 'console/src/api-schema.d.ts'), 'utf8');
  assert.ok(committed === (await generate(doc)), 'console/src/api-schema.d.ts is stale: run node console/api-types.mjs <server>/openapi.json');
  // Every route the console calls is in the document.
  for (const p of ['/session', '/missions', '/ledger/tree-head', '/workflows/validate', '/marketplace/reviews', '/subscribe', '/tenants/{id}/keys'])
    assert.ok(doc.paths[p], `${p} is not in /openapi.json`);
});

test('a wrong key gets the server\'s message; a good one signs in', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByLabel('API key or JWT').fill('nfk_not_a_key_at_all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /401/);
  await page.getByLabel('API key or JWT').fill(acme.key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await page.getByTestId('who').innerText(), /acme · owner/);
  await context.close();
});

test('a mission created through the API appears live; its artifact gets a verified badge', async () => {
  const { context, page } = await signedIn(browser, server, acme.key);
  await page.getByTestId('live-state').filter({ hasText: 'live' }).waitFor();
  await shot(page, 'missions-empty');
  const objective = `Summarize the quarterly report ${randomBytes(3).toString('hex')}`;
  const created = await server.expect(202, 'POST', '/missions', { key: acme.key, body: { objective, priority: 'P1', originatingSpec: 'https://example.com/spec' } });
  // No reload: the row arrives over SSE.
  await page.getByRole('link', { name: objective }).waitFor({ timeout: 10000 });
  await shot(page, 'missions');

  await server.expect(202, 'POST', `/missions/${created.id}/artifacts`, {
    key: acme.key,
    body: { artifactId: 'report-1', missionId: created.id, type: 'analysis', uri: 'https://example.com/report-1', checksum: sha('report-1'), reviewer: 'ada' },
  });
  await page.getByRole('link', { name: objective }).click();
  const badge = page.getByTestId('badge-report-1');
  await badge.waitFor();
  await until(async () => (await badge.getAttribute('data-state')) === 'verified', 'the verified badge', 20000);
  await shot(page, 'mission');
  await context.close();
});

test('the ledger view checks the tree head signature, and that a later head extends the one seen, in the browser', async () => {
  const record = async (text) => {
    const size = (await server.api('GET', '/ledger/tree-head', { key: acme.key })).json?.tree_size ?? 0;
    await server.expect([201, 202], 'POST', '/ledger/record', { key: acme.key, body: { kind: 'note', json: { text } } });
    await until(async () => (await server.api('GET', '/ledger/tree-head', { key: acme.key })).json?.tree_size > size, 'a larger signed head');
  };
  await record('a first note');
  const { context, page } = await signedIn(browser, server, acme.key);
  await page.goto(server.url + '/#/ledger');
  await page.getByTestId('head-signature').filter({ hasText: 'verified' }).waitFor();
  // The ledger grows; the next look proves in the browser that the new head extends the one seen.
  const seen = await page.evaluate(() => JSON.parse(sessionStorage.getItem('nf.ledger.seenHead')).size);
  await record('grows the log');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.locator('[data-testid="head-consistency"][data-state="extends"]').waitFor();
  assert.match(await page.getByTestId('head-consistency').innerText(), new RegExp(`size ${seen} seen earlier`));
  await until(async () => (await page.locator('[data-testid^="badge-leaf-"][data-state="verified"]').count()) > 0, 'a verified leaf');
  await shot(page, 'ledger');
  await context.close();
});

test('a viewer sees no write actions, and a forged write is refused 403', async () => {
  const { context, page } = await signedIn(browser, server, viewer.key);
  await page.getByTestId('missions').waitFor();
  assert.equal(await page.getByText('New mission').count(), 0);
  await page.locator('[data-mission] a').first().click();
  await page.getByTestId('timeline').waitFor();
  assert.equal(await page.getByText('Record an artifact').count(), 0);
  await page.goto(server.url + '/#/workflows');
  await page.getByTestId('workflows').waitFor();
  assert.equal(await page.getByText('New workflow').count(), 0);
  // The page's own credential, used by hand: the server refuses what the console hid.
  const status = await page.evaluate(async () => {
    const r = await fetch('/missions', {
      method: 'POST',
      headers: { Authorization: `Bearer ${sessionStorage.getItem('nf.credential')}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ objective: 'forged', priority: 'P0', originatingSpec: 'https://example.com' }),
    });
    return r.status;
  });
  assert.equal(status, 403);
  await shot(page, 'viewer-missions');
  await context.close();
});

test('a second tenant sees none of the first tenant\'s data', async () => {
  const { context, page } = await signedIn(browser, server, globex.key);
  await page.getByTestId('missions').waitFor();
  assert.match(await page.getByTestId('missions').innerText(), /No missions yet/);
  const acmeMission = (await server.expect(200, 'GET', '/missions', { key: acme.key })).items[0].id;
  await page.goto(server.url + `/#/missions/${acmeMission}`);
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /404/);
  await context.close();
});

test('a revoked key signs the user out with a message', async () => {
  const temp = await server.tenantKey('acme', 'developer');
  const { context, page } = await signedIn(browser, server, temp.key);
  await server.expect([200, 202], 'DELETE', `/tenants/acme/keys/${temp.keyId}`, { key: acme.key });
  await until(async () => (await server.api('GET', '/session', { key: temp.key })).status === 401, 'the revocation to take effect');
  await page.goto(server.url + '/#/ledger');
  await page.getByText(/Signed out:/).waitFor({ timeout: 20000 });
  await page.getByLabel('API key or JWT').waitFor();
  await shot(page, 'signed-out');
  await context.close();
});

test('an owner creates a key (its secret shown once), defines a role and revokes the key', async () => {
  const { context, page } = await signedIn(browser, server, acme.key);
  await page.goto(server.url + '/#/tenants');
  await page.getByTestId('tenant').waitFor();
  await page.getByLabel('Role of the new key').selectOption('viewer');
  await page.getByLabel('Name of the new key').fill('dashboard screen');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-secret').locator('code').innerText()).trim();
  assert.match(secret, /^nfk_/);
  assert.equal((await server.api('GET', '/session', { key: secret })).json?.roles?.[0], 'viewer');
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.getByText(secret).count(), 0, 'the secret is gone from the page');

  await page.getByLabel('Role name').fill('reader');
  await page.getByLabel(/Permissions/).fill('missions:read ledger:read');
  await page.getByRole('button', { name: 'Define role' }).click();
  const role = page.getByTestId('roles').locator('tr', { hasText: 'reader' });
  await role.waitFor();
  assert.match(await role.innerText(), /ledger:read/);
  assert.match(await role.innerText(), /missions:read/);

  const row = page.locator('tr', { hasText: 'dashboard screen' });
  page.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('revoked').waitFor();
  await until(async () => (await server.api('GET', '/session', { key: secret })).status === 401, 'the key to stop working');
  await shot(page, 'tenant-keys');
  await context.close();
});

test('a JWT signs in as its tenant and roles; when it expires the user is signed out with the reason', async () => {
  const exp = Math.floor(Date.now() / 1000) + 4;
  const jwt = idp.token({ sub: 'ada@acme.example', aud: 'nexus-forge', tenant: 'acme', roles: ['developer'], exp });
  const { context, page } = await signedIn(browser, server, jwt);
  assert.match(await page.getByTestId('who').innerText(), /acme · developer/);
  await page.getByTestId('missions').waitFor();
  await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 1200));
  await page.goto(server.url + '/#/ledger');
  await page.getByText(/Signed out:.*expired/i).waitFor({ timeout: 20000 });
  await context.close();
});
