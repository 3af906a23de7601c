// The console's proof checks (console/src/merkle.ts, run here under Node's WebCrypto, the same
// API the browser has) against Certificate Transparency's RFC 6962 reference data, and the tree
// head check against signatures made by an independent Ed25519 implementation (OpenSSL's, through
// node:crypto).
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { repo } from './harness.mjs';

const require = createRequire(path.join(repo, 'console/package.json'));
const esbuild = require('esbuild');
const bundled = esbuild.buildSync({ entryPoints: [path.join(repo, 'console/src/merkle.ts')], bundle: true, format: 'esm', write: false, platform: 'neutral' });
const m = await import('data:text/javascript;base64,' + Buffer.from(bundled.outputFiles[0].text).toString('base64'));

const vectors = JSON.parse(fs.readFileSync(path.join(repo, 'tests/vectors/rfc6962.json'), 'utf8'));
const leaves = await Promise.all(vectors.leaves_hex.map((h) => m.leafHash(m.unhex(h))));

test('tree roots of every size 0..8 are the reference roots', async () => {
  for (let n = 0; n <= leaves.length; n++) assert.equal(m.hex(await m.rootOf(leaves.slice(0, n))), vectors.roots_by_size[n], `size ${n}`);
});

test('every reference inclusion proof verifies, and a changed one does not', async () => {
  assert.ok(vectors.inclusion_proofs.length > 0);
  for (const p of vectors.inclusion_proofs) {
    const root = m.unhex(vectors.roots_by_size[p.tree_size]);
    const path_ = p.path.map(m.unhex);
    assert.equal(await m.verifyInclusion(p.index, p.tree_size, leaves[p.index], path_, root), true, `leaf ${p.index} of ${p.tree_size}`);
    if (path_.length) {
      const bent = path_.map((h, i) => (i === 0 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 1 : b)) : h));
      assert.equal(await m.verifyInclusion(p.index, p.tree_size, leaves[p.index], bent, root), false, 'a changed proof hash');
      const other = (p.index + 1) % p.tree_size;
      assert.equal(await m.verifyInclusion(p.index, p.tree_size, leaves[other], path_, root), false, 'another leaf');
      await assert.rejects(m.rootFromInclusion(p.index, p.tree_size, leaves[p.index], path_.slice(1)), /shorter/);
      await assert.rejects(m.rootFromInclusion(p.index, p.tree_size, leaves[p.index], [...path_, path_[0]]), /longer/);
    }
  }
  await assert.rejects(m.rootFromInclusion(8, 8, leaves[0], []), /outside/);
});

test('a tree head signed by another Ed25519 implementation verifies; a changed head does not', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const head = { tree_size: 8, root_hash: vectors.roots_by_size[8], timestamp: 1796400000123, key_id: createHash('sha256').update(spki).digest('hex'), algorithm: 'Ed25519' };
  const be64 = (n) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  const msg = Buffer.concat([Buffer.from('nexus-forge tree head v1\n'), be64(head.tree_size), Buffer.from(head.root_hash, 'hex'), be64(head.timestamp)]);
  head.signature = sign(null, msg, privateKey).toString('hex');
  assert.deepEqual(await m.verifyTreeHead(head, pem), { signature: true, keyId: true });
  assert.deepEqual(await m.verifyTreeHead({ ...head, tree_size: 7 }, pem), { signature: false, keyId: true });
  assert.deepEqual(await m.verifyTreeHead({ ...head, timestamp: head.timestamp + 1 }, pem), { signature: false, keyId: true });
  assert.equal((await m.verifyTreeHead({ ...head, key_id: '00'.repeat(32) }, pem)).keyId, false);
});

// RFC 6962 section 2.1.2's PROOF(m, D[n]), written from the definition, to feed the verifier.
async function consistencyProof(m_, hashes, complete = true) {
  const n = hashes.length;
  if (m_ === n) return complete ? [] : [await m.rootOf(hashes)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m_ <= k) return [...(await consistencyProof(m_, hashes.slice(0, k), complete)), await m.rootOf(hashes.slice(k))];
  return [...(await consistencyProof(m_ - k, hashes.slice(k), false)), await m.rootOf(hashes.slice(0, k))];
}

test('consistency proofs between every pair of sizes 1..8 verify; a changed proof or root does not', async () => {
  for (let second = 1; second <= leaves.length; second++)
    for (let first = 1; first <= second; first++) {
      const proof = await consistencyProof(first, leaves.slice(0, second));
      const r1 = m.unhex(vectors.roots_by_size[first]);
      const r2 = m.unhex(vectors.roots_by_size[second]);
      assert.equal(await m.verifyConsistency(first, second, r1, r2, proof), true, `${first} -> ${second}`);
      if (first < second) {
        assert.equal(await m.verifyConsistency(first, second, m.unhex(vectors.roots_by_size[first - 1] ?? vectors.roots_by_size[0]), r2, proof), false, `${first} -> ${second}: another first root`);
        const bent = proof.map((h, i) => (i === proof.length - 1 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 1 : b)) : h));
        assert.equal(await m.verifyConsistency(first, second, r1, r2, bent), false, `${first} -> ${second}: a changed hash`);
      }
    }
});
