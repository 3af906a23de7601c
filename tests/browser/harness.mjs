// What the console's browser tests share: a real `nexus-forge serve` on 127.0.0.1 (stopped when
// the tests end), API calls with Node's fetch, and Debian's Chromium driven by playwright-core
// (nothing is downloaded: the browser is /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(repo, 'console/package.json'));
export const { chromium } = require('playwright-core');

export const ADMIN_KEY = 'nfk_browsertestsplatformadminkey0001';
export const binary = process.env.NF_BINARY ?? path.join(repo, 'build/apps/nexus-forge/nexus-forge');
export const outDir = process.env.NF_BROWSER_OUT ?? path.join(repo, 'tests/browser/output');
export const browserPath = process.env.NF_CHROMIUM ?? '/usr/bin/chromium';

export class Server {
  constructor(extraConfig = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nf-browser-'));
    this.config = path.join(this.dir, 'nf.json');
    const cfg = {
      data_dir: path.join(this.dir, 'data'),
      ledger: { head_every_ms: 50 },
      ...extraConfig,
      auth: { platform_admin_key_sha256: createHash('sha256').update(ADMIN_KEY).digest('hex'), ...extraConfig.auth },
    };
    fs.writeFileSync(this.config, JSON.stringify(cfg));
  }
  // Starts serve on `port` (0: any free one) and resolves once it listens.
  async start(port = 0) {
    this.proc = spawn(binary, ['serve', '--config', this.config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-20000)));
    const lines = readline.createInterface({ input: this.proc.stdout });
    const first = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start: ${this.stderr}`)), 60000);
      lines.once('line', (l) => (clearTimeout(t), resolve(l)));
      this.proc.once('exit', (code) => reject(new Error(`serve exited ${code}: ${this.stderr}`)));
    });
    const m = first.match(/^listening on (http:\/\/127\.0\.0\.1:(\d+))$/);
    if (!m) throw new Error(`unexpected first line: ${first}`);
    this.url = m[1];
    this.port = Number(m[2]);
    return this;
  }
  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
    await exited;
    clearTimeout(t);
  }
  remove() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
  async api(method, target, { body, key = ADMIN_KEY, headers = {} } = {}) {
    const res = await fetch(this.url + target, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json, text, headers: res.headers };
  }
  async expect(status, method, target, options) {
    const r = await this.api(method, target, options);
    const wanted = Array.isArray(status) ? status : [status];
    if (!wanted.includes(r.status)) throw new Error(`${method} ${target}: ${r.status} ${r.text.slice(0, 500)}`);
    return r.json;
  }
  // A tenant and a key of `role` in it, usable once the directory shows it.
  async tenantKey(id, role) {
    if ((await this.api('GET', `/tenants/${id}`)).status === 404) await this.expect([201, 202], 'POST', '/tenants', { body: { id, name: id.toUpperCase(), plan: 'pro' } });
    const created = await until(async () => {
      const r = await this.api('POST', `/tenants/${id}/keys`, { body: { role, name: `${role} key` } });
      return r.status === 201 || r.status === 202 ? r.json : null;
    }, `a ${role} key of ${id}`);
    await until(async () => (await this.api('GET', '/session', { key: created.key })).status === 200, `key ${created.keyId} usable`);
    return created;
  }
}

export async function until(fn, what, timeoutMs = 20000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function launch() {
  return chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

// A page signed in with `key` (a fresh context: its own sessionStorage and cache).
export async function signedIn(browser, server, key, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(server.url + '/');
  await page.getByLabel('API key or JWT').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor({ state: 'attached' });
  return { context, page };
}

export async function shot(page, name) {
  fs.mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: true });
}

// A test file's server and browser: started before its tests, stopped after them; `ready` gets
// both (and does the file's own setup).
export function suite(ready, extraConfig = {}) {
  let server;
  let browser;
  before(async () => {
    server = await new Server(typeof extraConfig === 'function' ? extraConfig() : extraConfig).start();
    browser = await launch();
    await ready(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    server?.remove();
  });
}

// An identity provider for tests: an ES256 key, its JWKS file, and tokens it signs.
export class IdentityProvider {
  constructor(dir, issuer = 'https://id.example.test') {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    this.issuer = issuer;
    this.kid = 'test-key-1';
    this.jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(this.jwksFile, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'ES256', use: 'sig' }] }));
  }
  token(claims) {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${b64({ alg: 'ES256', typ: 'JWT', kid: this.kid })}.${b64({ iss: this.issuer, ...claims })}`;
    const sig = sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
  }
}
