// The ledger's proofs, checked in the browser with WebCrypto: an implementation of RFC 6962's
// Merkle tree hashes (RFC 9162 section 2.1.3.2 for inclusion proofs) and of the signed tree head
// (Ed25519 over "nexus-forge tree head v1\n" || size || root || timestamp, core/merkle/tree_head.h)
// that shares nothing with the server's.
import type { Body } from './api';

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
export function unhex(s: string): Uint8Array<ArrayBuffer> {
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error(`not hex: ${s.slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
export function unbase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function subtle(): SubtleCrypto {
  if (!globalThis.crypto?.subtle) throw new Error('this page is not a secure context (use https or a loopback address), so WebCrypto is off');
  return crypto.subtle;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', buf));
}

export const leafHash = (data: Uint8Array) => sha256(Uint8Array.of(0), data);
const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(Uint8Array.of(1), l, r);

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or why it cannot.
export async function rootFromInclusion(index: number, size: number, leaf: Uint8Array, path: Uint8Array[]): Promise<Uint8Array> {
  if (index >= size) throw new Error(`leaf ${index} is outside a tree of ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error('the proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('the proof is shorter than the tree is deep');
  return r;
}

export async function verifyInclusion(index: number, size: number, leaf: Uint8Array, path: Uint8Array[], root: Uint8Array): Promise<boolean> {
  return equal(await rootFromInclusion(index, size, leaf, path), root);
}

// RFC 9162 section 2.1.4.2: whether a consistency proof shows that the tree of size `second`
// with root `secondRoot` extends the tree of size `first` with root `firstRoot` (the log only
// grew). Throws when the proof's shape is wrong for the sizes.
export async function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: Uint8Array[]): Promise<boolean> {
  if (first < 1 || first > second) throw new Error(`no consistency proof from size ${first} to ${second}`);
  if (first === second) {
    if (proof.length) throw new Error('a proof between equal sizes is empty');
    return equal(firstRoot, secondRoot);
  }
  let path = proof;
  if ((first & (first - 1)) === 0) path = [firstRoot, ...proof];
  if (!path.length) throw new Error('the proof is empty');
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) throw new Error('the proof is longer than the trees are deep');
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0)
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('the proof is shorter than the trees are deep');
  return equal(fr, firstRoot) && equal(sr, secondRoot);
}

// The root of a whole list of leaf hashes (RFC 6962 section 2.1), for small trees and tests.
export async function rootOf(leaves: Uint8Array[]): Promise<Uint8Array> {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(await rootOf(leaves.slice(0, k)), await rootOf(leaves.slice(k)));
}

export type TreeHead = Body<'/ledger/tree-head'>;

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const m = pem.match(/-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/);
  if (!m) throw new Error('the public key is not a PEM "PUBLIC KEY"');
  return unbase64(m[1].replace(/\s+/g, ''));
}

function be64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

// Checks the head's Ed25519 signature and that the key id is SHA-256 of the key's SPKI.
export async function verifyTreeHead(head: TreeHead, publicKeyPem: string): Promise<{ signature: boolean; keyId: boolean }> {
  const spki = pemBody(publicKeyPem);
  const keyId = hex(await sha256(spki)) === head.key_id;
  const key = await subtle().importKey('spki', spki, { name: 'Ed25519' }, false, ['verify']);
  const prefix = new TextEncoder().encode('nexus-forge tree head v1\n');
  const root = unhex(head.root_hash);
  const msg = new Uint8Array(prefix.length + 8 + root.length + 8);
  msg.set(prefix, 0);
  msg.set(be64(head.tree_size), prefix.length);
  msg.set(root, prefix.length + 8);
  msg.set(be64(head.timestamp), prefix.length + 8 + root.length);
  const signature = await subtle().verify({ name: 'Ed25519' }, key, unhex(head.signature), msg);
  return { signature, keyId };
}
