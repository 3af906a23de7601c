// The evidence ledger: the latest signed tree head (its signature checked here), the newest
// entries, search by mission or artifact, and each entry's inclusion proof checked in the browser.
import { type FormEvent, useState } from 'react';
import { ApiError, get, q } from '../api';
import type { ViewProps } from '../app';
import { type TreeHead, verifyTreeHead } from '../merkle';
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
  return { head, key, check };
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
