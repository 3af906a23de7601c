// Regions and cluster (the platform admin): each region's health and replication lag over time,
// the routing decision for a chosen client, instances and partition owners, projection lag, and
// dead letters with replay.
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { call, get, q } from '../api';
import type { ViewProps } from '../app';
import { Chart } from '../chart';
import { ErrorNote, Json, Loading, Time, useInterval, useLoad } from '../ui';

type Region = Record<string, unknown> & { region?: string; name?: string; healthy?: boolean; status?: string; lagMs?: number; links?: unknown };

export function RegionsView(_: ViewProps) {
  const regions = useLoad((signal) => get<Record<string, unknown>>('/regions', signal), []);
  const cluster = useLoad((signal) => get<Record<string, unknown>>('/cluster', signal), []);
  const projections = useLoad((signal) => get<{ items?: Record<string, unknown>[]; projections?: Record<string, unknown>[] }>('/projections', signal), []);
  const history = useRef<{ t: number; lag: Record<string, number> }[]>([]);
  const [tick, setTick] = useState(0);
  useInterval(() => {
    regions.reload();
    cluster.reload();
    projections.reload();
  }, 5000);
  const list: Region[] = (regions.data?.regions ?? regions.data?.items ?? []) as Region[];
  // Each refresh adds a point per region's lag to the chart.
  useEffect(() => {
    if (!list.length) return;
    const lag: Record<string, number> = {};
    for (const r of list) lag[String(r.region ?? r.name)] = Number(r.lagMs ?? r.replicationLagMs ?? 0);
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
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={String(r.region ?? r.name)}>
                <td>{String(r.region ?? r.name)}</td>
                <td>{String(r.status ?? (r.healthy === false ? 'down' : 'up'))}</td>
                <td>{r.lagMs !== undefined ? `${r.lagMs} ms` : '—'}</td>
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
      <h2>Cluster</h2>
      <ErrorNote error={cluster.error} />
      {cluster.data && <Json value={cluster.data} />}
      <h2>Read models</h2>
      <ErrorNote error={projections.error} />
      {projections.data && <Json value={projections.data} />}
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
  const dl = useLoad((signal) => get<{ items: Record<string, unknown>[] }>('/deadletters', signal), []);
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
            <th scope="col">Reason</th>
            <th scope="col">When</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {(dl.data?.items ?? []).map((d) => (
            <tr key={String(d.id)}>
              <td>
                <code>{String(d.id).slice(0, 16)}</code>
              </td>
              <td>{String(d.actor ?? '')}</td>
              <td>{String(d.reason ?? d.error ?? '')}</td>
              <td>
                <Time at={d.at as number | undefined} />
              </td>
              <td>
                <button type="button" onClick={() => void act(String(d.id), 'replay')}>
                  Replay
                </button>
                <button type="button" onClick={() => void act(String(d.id), 'discard')}>
                  Discard
                </button>
              </td>
            </tr>
          ))}
          {dl.data && !dl.data.items.length && (
            <tr>
              <td colSpan={5} className="muted">
                No dead letters.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
