// Workflows: the tenant's definitions and versions, templates with a preview, the visual builder
// (builder.tsx), and starting a run.
import { type FormEvent, useState } from 'react';
import { call, get, may } from '../api';
import { go, type ViewProps } from '../app';
import type { Definition, NodeType } from '../graph';
import { ErrorNote, Json, Loading, useLoad } from '../ui';
import { Builder } from './builder';

interface Summary {
  workflowId: string;
  latestVersion: number;
  [k: string]: unknown;
}
// A stored version: the definition and who defined it when.
export interface Stored {
  workflowId: string;
  version: number;
  document: Definition;
  digest: string;
  definedBy?: string;
  definedAt?: number;
}
interface Template {
  template: string;
  description?: string;
  category?: string;
  params?: Record<string, unknown>;
  version?: number;
  [k: string]: unknown;
}

export function WorkflowsView({ session, route }: ViewProps) {
  const library = useLoad((signal) => get<NodeType[]>('/workflows/nodes', signal), []);
  const canWrite = may(session, 'workflows:write');
  const [id, version] = route.rest;
  if (library.error) return <ErrorNote error={library.error} onRetry={library.reload} />;
  if (!library.data) return <Loading what="the node library" />;
  if (id === 'new')
    return (
      <section aria-labelledby="wf-title">
        <p>
          <a href="#/workflows">← Workflows</a>
        </p>
        <h1 id="wf-title">New workflow</h1>
        <Builder initial={{ id: '', nodes: [] }} baseVersion={0} library={library.data} canWrite={canWrite} onSaved={(wid) => go(`workflows/${encodeURIComponent(wid)}`)} />
      </section>
    );
  if (id) return <WorkflowDetail id={id} version={version} library={library.data} canWrite={canWrite} />;
  return <WorkflowList canWrite={canWrite} />;
}

function WorkflowList({ canWrite }: { canWrite: boolean }) {
  const list = useLoad((signal) => get<{ workflows: Summary[] }>('/workflows', signal), []);
  const templates = useLoad((signal) => get<{ templates?: Template[]; items?: Template[] }>('/workflows/templates', signal), []);
  const [preview, setPreview] = useState<{ name: string; result?: unknown; error?: unknown } | null>(null);
  const tpl = templates.data?.templates ?? templates.data?.items ?? [];
  const showPreview = async (name: string) => {
    setPreview({ name });
    try {
      setPreview({ name, result: (await call('POST', `/workflows/templates/${encodeURIComponent(name)}/preview`, { body: { params: {} } })).body });
    } catch (e) {
      setPreview({ name, error: e });
    }
  };
  const instantiate = async (name: string) => {
    try {
      const r = await call<{ workflowId: string }>('POST', `/workflows/templates/${encodeURIComponent(name)}/instantiate`, { body: { params: {} } });
      go(`workflows/${encodeURIComponent(r.body.workflowId)}`);
    } catch (e) {
      setPreview({ name, error: e });
    }
  };
  return (
    <section aria-labelledby="wfs-title">
      <div className="title-row">
        <h1 id="wfs-title">Workflows</h1>
        {canWrite && (
          <a className="button" href="#/workflows/new">
            New workflow
          </a>
        )}
      </div>
      <ErrorNote error={list.error} onRetry={list.reload} />
      {list.loading ? (
        <Loading what="workflows" />
      ) : (
        <table className="list" data-testid="workflows">
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Latest version</th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.workflows ?? []).map((w) => (
              <tr key={w.workflowId}>
                <td>
                  <a href={`#/workflows/${encodeURIComponent(w.workflowId)}`}>{w.workflowId}</a>
                </td>
                <td>{w.latestVersion}</td>
              </tr>
            ))}
            {!list.data?.workflows?.length && (
              <tr>
                <td colSpan={2} className="muted">
                  No workflows yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      <h2>Templates</h2>
      <ErrorNote error={templates.error} />
      <ul className="cards">
        {tpl.map((t) => (
          <li key={t.template} className="card">
            <strong>{t.template}</strong> <span className="muted small">{t.category}</span>
            <p className="small">{t.description}</p>
            <button type="button" onClick={() => void showPreview(t.template)}>
              Preview
            </button>
            {canWrite && (
              <button type="button" onClick={() => void instantiate(t.template)}>
                Use
              </button>
            )}
          </li>
        ))}
      </ul>
      {preview && (
        <div className="panel" aria-live="polite">
          <h3>Preview of {preview.name}</h3>
          <ErrorNote error={preview.error} />
          {preview.result ? <Json value={preview.result} /> : !preview.error && <Loading what="the preview" />}
        </div>
      )}
    </section>
  );
}

function WorkflowDetail({ id, version, library, canWrite }: { id: string; version?: string; library: NodeType[]; canWrite: boolean }) {
  const [n, setN] = useState(0);
  const [saved, setSaved] = useState('');
  const wf = useLoad(
    (signal) => get<Stored>(version ? `/workflows/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}` : `/workflows/${encodeURIComponent(id)}`, signal),
    [id, version, n],
  );
  if (wf.error) return <ErrorNote error={wf.error} onRetry={wf.reload} />;
  if (!wf.data) return <Loading what="the workflow" />;
  const def = { ...wf.data.document, version: wf.data.version };
  const v = wf.data.version;
  return (
    <section aria-labelledby="wf-title">
      <p>
        <a href="#/workflows">← Workflows</a>
      </p>
      <div className="title-row">
        <h1 id="wf-title">
          {id} <span className="muted small">version {v}</span>
        </h1>
        <nav aria-label="Versions" className="versions">
          {Array.from({ length: v }, (_, i) => v - i)
            .slice(0, 10)
            .map((x) => (
              <a key={x} href={`#/workflows/${encodeURIComponent(id)}/${x}`}>
                v{x}
              </a>
            ))}
        </nav>
        <a href={`#/runs?workflow=${encodeURIComponent(id)}`}>Runs</a>
      </div>
      {saved && (
        <p className="notice" role="status">
          {saved}
        </p>
      )}
      {canWrite && <StartRun id={id} version={v} def={def} />}
      <Builder
        key={`${id}-${v}`}
        initial={def}
        baseVersion={v}
        library={library}
        canWrite={canWrite}
        onSaved={(_, saved) => {
          setSaved(`Saved version ${saved}.`);
          if (version) go(`workflows/${encodeURIComponent(id)}`);
          else setN((x) => x + 1);
        }}
      />
    </section>
  );
}

function StartRun({ id, version, def }: { id: string; version: number; def: Definition }) {
  const [inputs, setInputs] = useState(() => JSON.stringify(Object.fromEntries(Object.keys(def.inputs ?? {}).map((k) => [k, null])), null, 2));
  const [debug, setDebug] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const start = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { version, inputs: JSON.parse(inputs || '{}'), debug };
      const r = await call<{ runId: string }>('POST', `/workflows/${encodeURIComponent(id)}/runs`, { body });
      go(`runs/${encodeURIComponent(r.body.runId)}`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <details className="panel">
      <summary>Start a run</summary>
      <form className="form" onSubmit={start}>
        <label>
          Inputs (JSON)
          <textarea value={inputs} onChange={(e) => setInputs(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={debug} onChange={(e) => setDebug(e.target.checked)} /> Debug (pause before every node)
        </label>
        <button type="submit">Start run</button>
        <ErrorNote error={error} />
      </form>
    </details>
  );
}
