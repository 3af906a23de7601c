// The console's budgets and the qualities a user feels: first load, bundle size, a 1,000-node
// canvas and its drag, streams that survive a server restart without gaps or duplicates, a phone
// screen, the keyboard, labels, dark mode, API errors with their field. Run alone (RUN_SERIAL):
// the budgets are wall-clock times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_KEY, shot, signedIn, suite, until } from './harness.mjs';

let server;
let browser;
let owner;

suite(async (srv, br) => {
  server = srv;
  browser = br;
  owner = (await server.tenantKey('acme', 'owner')).key;
  for (let i = 0; i < 20; i++)
    await server.expect(202, 'POST', '/missions', { key: owner, body: { objective: `Mission ${i}`, priority: 'P2', originatingSpec: 'https://example.com/s' } });
});

// Every form control has an accessible name; every button says what it does.
async function unlabelled(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden' || el.closest('.react-flow__minimap')) continue;
      const named = el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!named) bad.push(el.outerHTML.slice(0, 120));
    }
    for (const el of document.querySelectorAll('button')) if (!(el.textContent.trim() || el.getAttribute('aria-label') || el.getAttribute('title'))) bad.push(el.outerHTML.slice(0, 120));
    return bad;
  });
}

test('first load of the missions view: under 1 s with a cold cache and under 400 KB of compressed JavaScript', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript((key) => sessionStorage.setItem('nf.credential', key), owner);
  const page = await context.newPage();
  let jsBytes = 0;
  page.on('response', async (r) => {
    if (r.url().endsWith('.js')) jsBytes += (await r.body()).length; // the bytes as sent (gzip)
  });
  const started = Date.now();
  await page.goto(server.url + '/');
  await page.locator('[data-testid="missions"] [data-mission]').first().waitFor();
  const ms = Date.now() - started;
  const transferred = await page.evaluate(() =>
    performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'script').reduce((n, e) => n + e.encodedBodySize, 0),
  );
  console.log(`first load: ${ms} ms; JavaScript: ${transferred} bytes compressed (${jsBytes} decoded)`);
  assert.ok(ms < 1000, `first load took ${ms} ms`);
  assert.ok(transferred > 0 && transferred < 400 * 1024, `${transferred} bytes of compressed JavaScript`);
  await context.close();
});

test('a 1,000-node workflow renders in under 2 s and a node drag responds in under 100 ms', async () => {
  const nodes = Array.from({ length: 1000 }, (_, i) => ({ id: `n${i}`, type: 'noop', ...(i ? { inputs: { in: `n${i - 1}.out` } } : {}) }));
  await server.expect(201, 'POST', '/workflows', { key: owner, body: { id: 'big', version: 1, nodes } });
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows');
  await page.getByTestId('workflows').waitFor();
  const started = Date.now();
  await page.goto(server.url + '/#/workflows/big');
  await until(async () => (await page.locator('.react-flow__node').count()) === 1000, '1000 nodes', 10000, 20);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const renderMs = Date.now() - started;
  // The node nearest the middle of the canvas (near an edge, a drag pans the whole view).
  const id = await page.evaluate(() => {
    const pane = document.querySelector('.react-flow__pane').getBoundingClientRect();
    const cx = pane.x + pane.width / 2, cy = pane.y + pane.height / 2;
    let best = null, bestD = Infinity;
    for (const el of document.querySelectorAll('.react-flow__node')) {
      const r = el.getBoundingClientRect();
      const d = Math.hypot(r.x + r.width / 2 - cx, r.y + r.height / 2 - cy);
      if (d < bestD) (bestD = d), (best = el.getAttribute('data-id'));
    }
    return best;
  });
  const node = page.locator(`.react-flow__node[data-id="${id}"]`);
  const box = await node.boundingBox();
  // Latency as the page sees it: from the mousemove event's time stamp to the frame after the
  // node moved (a rAF, then a task: the frame with the new position has been produced).
  await page.evaluate((nid) => {
    window.__lat = [];
    let t = 0;
    addEventListener('mousemove', (e) => (t = e.timeStamp), true);
    const el = document.querySelector(`.react-flow__node[data-id="${nid}"]`);
    new MutationObserver(() => {
      const start = t;
      requestAnimationFrame(() => setTimeout(() => window.__lat.push(performance.now() - start), 0));
    }).observe(el, { attributes: true, attributeFilter: ['style'] });
  }, id);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  // The first move starts the drag (React Flow's threshold); each one after it moves the node.
  await page.mouse.move(box.x + box.width / 2 + 3, box.y + box.height / 2 + 2);
  for (let i = 1; i <= 8; i++) {
    const n = await page.evaluate(() => window.__lat.length);
    await page.mouse.move(box.x + box.width / 2 + i * 12, box.y + box.height / 2 + i * 6);
    await page.waitForFunction((was) => window.__lat.length > was, n, { polling: 'raf' });
  }
  await page.mouse.up();
  const latencies = (await page.evaluate(() => window.__lat)).slice(1).map((x) => Math.round(x)).sort((a, b) => a - b);
  console.log(`1000-node canvas: rendered in ${renderMs} ms; drag latencies ${latencies.join(', ')} ms`);
  await shot(page, 'builder-1000-nodes');
  assert.ok(renderMs < 2000, `rendered in ${renderMs} ms`);
  assert.ok(latencies.length >= 6 && latencies[latencies.length - 1] < 100, `drag latencies ${latencies}`);
  await context.close();
});

