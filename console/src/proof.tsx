// The "verified" badge: a ledger leaf checked in this browser, end to end, with WebCrypto. The
// leaf's bytes hash to its leaf hash, carry the expected ids, sit in the signed tree by the
// inclusion proof, and the tree head's Ed25519 signature holds under the ledger's public key.
import { useEffect, useState } from 'react';
import { type Body, get, q } from './api';
import { hex, leafHash, type TreeHead, unbase64, unhex, verifyInclusion, verifyTreeHead } from './merkle';
import { describe } from './ui';

type Entry = Body<'/ledger/entries/{index}'>;
type Inclusion = Body<'/ledger/proof/inclusion'>;
export type Verdict =
  | { state: 'checking' }
  | { state: 'pending'; why: string }
  | { state: 'verified'; index: number; treeSize: number; root: string; keyId: string }
  | { state: 'failed'; why: string };

let keyCache: Promise<Body<'/ledger/public-key'>> | null = null;

// Checks leaf `index` in the latest signed head; `mustContain`: strings its bytes must hold.
export async function checkLeaf(index: number, mustContain: string[] = []): Promise<Verdict> {
  const entry = await get<Entry>(`/ledger/entries/${index}`);
  const data = unbase64(entry.data);
  const computed = await leafHash(data);
  if (hex(computed) !== entry.leaf_hash) return { state: 'failed', why: `leaf ${index}: its bytes hash to ${hex(computed)}, not ${entry.leaf_hash}` };
  const text = new TextDecoder('latin1').decode(data);
  for (const s of mustContain) if (s && !text.includes(s)) return { state: 'failed', why: `leaf ${index} does not hold '${s}'` };
  const head = await get<TreeHead>('/ledger/tree-head');
  if (head.tree_size <= index) return { state: 'pending', why: `leaf ${index} is not yet under a signed tree head (size ${head.tree_size})` };
  keyCache ??= get('/ledger/public-key');
  const key = await keyCache.catch((e) => {
    keyCache = null;
    throw e;
  });
  if (key.key_id !== head.key_id) return { state: 'failed', why: `the head is signed by key ${head.key_id}, the ledger's key is ${key.key_id}` };
  const sig = await verifyTreeHead(head, key.public_key_pem);
  if (!sig.keyId) return { state: 'failed', why: 'the key id is not the SHA-256 of the public key' };
  if (!sig.signature) return { state: 'failed', why: `the signature of the tree head of size ${head.tree_size} does not verify` };
  const proof = await get<Inclusion>(`/ledger/proof/inclusion${q({ index, tree_size: head.tree_size })}`);
  const ok = await verifyInclusion(index, head.tree_size, computed, proof.audit_path.map(unhex), unhex(head.root_hash));
  if (!ok) return { state: 'failed', why: `the inclusion proof of leaf ${index} does not lead to the signed root` };
  return { state: 'verified', index, treeSize: head.tree_size, root: head.root_hash, keyId: head.key_id };
}

// The leaf of an artifact of a mission: found by search, then checked.
export async function checkArtifact(missionId: string, artifactId: string, checksum: string): Promise<Verdict> {
  const found = await get<Body<'/ledger/search'>>(`/ledger/search${q({ missionId })}`);
  for (const index of [...found.indices].reverse()) {
    const entry = await get<Entry>(`/ledger/entries/${index}`);
    if (entry.artifactId === artifactId && entry.eventType === 'mission.artifact_recorded')
      return checkLeaf(index, [artifactId, checksum.replace(/^sha256:/, '')]);
  }
  return { state: 'pending', why: 'the ledger has no leaf for this artifact yet' };
}

export function Badge({ check, label }: { check: () => Promise<Verdict>; label: string }) {
  const [v, setV] = useState<Verdict>({ state: 'checking' });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setV({ state: 'checking' });
    check()
      .then((r) => {
        if (!live) return;
        setV(r);
        // A leaf is signed within a second or so: look again.
        if (r.state === 'pending') timer = setTimeout(() => setN((x) => x + 1), 1000);
      })
      .catch((e) => live && setV({ state: 'failed', why: describe(e) }));
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [n]);
  const text =
    v.state === 'verified'
      ? `leaf ${v.index} is in the signed tree of size ${v.treeSize} (root ${v.root.slice(0, 16)}…), checked in this browser`
      : v.state === 'checking'
        ? 'checking'
        : v.why;
  return (
    <span className={`badge ${v.state}`} title={text} data-testid={`badge-${label}`} data-state={v.state} role="status" aria-label={`${label}: ${v.state}: ${text}`}>
      {v.state === 'verified' ? '✔ verified' : v.state === 'failed' ? '✖ not verified' : v.state === 'pending' ? '… pending' : '… checking'}
      <span className="sr-only"> {text}</span>
    </span>
  );
}
