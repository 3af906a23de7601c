// The evidence ledger: the latest signed tree head (its signature checked here), the newest
// entries, search by mission or artifact, and each entry's inclusion proof checked in the browser.
import { type FormEvent, useState } from 'react';
import { ApiError, type Body, get, q } from '../api';
import type { ViewProps } from '../app';
import { type TreeHead, unhex, verifyConsistency, verifyTreeHead } from '../merkle';
import { Badge, checkLeaf } from '../proof';
import { ErrorNote, Loading, Time, useLoad } from '../ui';

interface Entry {
  index: number;
  leaf_hash: string;
  eventId: string;
  eventType?: string;
  missionId?: string;
  artifactId?: string;
  source: { topic: string; partition: number; offset: number };
}

async function headWithCheck(signal: AbortSignal) {
  let head: TreeHead;
  try {
    head = await get<TreeHead>('/ledger/tree-head', signal);
  } catch (e) {
    // An empty ledger has no head yet: a state, not a failure.
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
  const key = await get<{ public_key_pem: string; key_id: string }>('/ledger/public-key', signal);
  let check: { signature: boolean; keyId: boolean } | { error: string };
  try {
    check = await verifyTreeHead(head, key.public_key_pem);
  } catch (e) {
    check = { error: (e as Error).message };
  }
  return { head, key, check, consistency: await consistentWithEarlier(head, signal) };
}

// The head this tab saw before (sessionStorage): the new one must extend it. Checked in this
// browser with a consistency proof (RFC 9162 section 2.1.4.2), so a log that rewrote history is
// caught by the next look.
const SEEN = 'nf.ledger.seenHead';
type Consistency = { state: 'first' } | { state: 'same' | 'extends'; from: number } | { state: 'broken'; from: number; why: string };
async function consistentWithEarlier(head: TreeHead, signal: AbortSignal): Promise<Consistency> {
  const raw = sessionStorage.getItem(SEEN);
  const seen = raw ? (JSON.parse(raw) as { size: number; root: string }) : null;
  const remember = () => sessionStorage.setItem(SEEN, JSON.stringify({ size: head.tree_size, root: head.root_hash }));
  if (!seen || seen.size < 1) {
    remember();
    return { state: 'first' };
  }
  try {
    if (seen.size > head.tree_size) return { state: 'broken', from: seen.size, why: `the log shrank from ${seen.size} to ${head.tree_size} leaves` };
    if (seen.size === head.tree_size)
      return seen.root === head.root_hash ? { state: 'same', from: seen.size } : { state: 'broken', from: seen.size, why: 'the same size with another root' };
    const p = await get<Body<'/ledger/proof/consistency'>>(`/ledger/proof/consistency${q({ first: seen.size, second: head.tree_size })}`, signal);
    const ok = await verifyConsistency(seen.size, head.tree_size, unhex(seen.root), unhex(head.root_hash), p.consistency.map(unhex));
    if (!ok) return { state: 'broken', from: seen.size, why: 'the consistency proof does not hold' };
    remember();
    return { state: 'extends', from: seen.size };
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    return { state: 'broken', from: seen.size, why: (e as Error).message };
  }
}

export function LedgerView(_: ViewProps) {
  const head = useLoad(headWithCheck, []);
  const [mission, setMission] = useState('');
  const [artifact, setArtifact] = useState('');
  const [searched, setSearched] = useState<{ missionId?: string; artifactId?: string } | null>(null);
  const size = head.data?.head.tree_size ?? 0;
  const empty = head.data === null;
  const entries = useLoad(
    async (signal) => {
      let indices: number[];
      if (searched) indices = (await get<{ indices: number[] }>(`/ledger/search${q(searched)}`, signal)).indices.slice(-50).reverse();
      else indices = Array.from({ length: Math.min(20, size) }, (_, i) => size - 1 - i);
      return Promise.all(indices.map((i) => get<Entry>(`/ledger/entries/${i}`, signal)));
    },
    [size, searched],
  );
  const search = (e: FormEvent) => {
    e.preventDefault();
    setSearched(mission ? { missionId: mission } : artifact ? { artifactId: artifact } : null);
  };
  return (
    <section aria-labelledby="ledger-title">
      <h1 id="ledger-title">Evidence ledger</h1>
      <ErrorNote error={head.error} onRetry={head.reload} />
      {empty && (
        <p className="muted" data-testid="tree-head">
          No signed tree head yet: the ledger is empty.{' '}
          <button type="button" onClick={head.reload}>
            Refresh
          </button>
        </p>
      )}
      {head.data && (
        <div className="panel" data-testid="tree-head">
          <h2>Latest signed tree head</h2>
          <dl className="facts">
            <dt>Size</dt>
            <dd>{head.data.head.tree_size.toLocaleString()} leaves</dd>
            <dt>Root</dt>
            <dd>
              <code className="wrap">{head.data.head.root_hash}</code>
            </dd>
            <dt>Signed</dt>
            <dd>
              <Time at={head.data.head.timestamp} />
            </dd>
            <dt>Key</dt>
            <dd>
              <code className="wrap">{head.data.head.key_id}</code> ({head.data.head.algorithm})
            </dd>
            <dt>Signature</dt>
            <dd data-testid="head-signature">
              {'error' in head.data.check ? (
                <span className="badge failed">cannot check: {head.data.check.error}</span>
              ) : head.data.check.signature && head.data.check.keyId ? (
                <span className="badge verified">✔ Ed25519 signature verified in this browser</span>
              ) : (
                <span className="badge failed">✖ {head.data.check.signature ? 'key id mismatch' : 'signature does not verify'}</span>
              )}
            </dd>
            <dt>History</dt>
            <dd data-testid="head-consistency" data-state={head.data.consistency.state}>
              {head.data.consistency.state === 'first' ? (
                <span className="muted">the first head this tab has seen; the next one is checked against it</span>
              ) : head.data.consistency.state === 'same' ? (
                <span className="badge verified">✔ the head this tab saw before</span>
              ) : head.data.consistency.state === 'extends' ? (
                <span className="badge verified">✔ extends the head of size {head.data.consistency.from} seen earlier (consistency proof checked in this browser)</span>
              ) : (
                <span className="badge failed">
                  ✖ not consistent with the head of size {head.data.consistency.from} seen earlier:{' '}
                  {'why' in head.data.consistency ? head.data.consistency.why : ''}
                </span>
              )}
            </dd>
          </dl>
          <button type="button" onClick={head.reload}>
            Refresh
          </button>
        </div>
      )}
      <form className="filters" role="search" onSubmit={search}>
        <label>
          Mission id
          <input value={mission} onChange={(e) => setMission(e.target.value)} />
        </label>
        <label>
          Artifact id
          <input value={artifact} onChange={(e) => setArtifact(e.target.value)} />
        </label>
        <button type="submit">Search</button>
        {searched && (
          <button type="button" onClick={() => setSearched(null)}>
            Clear
          </button>
        )}
      </form>
      <ErrorNote error={entries.error} onRetry={entries.reload} />
      {entries.loading && !entries.data ? (
        <Loading what="entries" />
      ) : (
        <table className="list" data-testid="ledger-entries">
          <thead>
            <tr>
              <th scope="col">Index</th>
              <th scope="col">Event</th>
              <th scope="col">Mission / artifact</th>
              <th scope="col">Source</th>
              <th scope="col">Proof</th>
            </tr>
          </thead>
          <tbody>
            {(entries.data ?? []).map((e) => (
              <tr key={e.index}>
                <td>{e.index}</td>
                <td>{e.eventType}</td>
                <td>
                  {e.missionId ? <a href={`#/missions/${encodeURIComponent(e.missionId)}`}>{e.missionId}</a> : null}
                  {e.artifactId ? ` / ${e.artifactId}` : ''}
                </td>
                <td className="small">
                  {e.source.topic}[{e.source.partition}]@{e.source.offset}
                </td>
                <td>
                  <Badge label={`leaf-${e.index}`} check={() => checkLeaf(e.index)} />
                </td>
              </tr>
            ))}
            {entries.data && !entries.data.length && (
              <tr>
                <td colSpan={5} className="muted">
                  No entries.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
