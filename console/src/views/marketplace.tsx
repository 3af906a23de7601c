// The marketplace: search with facets (category, protocol, capability, rating) and each score's
// parts; an agent's page (versions, manifest, scan findings, capability diff, benchmark, ratings,
// dependency tree, install command); the review queue for reviewers.
import { type FormEvent, useMemo, useState } from 'react';
import { call, get, may, q } from '../api';
import type { ViewProps } from '../app';
import { CopyButton, ErrorNote, Json, Loading, Time, useLoad } from '../ui';

interface Hit {
  name: string;
  version: string;
  description: string;
  category: string;
  capabilities: string[];
  protocols: string[];
  rating: number;
  ratingCount: number;
  installs: number;
  score: number;
  explain?: { relevance: number; rating: number; usage: number; weights: Record<string, number> };
}
interface VersionDoc {
  name: string;
  version: string;
  status: string;
  manifest: Record<string, unknown> & { capabilities?: string[]; dependencies?: Record<string, string>; protocols?: string[] };
  findings?: { severity?: string; rule?: string; message?: string; path?: string }[];
  benchmark?: Record<string, unknown>;
  review?: Record<string, unknown>;
  leafIndex?: number;
  yanked?: boolean;
  submittedAt?: number;
  [k: string]: unknown;
}

export function MarketplaceView({ session, route }: ViewProps) {
  const [tab, setTab] = useState<'search' | 'reviews'>('search');
  if (route.rest[0]) return <AgentPage name={route.rest[0]} version={route.rest[1]} session={session} />;
  const reviewer = may(session, 'marketplace:review');
  return (
    <section aria-labelledby="mk-title">
      <div className="title-row">
        <h1 id="mk-title">Marketplace</h1>
        {reviewer && (
          <div role="tablist" aria-label="Marketplace views" className="tabs">
            <button type="button" role="tab" aria-selected={tab === 'search'} onClick={() => setTab('search')}>
              Search
            </button>
            <button type="button" role="tab" aria-selected={tab === 'reviews'} onClick={() => setTab('reviews')}>
              Review queue
            </button>
          </div>
        )}
      </div>
      {tab === 'reviews' && reviewer ? <ReviewQueue /> : <Search />}
    </section>
  );
}

