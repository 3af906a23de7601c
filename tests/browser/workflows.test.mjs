// The console's workflow and marketplace journeys in Debian's Chromium against a real serve:
// building a workflow by drag-and-drop, running and debugging it, resetting a failed run, a stale
// save, and publishing, reviewing and finding an agent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { ADMIN_KEY, shot, signedIn, suite, until } from './harness.mjs';

let server;
let browser;
let owner;

suite(async (srv, br) => {
  server = srv;
  browser = br;
  owner = (await server.tenantKey('acme', 'owner')).key;
});

// Drags from one React Flow handle to another with the mouse.
async function connect(page, from, to) {
  const a = await page.locator(`[data-node="${from.node}"] .react-flow__handle[data-handleid="out:${from.port}"]`).boundingBox();
  const b = await page.locator(`[data-node="${to.node}"] .react-flow__handle[data-handleid="in:${to.port}"]`).boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 8 });
  await page.mouse.up();
}

async function nodeStatus(page, id) {
  return page.locator(`[data-testid="run-graph"] [data-node="${id}"]`).getAttribute('data-status');
}

test('a 3-node workflow built by drag-and-drop is saved, run, and its nodes turn completed', async () => {
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows/new');
  const canvas = page.getByTestId('canvas');
  await canvas.waitFor();
  const box = await canvas.boundingBox();
  for (const [i, x, y] of [
    [1, 0.05, 0.15],
    [2, 0.38, 0.45],
    [3, 0.7, 0.75],
  ]) {
    await page.locator('[data-node-type="noop"]').dragTo(canvas, { targetPosition: { x: box.width * x, y: box.height * y } });
    await page.locator(`[data-node="noop_${i}"]`).waitFor();
  }
  await connect(page, { node: 'noop_1', port: 'out' }, { node: 'noop_2', port: 'in' });
  await connect(page, { node: 'noop_2', port: 'out' }, { node: 'noop_3', port: 'in' });
  await until(async () => (await page.locator('.react-flow__edge').count()) === 2, 'two connections');
  await page.getByLabel('Workflow id').fill('pipeline');
  await until(async () => (await page.getByTestId('validity').getAttribute('data-valid')) === 'true', 'a valid definition');
  await shot(page, 'builder');
  await page.getByRole('button', { name: 'Save as version 1' }).click();
  await page.getByRole('heading', { name: /pipeline/ }).waitFor();
  const saved = await server.expect(200, 'GET', '/workflows/pipeline', { key: owner });
  assert.deepEqual(
    saved.document.nodes.map((n) => [n.id, n.type, n.inputs?.in ?? null]),
    [
      ['noop_1', 'noop', null],
      ['noop_2', 'noop', 'noop_1.out'],
      ['noop_3', 'noop', 'noop_2.out'],
    ],
  );

  await page.getByText('Start a run').click();
  await page.getByRole('button', { name: 'Start run' }).click();
  await page.getByTestId('run-graph').waitFor();
  await until(async () => (await page.getByTestId('run-status').innerText()) === 'completed', 'the run to complete');
  for (const id of ['noop_1', 'noop_2', 'noop_3']) await until(async () => (await nodeStatus(page, id)) === 'completed', `${id} completed`);
  await until(async () => (await page.locator('[data-testid="run-graph"] .react-flow__edge').count()) === 2, 'the run graph draws both connections');
  await page.locator('[data-testid="run-graph"] [data-node="noop_2"]').click();
  await page.getByRole('heading', { name: 'Output' }).waitFor();
  await shot(page, 'run');
  await context.close();
});

test('a debug run steps node by node, then continues to the end', async () => {
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows/pipeline');
  await page.getByText('Start a run').click();
  await page.getByLabel(/Debug/).check();
  await page.getByRole('button', { name: 'Start run' }).click();
  await until(async () => (await page.getByTestId('run-status').innerText()) === 'paused', 'the run to pause');
  assert.equal(await nodeStatus(page, 'noop_1'), 'paused');
  await page.getByRole('button', { name: 'Step' }).click();
  await until(async () => (await nodeStatus(page, 'noop_1')) === 'completed' && (await nodeStatus(page, 'noop_2')) === 'paused', 'a step');
  assert.equal(await nodeStatus(page, 'noop_3'), 'pending');
  await shot(page, 'run-debug');
  await page.getByRole('button', { name: 'Continue' }).click();
  await until(async () => (await page.getByTestId('run-status').innerText()) === 'completed', 'the run to complete');
  await context.close();
});

