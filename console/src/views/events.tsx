// Events: the topics the caller may read with their offsets, a page of a topic's partition, and a
// live tail over SSE with type and tenant filters.
import { type FormEvent, useEffect, useState } from 'react';
import { get, q } from '../api';
import type { ViewProps } from '../app';
import { subscribe, type StreamEvent, type StreamState } from '../sse';
import { ErrorNote, Json, Loading, Time, useLoad } from '../ui';

interface Topic {
  name: string;
  partitions: number;
  offsets?: { partition: number; begin: number; end: number }[];
}

export function EventsView({ session }: ViewProps) {
  const topics = useLoad((signal) => get<{ items: Topic[] }>('/topics', signal), []);
  const [topic, setTopic] = useState('');
  const [partition, setPartition] = useState(0);
  const [from, setFrom] = useState('');
  const page = useLoad(
    (signal) =>
      topic
        ? get<{ items: Record<string, unknown>[]; nextOffset: number; endOffset: number }>(
            `/topics/${encodeURIComponent(topic)}/events${q({ partition, from, limit: 50 })}`,
            signal,
          )
        : Promise.resolve(null),
    [topic, partition, from],
  );
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events</h1>
      <ErrorNote error={topics.error} onRetry={topics.reload} />
      <div className="split">
        <div>
          <h2>Topics</h2>
          {topics.loading ? (
            <Loading what="topics" />
          ) : (
            <ul className="plain" data-testid="topics">
              {(topics.data?.items ?? []).map((t) => (
                <li key={t.name}>
                  <button type="button" className={`link ${t.name === topic ? 'current' : ''}`} onClick={() => (setTopic(t.name), setPartition(0), setFrom(''))}>
                    {t.name}
                  </button>{' '}
                  <span className="muted small">
                    {t.partitions} p · {(t.offsets ?? []).reduce((n, o) => n + (o.end - o.begin), 0)} events
                  </span>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div>
          {topic ? (
            <>
              <h2>{topic}</h2>
              <div className="filters">
                <label>
                  Partition
                  <input type="number" min={0} value={partition} onChange={(e) => setPartition(Number(e.target.value))} />
                </label>
                <label>
                  From offset
                  <input type="number" min={0} value={from} onChange={(e) => setFrom(e.target.value)} />
                </label>
                {page.data && (
                  <button type="button" onClick={() => setFrom(String(page.data!.nextOffset))} disabled={page.data.nextOffset >= page.data.endOffset}>
                    Next page
                  </button>
                )}
              </div>
              <ErrorNote error={page.error} />
              <ol className="events">
                {(page.data?.items ?? []).map((e, i) => (
                  <li key={i}>
                    <EventLine e={e} />
                  </li>
                ))}
              </ol>
            </>
          ) : (
            <p className="muted">Choose a topic to browse it.</p>
          )}
        </div>
      </div>
      <Tail platformAdmin={session.platformAdmin} />
    </section>
  );
}

function EventLine({ e }: { e: Record<string, unknown> }) {
  const [open, setOpen] = useState(false);
  return (
    <div>
      <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
        <code>
          {String(e.topic ?? '')}[{String(e.partition ?? '')}]@{String(e.offset ?? '')}
        </code>{' '}
        {String(e.type ?? e.error ?? '')}
      </button>{' '}
      <span className="muted small">
        {e.tenantId ? `tenant ${String(e.tenantId)} · ` : ''}
        <Time at={e.occurredAt as number | undefined} />
      </span>
      {open && <Json value={e} />}
    </div>
  );
}

function Tail({ platformAdmin }: { platformAdmin: boolean }) {
  const [pattern, setPattern] = useState('mission.*');
  const [type, setType] = useState('');
  const [tenant, setTenant] = useState('');
  const [active, setActive] = useState<{ pattern: string; type: string; tenant: string } | null>(null);
  const [state, setState] = useState<StreamState>('closed');
  const [detail, setDetail] = useState('');
  const [events, setEvents] = useState<StreamEvent[]>([]);
  useEffect(() => {
    if (!active) return;
    setEvents([]);
    return subscribe(
      active.pattern,
      { from: 'latest', type: active.type, tenant: active.tenant },
      (e) => setEvents((old) => [e, ...old].slice(0, 500)),
      (s, d) => {
        setState(s);
        setDetail(d ?? '');
      },
    );
  }, [active]);
  const start = (e: FormEvent) => {
    e.preventDefault();
    setActive({ pattern, type, tenant });
  };
  return (
    <div className="panel">
      <h2>Live tail</h2>
      <form className="filters" onSubmit={start}>
        <label>
          Topics
          <input value={pattern} onChange={(e) => setPattern(e.target.value)} required />
        </label>
        <label>
          Type
          <input value={type} onChange={(e) => setType(e.target.value)} placeholder="any" />
        </label>
        {platformAdmin && (
          <label>
            Tenant
            <input value={tenant} onChange={(e) => setTenant(e.target.value)} placeholder="any" />
          </label>
        )}
        <button type="submit">{active ? 'Restart' : 'Start'}</button>
        {active && (
          <button type="button" onClick={() => setActive(null)}>
            Stop
          </button>
        )}
        <span className={`live ${state}`} role="status" data-testid="tail-state">
          {state}
          {detail ? `: ${detail}` : ''}
        </span>
      </form>
      <ol className="events" data-testid="tail">
        {events.map((e) => (
          <li key={e.id}>
            <EventLine e={{ ...e.event }} />
          </li>
        ))}
      </ol>
    </div>
  );
}
