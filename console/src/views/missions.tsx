// Missions: a filterable list kept live over SSE (mission.*), a mission's timeline, its artifacts
// with their validations and a verified badge each, and the forms the caller's role allows.
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { call, get, may, q } from '../api';
import { go, type ViewProps } from '../app';
import { Badge, checkArtifact } from '../proof';
import { type StreamState, useStream } from '../sse';
import { Choice, ErrorNote, Loading, Time, useLoad } from '../ui';

interface Artifact {
  artifactId: string;
  type: string;
  uri: string;
  checksum: string;
  reviewer: string;
  recordedAt?: number;
  latestValidation?: { reportId: string; suite: string; result: string; coverage: number } | null;
}
export interface Mission {
  id: string;
  objective?: string;
  priority?: string;
  originatingSpec?: string;
  createdAt?: string | number;
  status: string;
  history?: { status: string; at: number; eventId: string }[];
  artifacts?: Record<string, Artifact>;
  updatedAt?: number;
}

const STATUSES = ['prompted', 'accepted', 'in_progress', 'validated', 'failed'];
const PRIORITIES = ['P0', 'P1', 'P2'];

function LiveState({ state }: { state: StreamState }) {
  return (
    <span className={`live ${state}`} data-testid="live-state" role="status">
      {state === 'live' ? '● live' : state}
    </span>
  );
}

export function MissionsView({ session, route }: ViewProps) {
  if (route.rest[0]) return <MissionDetail id={route.rest[0]} canWrite={may(session, 'missions:write')} />;
  return <MissionList canWrite={may(session, 'missions:write')} />;
}