test('a failed run is reset from a node with a changed input and completes', async () => {
  await server.expect(201, 'POST', '/workflows', {
    key: owner,
    body: {
      id: 'gate',
      version: 1,
      inputs: { ok: 'bool' },
      nodes: [
        { id: 'check', type: 'condition', config: { expression: 'inputs.ok' }, inputs: { value: '${inputs.ok}' } },
        { id: 'done', type: 'noop', inputs: { in: 'check.true' } },
        { id: 'boom', type: 'fail', config: { code: 'refused', message: 'not ok' }, inputs: { in: 'check.false' } },
      ],
    },
  });
  const run = await server.expect(201, 'POST', '/workflows/gate/runs', { key: owner, body: { inputs: { ok: false } } });
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + `/#/runs/${run.runId}`);
  await until(async () => (await page.getByTestId('run-status').innerText()) === 'failed', 'the run to fail');
  assert.equal(await nodeStatus(page, 'boom'), 'failed');
  await page.locator('[data-testid="run-graph"] [data-node="check"]').click();
  await page.getByLabel('Inputs to change on reset (JSON)').fill('{"ok": true}');
  await page.getByRole('button', { name: 'Reset from check' }).click();
  await until(async () => !page.url().includes(run.runId), 'the new run');
  await until(async () => (await page.getByTestId('run-status').innerText()) === 'completed', 'the reset run to complete');
  assert.equal(await nodeStatus(page, 'done'), 'completed');
  await page.getByRole('link', { name: run.runId }).waitFor();
  await context.close();
});

test('saving over a version someone else saved first shows both and overwrites nothing', async () => {
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows/pipeline');
  await page.getByRole('button', { name: 'Save as version 2' }).waitFor();
  // Someone else saves version 2 meanwhile.
  const theirs = (await server.expect(200, 'GET', '/workflows/pipeline', { key: owner })).document;
  await server.expect(201, 'POST', '/workflows', { key: owner, body: { ...theirs, version: 2, nodes: theirs.nodes.slice(0, 2) } });
  await page.getByRole('button', { name: 'Save as version 2' }).click();
  const dialog = page.getByRole('alertdialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Someone saved a newer version/);
  assert.match(await page.getByTestId('diff').innerText(), /noop_3/);
  await shot(page, 'builder-conflict');
  assert.equal((await server.expect(200, 'GET', '/workflows/pipeline', { key: owner })).document.nodes.length, 2, 'their version stands');
  await page.getByRole('button', { name: 'Save mine as version 3' }).click();
  await page.getByText('Saved version 3.').waitFor();
  assert.equal((await server.expect(200, 'GET', '/workflows/pipeline/versions/3', { key: owner })).document.nodes.length, 3);
  await context.close();
});

test('an invalid connection is shown on its node, with the server\'s message', async () => {
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows/new');
  const canvas = page.getByTestId('canvas');
  await canvas.waitFor();
  await page.locator('[data-node-type="condition"]').click();
  await page.locator('[data-node="condition_1"]').waitFor();
  await until(async () => (await page.locator('[data-node="condition_1"].has-problems').count()) === 1, 'the problem on the node');
  assert.match(await page.locator('[data-node="condition_1"]').innerText(), /expression/);
  await context.close();
});

test('an agent is published, approved in the review queue, and found by search', async () => {
  const files = { 'run.sh': Buffer.from('#!/bin/sh\necho ok\n').toString('base64') };
  const manifest = {
    name: 'report-writer',
    version: '1.0.0',
    description: 'writes quarterly reports from spreadsheets',
    category: 'writing',
    protocols: ['nexus'],
    entrypoint: 'run.sh',
    capabilities: ['reports', 'spreadsheets'],
  };
  await server.expect(202, 'POST', '/marketplace/agents', { body: { manifest, files } });
  await until(async () => (await server.api('GET', '/marketplace/agents/report-writer/1.0.0')).json?.status === 'pending_review', 'pending review', 30000);
  const { context, page } = await signedIn(browser, server, ADMIN_KEY);
  await page.goto(server.url + '/#/marketplace');
  await page.getByRole('tab', { name: 'Review queue' }).click();
  const card = page.locator('[data-review="report-writer@1.0.0"]');
  await card.waitFor();
  await card.getByLabel('Feedback').fill('clear and useful');
  await shot(page, 'marketplace-review');
  await card.getByRole('button', { name: 'Approve' }).click();
  await card.waitFor({ state: 'detached' });
  await page.getByRole('tab', { name: 'Search' }).click();
  await context.close();

  // A tenant finds it.
  const tenant = await signedIn(browser, server, owner);
  await tenant.page.goto(server.url + '/#/marketplace');
  await tenant.page.getByLabel('Find agents').fill('quarterly spreadsheets');
  await tenant.page.getByRole('button', { name: 'Search' }).click();
  await until(async () => (await tenant.page.locator('[data-agent="report-writer"]').count()) === 1, 'the agent in the results', 20000, 300);
  assert.match(await tenant.page.locator('[data-agent="report-writer"]').innerText(), /score/);
  await tenant.page.getByRole('button', { name: /writing/ }).waitFor();
  await shot(tenant.page, 'marketplace');
  await tenant.page.locator('[data-agent="report-writer"] a').click();
  await tenant.page.getByTestId('agent-status').filter({ hasText: 'approved' }).waitFor();
  await tenant.page.getByRole('button', { name: 'Copy install command' }).waitFor();
  await shot(tenant.page, 'agent');
  await tenant.context.close();
});

test('a run waiting at an approval is approved from its page and completes', async () => {
  await server.expect(201, 'POST', '/workflows', {
    key: owner,
    body: {
      id: 'signoff',
      version: 1,
      nodes: [
        { id: 'ask', type: 'approval', config: { message: 'ship it?' } },
        { id: 'ship', type: 'noop', inputs: { in: 'ask.approved' } },
      ],
    },
  });
  const run = await server.expect(201, 'POST', '/workflows/signoff/runs', { key: owner, body: {} });
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + `/#/runs/${run.runId}`);
  await until(async () => (await nodeStatus(page, 'ask')) === 'waiting', 'the approval to wait');
  await page.getByLabel('Comment').fill('looks right');
  await page.getByRole('button', { name: 'Approve' }).click();
  await until(async () => (await page.getByTestId('run-status').innerText()) === 'completed', 'the run to complete');
  assert.equal(await nodeStatus(page, 'ship'), 'completed');
  const doc = await server.expect(200, 'GET', `/runs/${run.runId}`, { key: owner });
  assert.equal(doc.nodes.ask.output.approved.comment, 'looks right');
  await context.close();
});