function Search() {
  const [text, setText] = useState('');
  const [filters, setFilters] = useState({ q: '', category: '', protocol: '', capability: '', min_rating: '' });
  const results = useLoad(
    (signal) =>
      get<{ items: Hit[]; total: number; facets?: Record<'category' | 'protocol' | 'capability', { value: string; count: number }[]> }>(
        `/marketplace/agents${q({ ...filters, per_page: 50, explain: 'true', facets: 'true' })}`,
        signal,
      ),
    [filters],
  );
  // Facets: the server's counts over every match (not only this page).
  const facets = useMemo(() => {
    const f = results.data?.facets;
    const pairs = (k: 'category' | 'protocol' | 'capability', limit: number) => (f?.[k] ?? []).slice(0, limit).map((x) => [x.value, x.count] as const);
    return { category: pairs('category', 30), protocol: pairs('protocol', 30), capability: pairs('capability', 20) };
  }, [results.data]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ ...filters, q: text });
  };
  const facet = (key: 'category' | 'protocol' | 'capability', label: string) => (
    <fieldset className="facet">
      <legend>{label}</legend>
      {filters[key] && (
        <button type="button" className="link" onClick={() => setFilters({ ...filters, [key]: '' })}>
          × {filters[key]}
        </button>
      )}
      {!filters[key] &&
        facets[key].map(([v, n]) => (
          <button type="button" className="link" key={v} onClick={() => setFilters({ ...filters, [key]: v })}>
            {v} <span className="muted">({n})</span>
          </button>
        ))}
    </fieldset>
  );
  return (
    <>
      <form role="search" className="filters" onSubmit={submit}>
        <label>
          Find agents
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="words in name, capabilities, description" />
        </label>
        <label>
          Minimum rating
          <select value={filters.min_rating} onChange={(e) => setFilters({ ...filters, min_rating: e.target.value })}>
            <option value="">any</option>
            {[1, 2, 3, 4, 4.5].map((r) => (
              <option key={r} value={r}>
                {r}★
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      <div className="split">
        <aside aria-label="Facets">
          {facet('category', 'Category')}
          {facet('protocol', 'Protocol')}
          {facet('capability', 'Capability')}
        </aside>
        <div>
          <ErrorNote error={results.error} onRetry={results.reload} />
          {results.loading && !results.data ? (
            <Loading what="agents" />
          ) : (
            <>
              <p className="muted small">{results.data?.total ?? 0} agents</p>
              <ul className="cards" data-testid="agents">
                {(results.data?.items ?? []).map((h) => (
                  <li key={h.name} className="card" data-agent={h.name}>
                    <a href={`#/marketplace/${encodeURIComponent(h.name)}`}>
                      <strong>{h.name}</strong>
                    </a>{' '}
                    <span className="muted small">
                      {h.version} · {h.category}
                    </span>
                    <p className="small">{h.description}</p>
                    <p className="small">
                      {'★'.repeat(Math.round(h.rating))}
                      {'☆'.repeat(5 - Math.round(h.rating))} ({h.ratingCount}) · {h.installs} installs
                    </p>
                    {h.explain && (
                      <p className="small muted" title="score = 0.4 relevance + 0.3 rating + 0.3 usage">
                        score {h.score.toFixed(3)} = relevance {h.explain.relevance.toFixed(2)} · rating {h.explain.rating.toFixed(2)} · usage {h.explain.usage.toFixed(2)}
                      </p>
                    )}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      </div>
    </>
  );
}

function ReviewQueue() {
  const queue = useLoad((signal) => get<{ items: (VersionDoc & { description: string; category: string; tenantId: string })[] }>('/marketplace/reviews', signal), []);
  const [feedback, setFeedback] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const decide = async (name: string, version: string, decision: 'approve' | 'reject') => {
    setError(null);
    try {
      await call('POST', `/marketplace/agents/${encodeURIComponent(name)}/${encodeURIComponent(version)}/review`, {
        body: { decision, feedback: feedback[`${name}@${version}`] ?? '' },
      });
      queue.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <ErrorNote error={queue.error ?? error} onRetry={queue.reload} />
      {queue.loading && !queue.data ? (
        <Loading what="the review queue" />
      ) : (
        <ul className="cards" data-testid="review-queue">
          {(queue.data?.items ?? []).map((v) => {
            const k = `${v.name}@${v.version}`;
            return (
              <li key={k} className="card" data-review={k}>
                <a href={`#/marketplace/${encodeURIComponent(v.name)}/${encodeURIComponent(v.version)}`}>
                  <strong>{v.name}</strong> {v.version}
                </a>{' '}
                <span className="muted small">
                  {v.category} · {v.tenantId} · submitted <Time at={v.submittedAt} />
                </span>
                <p className="small">{v.description}</p>
                <p className="small">{(v.findings ?? []).length} scan findings</p>
                <label>
                  Feedback
                  <textarea value={feedback[k] ?? ''} onChange={(e) => setFeedback({ ...feedback, [k]: e.target.value })} />
                </label>
                <button type="button" onClick={() => void decide(v.name, v.version, 'approve')}>
                  Approve
                </button>
                <button type="button" onClick={() => void decide(v.name, v.version, 'reject')}>
                  Reject
                </button>
              </li>
            );
          })}
          {queue.data && !queue.data.items.length && <li className="muted">Nothing waits for review.</li>}
        </ul>
      )}
    </div>
  );
}

function AgentPage({ name, version, session }: { name: string; version?: string; session: ViewProps['session'] }) {
  const agent = useLoad(
    (signal) => get<{ name: string; latest: string | null; versions: { version: string; status: string; yanked: boolean }[]; ratingAverage: number; ratingCount: number; installs: number }>(`/marketplace/agents/${encodeURIComponent(name)}`, signal),
    [name],
  );
  const shown = version ?? agent.data?.latest ?? agent.data?.versions[0]?.version;
  const doc = useLoad((signal) => (shown ? get<VersionDoc>(`/marketplace/agents/${encodeURIComponent(name)}/${encodeURIComponent(shown)}`, signal) : Promise.resolve(undefined)), [name, shown]);
  const versions = agent.data?.versions ?? [];
  const previous = versions[versions.findIndex((v) => v.version === shown) + 1]?.version;
  const prevDoc = useLoad((signal) => (previous ? get<VersionDoc>(`/marketplace/agents/${encodeURIComponent(name)}/${encodeURIComponent(previous)}`, signal) : Promise.resolve(undefined)), [name, previous]);
  const deps = useLoad((signal) => (shown ? get<Record<string, unknown>>(`/marketplace/resolve${q({ name, range: shown })}`, signal) : Promise.resolve(undefined)), [name, shown]);
  const [stars, setStars] = useState(5);
  const [error, setError] = useState<unknown>(null);
  if (agent.error) return <ErrorNote error={agent.error} onRetry={agent.reload} />;
  if (!agent.data) return <Loading what="the agent" />;
  const d = doc.data;
  const caps = new Set(d?.manifest.capabilities ?? []);
  const prevCaps = new Set(prevDoc.data?.manifest.capabilities ?? []);
  const install = `nexus-forge install ${name}@${shown ?? ''}`;
  const rate = async () => {
    setError(null);
    try {
      await call('POST', `/marketplace/agents/${encodeURIComponent(name)}/ratings`, { body: { stars } });
      agent.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="agent-title">
      <p>
        <a href="#/marketplace">← Marketplace</a>
      </p>
      <h1 id="agent-title">
        {name} <span className="muted small">{shown}</span>
      </h1>
      <p>
        {agent.data.ratingAverage.toFixed(1)}★ from {agent.data.ratingCount} ratings · {agent.data.installs} installs
      </p>
      <p>
        <code>{install}</code> <CopyButton text={install} label="Copy install command" />
      </p>
      <nav aria-label="Versions" className="versions">
        {versions.map((v) => (
          <a key={v.version} href={`#/marketplace/${encodeURIComponent(name)}/${encodeURIComponent(v.version)}`} aria-current={v.version === shown ? 'page' : undefined}>
            {v.version} <span className="muted small">{v.status}{v.yanked ? ', yanked' : ''}</span>
          </a>
        ))}
      </nav>
      <ErrorNote error={doc.error ?? error} />
      {d && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd data-testid="agent-status">{d.status}</dd>
            <dt>Protocols</dt>
            <dd>{(d.manifest.protocols ?? []).join(', ')}</dd>
            {d.leafIndex !== undefined && (
              <>
                <dt>Ledger leaf</dt>
                <dd>{String(d.leafIndex)}</dd>
              </>
            )}
          </dl>
          <h2>Capabilities{previous ? ` (against ${previous})` : ''}</h2>
          <ul className="chips">
            {[...new Set([...caps, ...prevCaps])].sort().map((c) => (
              <li key={c} className={previous && !prevCaps.has(c) ? 'added' : previous && !caps.has(c) ? 'removed' : ''}>
                {previous && !prevCaps.has(c) ? '+ ' : previous && !caps.has(c) ? '− ' : ''}
                {c}
              </li>
            ))}
          </ul>
          <h2>Scan findings</h2>
          {(d.findings ?? []).length ? (
            <table className="list small">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Where</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {(d.findings ?? []).map((f, i) => (
                  <tr key={i}>
                    <td>{f.severity}</td>
                    <td>{f.rule}</td>
                    <td>{f.path}</td>
                    <td>{f.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No findings.</p>
          )}
          <h2>Benchmark</h2>
          {d.benchmark ? <Json value={d.benchmark} /> : <p className="muted">Not benchmarked.</p>}
          <h2>Dependencies</h2>
          <ErrorNote error={deps.error} />
          {deps.data ? <Json value={deps.data} /> : <Json value={d.manifest.dependencies ?? {}} />}
          <h2>Manifest</h2>
          <Json value={d.manifest} />
          {may(session, 'marketplace:install') && (
            <div className="filters">
              <label>
                Your rating
                <select value={stars} onChange={(e) => setStars(Number(e.target.value))}>
                  {[5, 4, 3, 2, 1].map((s) => (
                    <option key={s} value={s}>
                      {s}★
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" onClick={() => void rate()}>
                Rate
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}
