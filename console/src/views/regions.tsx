// Regions and cluster (the platform admin): each region's health and replication lag over time,
// the routing decision for a chosen client, instances and partition owners, projection lag, and
// dead letters with replay.
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { call, get, q } from '../api';
import type { ViewProps } from '../app';
import { Chart } from '../chart';
import { ErrorNote, Json, Loading, Time, useInterval, useLoad } from '../ui';

type Region = Record<string, unknown> & { name: string; up?: boolean; local?: boolean; lagMs?: number; load?: number; bus?: string };
interface ReadModel {
  name: string;
  generation: number;
  lagEvents: number;
  lagMs: number;
  rebuild?: { state: string };
}
interface Cluster {
  groups?: Record<string, { members: string[]; partitions: Record<string, string[]> }>;
  [k: string]: unknown;
}

export function RegionsView(_: ViewProps) {
  const regions = useLoad((signal) => get<{ region: string; regions: Region[]; links: unknown[]; replication: unknown[]; primary: unknown }>('/regions', signal), []);
  const cluster = useLoad((signal) => get<Cluster>('/cluster', signal), []);
  const projections = useLoad((signal) => get<{ projections: ReadModel[] }>('/projections', signal), []);
  const history = useRef<{ t: number; lag: Record<string, number> }[]>([]);
  const [tick, setTick] = useState(0);
  useInterval(() => {
    regions.reload();
    cluster.reload();
    projections.reload();
  }, 5000);
  const list: Region[] = regions.data?.regions ?? [];
  // Each refresh adds a point per region's lag to the chart.
  useEffect(() => {
    if (!list.length) return;
    const lag: Record<string, number> = {};
    for (const r of list) lag[r.name] = Number(r.lagMs ?? 0);
    history.current = [...history.current, { t: Date.now() / 1000, lag }].slice(-120);
    setTick((x) => x + 1);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [regions.data]);
  const chart = useMemo(() => {
    const names = [...new Set(history.current.flatMap((h) => Object.keys(h.lag)))];
    return { x: history.current.map((h) => h.t), series: names.map((n) => ({ label: n, values: history.current.map((h) => h.lag[n] ?? null) })) };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tick]);
  return (
    <section aria-labelledby="regions-title">
      <h1 id="regions-title">Regions and cluster</h1>
      <ErrorNote error={regions.error} onRetry={regions.reload} />
      <h2>Regions</h2>
      {regions.loading && !regions.data ? (
        <Loading what="regions" />
      ) : list.length ? (
        <table className="list" data-testid="regions">
          <thead>
            <tr>
              <th scope="col">Region</th>
              <th scope="col">Health</th>
              <th scope="col">Lag</th>
              <th scope="col">Load</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.name}>
                <td>
                  {r.name}
                  {r.local ? ' (this one)' : ''}
                </td>
                <td>{r.up ? 'up' : r.local && !regions.data?.links.length ? 'alone (no heartbeats)' : 'down'}</td>
                <td>{r.lagMs !== undefined ? `${r.lagMs} ms` : '—'}</td>
                <td>{r.load !== undefined ? `${Math.round(Number(r.load) * 100)}%` : '—'}</td>
                <td>
                  <details>
                    <summary>more</summary>
                    <Json value={r} />
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        regions.data && <Json value={regions.data} />
      )}
      {chart.x.length > 1 && <Chart title="Replication lag (ms)" x={chart.x} series={chart.series} />}
      <RouteProbe />
      <h2>Cluster: consumer groups and partition owners</h2>
      <ErrorNote error={cluster.error} />
      <table className="list small" data-testid="cluster">
        <thead>
          <tr>
            <th scope="col">Group</th>
            <th scope="col">Instance</th>
            <th scope="col">Partitions</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(cluster.data?.groups ?? {}).flatMap(([g, v]) =>
            Object.entries(v.partitions ?? {}).map(([member, parts]) => (
              <tr key={`${g}-${member}`}>
                <td>{g}</td>
                <td>
                  <code>{member}</code>
                </td>
                <td>{parts.join(', ')}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
      <h2>Read models</h2>
      <ErrorNote error={projections.error} />
      <table className="list small" data-testid="read-models">
        <thead>
          <tr>
            <th scope="col">Read model</th>
            <th scope="col">Generation</th>
            <th scope="col">Lag (events)</th>
            <th scope="col">Lag (ms)</th>
            <th scope="col">Rebuild</th>
          </tr>
        </thead>
        <tbody>
          {(projections.data?.projections ?? []).map((p) => (
            <tr key={p.name}>
              <td>{p.name}</td>
              <td>{p.generation}</td>
              <td>{p.lagEvents}</td>
              <td>{p.lagMs}</td>
              <td>{p.rebuild?.state ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <DeadLetters />
    </section>
  );
}

function RouteProbe() {
  const [client, setClient] = useState('');
  const [answer, setAnswer] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setAnswer(await get(`/regions/route${q({ client })}`));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="panel">
      <h3>Routing decision for a client</h3>
      <form className="filters" onSubmit={submit}>
        <label>
          Client (a region, lat,lon or an address)
          <input value={client} onChange={(e) => setClient(e.target.value)} required />
        </label>
        <button type="submit">Route</button>
      </form>
      <ErrorNote error={error} />
      {answer ? <Json value={answer} /> : null}
    </div>
  );
}

function DeadLetters() {
  const dl = useLoad((signal) => get<{ deadLetters: Record<string, unknown>[] }>('/deadletters', signal), []);
  const [error, setError] = useState<unknown>(null);
  const act = async (id: string, what: 'replay' | 'discard') => {
    setError(null);
    try {
      await call('POST', `/deadletters/${encodeURIComponent(id)}/${what}`, { body: {} });
      dl.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div className="panel">
      <h2>Dead letters</h2>
      <ErrorNote error={dl.error ?? error} onRetry={dl.reload} />
      <table className="list small" data-testid="deadletters">
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Actor</th>
            <th scope="col">Status</th>
            <th scope="col">Error</th>
            <th scope="col">Parked</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {(dl.data?.deadLetters ?? []).map((d) => (
            <tr key={String(d.id)}>
              <td>
                <code>{String(d.id).slice(0, 16)}</code>
              </td>
              <td>{String(d.actor ?? '')}</td>
              <td>{String(d.status ?? '')}</td>
              <td>{String(d.error ?? '')}</td>
              <td>
                <Time at={d.parkedAt as string | undefined} />
              </td>
              <td>
                {d.status === 'parked' && (
                  <>
                    <button type="button" onClick={() => void act(String(d.id), 'replay')}>
                      Replay
                    </button>
                    <button type="button" onClick={() => void act(String(d.id), 'discard')}>
                      Discard
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
          {dl.data && !dl.data.deadLetters.length && (
            <tr>
              <td colSpan={6} className="muted">
                No dead letters.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