for (const signal of ['SIGTERM', 'SIGKILL'])
  test(`a stream dropped by the server's ${signal} resumes from its last event: no gaps, no duplicates`, async () => {
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/events');
  await page.getByLabel('Type').fill('mission.prompted');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByTestId('tail-state').filter({ hasText: 'live' }).waitFor();
  const post = (i) => server.expect(202, 'POST', '/missions', { key: owner, body: { objective: `Resume ${i}`, priority: 'P1', originatingSpec: 'https://example.com/r' } });
  for (let i = 0; i < 3; i++) await post(i);
  await until(async () => (await page.locator('[data-testid="tail"] li').count()) === 3, 'three events');
  // The server goes away and comes back on the same port; events are written meanwhile.
  const port = server.port;
  await server.stop(signal);
  await page.getByTestId('tail-state').filter({ hasText: 'reconnecting' }).waitFor();
  await server.start(port);
  for (let i = 3; i < 6; i++) await post(i);
  await until(async () => (await page.locator('[data-testid="tail"] li').count()) >= 6, 'six events', 30000);
  await page.getByTestId('tail-state').filter({ hasText: 'live' }).waitFor();
  await new Promise((r) => setTimeout(r, 1500));
  const texts = await page.locator('[data-testid="tail"] li').allInnerTexts();
  assert.equal(texts.length, 6, texts.join('\n'));
  assert.equal(new Set(texts).size, 6, 'no event twice');
  await shot(page, `events-${signal}`);
  await context.close();
});

test('the read views work on a 390-pixel-wide phone screen', async () => {
  const { context, page } = await signedIn(browser, server, owner, { width: 390, height: 844 });
  for (const [view, ready] of [
    ['missions', '[data-testid="missions"]'],
    ['ledger', '[data-testid="tree-head"]'],
    ['runs', '[data-testid="runs"]'],
    ['tenants', '[data-testid="tenant"]'],
  ]) {
    await page.goto(server.url + `/#/${view}`);
    await page.locator(ready).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${view} is ${overflow} px wider than the screen`);
    await shot(page, `phone-${view}`);
  }
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('link', { name: 'Ledger' }).click();
  await page.getByTestId('tree-head').waitFor();
  await context.close();
});

test('keyboard only: sign in, skip to content, move between views; every control is labelled', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByLabel('API key or JWT').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'credential');
  await page.keyboard.type(owner);
  await page.keyboard.press('Enter');
  await page.getByTestId('who').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  // Tab to the Ledger link and follow it.
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement.textContent)) === 'Ledger') break;
  }
  await page.keyboard.press('Enter');
  await page.getByTestId('tree-head').waitFor();
  for (const view of ['missions', 'ledger', 'events', 'runs', 'workflows', 'tenants', 'marketplace']) {
    await page.goto(server.url + `/#/${view}`);
    await page.locator('main h1').first().waitFor();
    await page.waitForLoadState('networkidle');
    assert.deepEqual(await unlabelled(page), [], `unlabelled controls in ${view}`);
  }
  await context.close();
});

test('dark mode, and every view rendered for the record', async () => {
  const { context, page } = await signedIn(browser, server, ADMIN_KEY);
  await page.getByLabel('Theme').selectOption('dark');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(15, 18, 22)');
  for (const view of ['missions', 'marketplace', 'workflows', 'runs', 'ledger', 'tenants', 'regions', 'events']) {
    await page.goto(server.url + `/#/${view}`);
    await page.locator('main h1').first().waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, `dark-${view}`);
  }
  await page.goto(server.url + '/#/tenants/acme');
  await page.getByTestId('tenant').waitFor();
  await shot(page, 'tenant');
  await context.close();
});

test('an API error is shown with its message and field, never as a blank page', async () => {
  await server.expect(201, 'POST', '/workflows', { key: owner, body: { id: 'typed', version: 1, inputs: { qty: 'number' }, nodes: [{ id: 'a', type: 'noop' }] } });
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows/typed');
  await page.getByText('Start a run').click();
  await page.getByLabel('Inputs (JSON)').fill('{"qty": "many"}');
  await page.getByRole('button', { name: 'Start run' }).click();
  const alert = page.locator('[role="alert"][data-field="inputs.qty"]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /400/);
  await shot(page, 'api-error');
  await context.close();
});