test('a workflow exported as YAML imports as the same document; a template previews and instantiates', async () => {
  const { context, page } = await signedIn(browser, server, owner);
  await page.goto(server.url + '/#/workflows/pipeline');
  await page.getByTestId('canvas').waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export YAML' }).click()]);
  const yaml = fs.readFileSync(await download.path(), 'utf8');
  assert.match(yaml, /^id: pipeline$/m);
  await page.goto(server.url + '/#/workflows/new');
  await page.getByTestId('canvas').waitFor();
  await page.locator('input[type="file"]').setInputFiles({ name: 'pipeline.yaml', mimeType: 'application/yaml', buffer: Buffer.from(yaml.replace(/^id: pipeline$/m, 'id: pipeline-copy')) });
  await until(async () => (await page.locator('.react-flow__node').count()) === 3, 'the imported nodes');
  await until(async () => (await page.getByTestId('validity').getAttribute('data-valid')) === 'true', 'a valid import');
  await page.getByRole('button', { name: /Save as version/ }).click();
  await page.getByRole('heading', { name: /pipeline-copy/ }).waitFor();
  const original = (await server.expect(200, 'GET', '/workflows/pipeline', { key: owner })).document;
  const copy = (await server.expect(200, 'GET', '/workflows/pipeline-copy', { key: owner })).document;
  assert.deepEqual({ ...copy, id: 'pipeline', version: original.version }, original);

  await page.goto(server.url + '/#/workflows');
  const card = page.locator('.card', { hasText: 'data-summary' });
  await card.getByRole('button', { name: 'Preview' }).click();
  await page.getByRole('heading', { name: 'Preview of data-summary' }).waitFor();
  await page.locator('.panel .json').filter({ hasText: '"valid": true' }).waitFor();
  await card.getByRole('button', { name: 'Use' }).click();
  await page.getByTestId('canvas').waitFor();
  assert.match(page.url(), /#\/workflows\/[^/]+$/);
  await context.close();
});