function MissionList({ canWrite }: { canWrite: boolean }) {
  const [status, setStatus] = useState('');
  const [priority, setPriority] = useState('');
  const [text, setText] = useState('');
  const [items, setItems] = useState<Mission[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const first = useLoad(
    (signal) => get<{ items: Mission[]; nextCursor: string | null }>(`/missions${q({ status, priority, limit: 50 })}`, signal),
    [status, priority],
  );
  useEffect(() => {
    if (first.data) {
      setItems(first.data.items);
      setCursor(first.data.nextCursor);
    }
  }, [first.data]);

  // Every mission event names its mission as its key: fetch that mission and put it in place.
  const live = useStream('mission.*', ({ event }) => {
    const id = String(event.key ?? '');
    if (!id) return;
    get<Mission>(`/missions/${encodeURIComponent(id)}`)
      .then((m) =>
        setItems((old) => {
          const rest = old.filter((x) => x.id !== m.id);
          return old.some((x) => x.id === m.id) ? old.map((x) => (x.id === m.id ? m : x)) : [m, ...rest];
        }),
      )
      .catch(() => {
        /* not yet in the read model, or another tenant's: the next event brings it */
      });
  });

  const shown = useMemo(
    () =>
      items.filter(
        (m) =>
          (!status || m.status === status) &&
          (!priority || m.priority === priority) &&
          (!text || (m.objective ?? '').toLowerCase().includes(text.toLowerCase()) || m.id.includes(text)),
      ),
    [items, status, priority, text],
  );

  const more = async () => {
    if (!cursor) return;
    const page = await get<{ items: Mission[]; nextCursor: string | null }>(`/missions${q({ status, priority, limit: 50, cursor })}`);
    setItems((old) => [...old, ...page.items.filter((m) => !old.some((o) => o.id === m.id))]);
    setCursor(page.nextCursor);
  };

  return (
    <section aria-labelledby="missions-title">
      <div className="title-row">
        <h1 id="missions-title">Missions</h1>
        <LiveState state={live} />
      </div>
      {canWrite && <NewMission onCreated={(id) => go(`missions/${id}`)} />}
      <div className="filters" role="search">
        <Choice label="Status" value={status} options={STATUSES} onChange={setStatus} any="any" />
        <Choice label="Priority" value={priority} options={PRIORITIES} onChange={setPriority} any="any" />
        <label>
          Search
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="objective or id" />
        </label>
      </div>
      <ErrorNote error={first.error} onRetry={first.reload} />
      {first.loading && !items.length ? (
        <Loading what="missions" />
      ) : (
        <table className="list" data-testid="missions">
          <thead>
            <tr>
              <th scope="col">Objective</th>
              <th scope="col">Priority</th>
              <th scope="col">Status</th>
              <th scope="col" className="wide-only">
                Artifacts
              </th>
              <th scope="col" className="wide-only">
                Created
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((m) => (
              <tr key={m.id} data-mission={m.id}>
                <td>
                  <a href={`#/missions/${encodeURIComponent(m.id)}`}>{m.objective || m.id}</a>
                </td>
                <td>{m.priority}</td>
                <td>
                  <span className={`status ${m.status}`}>{m.status}</span>
                </td>
                <td className="wide-only">{Object.keys(m.artifacts ?? {}).length}</td>
                <td className="wide-only">
                  <Time at={m.createdAt} />
                </td>
              </tr>
            ))}
            {!shown.length && (
              <tr>
                <td colSpan={5} className="muted">
                  No missions{status || priority || text ? ' match' : ' yet'}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={() => void more()}>
          More
        </button>
      )}
    </section>
  );
}

function NewMission({ onCreated }: { onCreated: (id: string) => void }) {
  const [objective, setObjective] = useState('');
  const [priority, setPriority] = useState('P1');
  const [spec, setSpec] = useState('https://example.com/spec');
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await call<{ id: string }>('POST', '/missions', { body: { objective, priority, originatingSpec: spec } });
      setObjective('');
      onCreated(r.body.id);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <details className="panel">
      <summary>New mission</summary>
      <form onSubmit={submit} className="form">
        <label>
          Objective
          <textarea required value={objective} onChange={(e) => setObjective(e.target.value)} />
        </label>
        <Choice label="Priority" value={priority} options={PRIORITIES} onChange={setPriority} />
        <label>
          Originating spec (URI)
          <input type="url" required value={spec} onChange={(e) => setSpec(e.target.value)} />
        </label>
        <button type="submit">Create mission</button>
        <ErrorNote error={error} />
      </form>
    </details>
  );
}

function MissionDetail({ id, canWrite }: { id: string; canWrite: boolean }) {
  const m = useLoad((signal) => get<Mission>(`/missions/${encodeURIComponent(id)}`, signal), [id]);
  const live = useStream(
    'mission.*',
    ({ event }) => {
      if (event.key === id) m.reload();
    },
    id,
  );
  if (m.error) return <ErrorNote error={m.error} onRetry={m.reload} />;
  if (!m.data) return <Loading what="the mission" />;
  const mission = m.data;
  const artifacts = Object.entries(mission.artifacts ?? {});
  return (
    <section aria-labelledby="mission-title">
      <p>
        <a href="#/missions">← Missions</a>
      </p>
      <div className="title-row">
        <h1 id="mission-title">{mission.objective || mission.id}</h1>
        <LiveState state={live} />
      </div>
      <dl className="facts">
        <dt>Id</dt>
        <dd>
          <code>{mission.id}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <span className={`status ${mission.status}`} data-testid="mission-status">
            {mission.status}
          </span>
        </dd>
        <dt>Priority</dt>
        <dd>{mission.priority}</dd>
        <dt>Spec</dt>
        <dd>{mission.originatingSpec}</dd>
      </dl>
      <h2>Timeline</h2>
      <ol className="timeline" data-testid="timeline">
        {(mission.history ?? []).map((h) => (
          <li key={h.eventId} className={h.status}>
            <strong>{h.status}</strong> <Time at={h.at} />
          </li>
        ))}
      </ol>
      <h2>Artifacts</h2>
      {!artifacts.length && <p className="muted">No artifacts yet.</p>}
      <ul className="artifacts">
        {artifacts.map(([aid, a]) => (
          <li key={aid} data-artifact={aid}>
            <div>
              <strong>{aid}</strong> <span className="muted">{a.type}</span>{' '}
              <Badge key={`${aid}-${a.checksum}`} label={aid} check={() => checkArtifact(mission.id, aid, a.checksum)} />
            </div>
            <div className="small">
              <a href={a.uri} rel="noreferrer noopener" target="_blank">
                {a.uri}
              </a>{' '}
              · <code>{a.checksum}</code> · reviewer {a.reviewer} · <Time at={a.recordedAt} />
            </div>
            {a.latestValidation ? (
              <div className={`validation ${a.latestValidation.result}`}>
                {a.latestValidation.suite}: {a.latestValidation.result} ({a.latestValidation.coverage}% coverage)
              </div>
            ) : (
              <div className="muted small">not validated yet</div>
            )}
          </li>
        ))}
      </ul>
      {canWrite && <RecordArtifact missionId={mission.id} onDone={m.reload} artifacts={artifacts.map(([k]) => k)} />}
    </section>
  );
}

function RecordArtifact({ missionId, onDone, artifacts }: { missionId: string; onDone: () => void; artifacts: string[] }) {
  const [artifactId, setArtifactId] = useState('');
  const [type, setType] = useState('code');
  const [uri, setUri] = useState('https://example.com/artifact');
  const [checksum, setChecksum] = useState('');
  const [reviewer, setReviewer] = useState('');
  const [vArtifact, setVArtifact] = useState('');
  const [suite, setSuite] = useState('unit');
  const [result, setResult] = useState('pass');
  const [coverage, setCoverage] = useState('80');
  const [error, setError] = useState<unknown>(null);
  const path = `/missions/${encodeURIComponent(missionId)}`;
  const record = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call('POST', `${path}/artifacts`, { body: { artifactId, missionId, type, uri, checksum, reviewer } });
      setArtifactId('');
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  const validate = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call('POST', `${path}/validations`, {
        body: { reportId: crypto.randomUUID(), artifactId: vArtifact || artifacts[0], suite, result, coverage: Number(coverage) },
      });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="panel-row">
      <details className="panel">
        <summary>Record an artifact</summary>
        <form onSubmit={record} className="form">
          <label>
            Artifact id
            <input required value={artifactId} onChange={(e) => setArtifactId(e.target.value)} />
          </label>
          <Choice label="Type" value={type} options={['code', 'analysis', 'test']} onChange={setType} />
          <label>
            URI
            <input type="url" required value={uri} onChange={(e) => setUri(e.target.value)} />
          </label>
          <label>
            Checksum (sha256:…)
            <input required value={checksum} onChange={(e) => setChecksum(e.target.value)} pattern="sha256:[0-9a-f]{64}" />
          </label>
          <label>
            Reviewer
            <input required value={reviewer} onChange={(e) => setReviewer(e.target.value)} />
          </label>
          <button type="submit">Record artifact</button>
        </form>
      </details>
      {artifacts.length > 0 && (
        <details className="panel">
          <summary>Report a validation</summary>
          <form onSubmit={validate} className="form">
            <Choice label="Artifact" value={vArtifact} options={artifacts} onChange={setVArtifact} />
            <label>
              Suite
              <input required value={suite} onChange={(e) => setSuite(e.target.value)} />
            </label>
            <Choice label="Result" value={result} options={['pass', 'fail']} onChange={setResult} />
            <label>
              Coverage (%)
              <input type="number" min={0} max={100} value={coverage} onChange={(e) => setCoverage(e.target.value)} />
            </label>
            <button type="submit">Report validation</button>
          </form>
        </details>
      )}
      <ErrorNote error={error} />
    </div>
  );
}
