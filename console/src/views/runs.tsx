// Runs: search by status, workflow and search attributes; a run's live graph (node status
// colours, attempts and timings, inputs and outputs on click) fed by workflow.runs over SSE; and
// the run's controls: step, continue, approve, reject, cancel, reset from a node.
import { Background, Controls, type Node, ReactFlow, ReactFlowProvider } from '@xyflow/react';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { call, get, may, q } from '../api';
import { go, type ViewProps } from '../app';
import { type Definition, edgesOf, layout, type NodeType } from '../graph';
import { useStream } from '../sse';
import { Choice, ErrorNote, Json, Loading, Time, useLoad } from '../ui';
import { type NodeData, nodeTypes } from './builder';

interface RunBrief {
  runId: string;
  workflowId: string;
  version: number;
  status: string;
  startedAt?: number;
  endedAt?: number;
  searchAttributes?: Record<string, string>;
}
interface RunNode {
  status: string;
  attempts?: number;
  inputs?: unknown;
  output?: unknown;
  error?: unknown;
  startedAt?: number;
  durationMs?: number;
  waiting?: unknown;
  reused?: boolean;
}
interface Run extends RunBrief {
  paused?: string;
  nodes: Record<string, RunNode>;
  inputs?: unknown;
  outputs?: unknown;
  debug?: string;
  resetOf?: { runId: string; node: string };
  resets?: string[];
  [k: string]: unknown;
}

const ENDED = new Set(['completed', 'failed', 'cancelled']);

export function RunsView({ session, route }: ViewProps) {
  if (route.rest[0]) return <RunDetail id={route.rest[0]} canWrite={may(session, 'workflows:write')} canApprove={may(session, 'workflows:approve')} />;
  return <RunList initialWorkflow={route.query.get('workflow') ?? ''} />;
}

function RunList({ initialWorkflow }: { initialWorkflow: string }) {
  const [workflow, setWorkflow] = useState(initialWorkflow);
  const [status, setStatus] = useState('');
  const [attrs, setAttrs] = useState('');
  const [applied, setApplied] = useState({ workflow: initialWorkflow, status: '', attrs: '' });
  const runs = useLoad(
    (signal) => {
      const extra: Record<string, string> = {};
      for (const pair of applied.attrs.split(',').map((s) => s.trim()).filter(Boolean)) {
        const [k, ...v] = pair.split('=');
        extra[`attr.${k}`] = v.join('=');
      }
      return get<{ runs: RunBrief[]; next?: string }>(`/runs${q({ workflow: applied.workflow, status: applied.status, limit: 100, ...extra })}`, signal);
    },
    [applied],
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied({ workflow, status, attrs });
  };
  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form className="filters" role="search" onSubmit={submit}>
        <label>
          Workflow
          <input value={workflow} onChange={(e) => setWorkflow(e.target.value)} />
        </label>
        <Choice label="Status" value={status} options={['queued', 'running', 'paused', 'completed', 'failed', 'cancelled']} onChange={setStatus} any="any" />
        <label>
          Attributes
          <input value={attrs} onChange={(e) => setAttrs(e.target.value)} placeholder="customer=acme, region=eu" />
        </label>
        <button type="submit">Search</button>
        <button type="button" onClick={runs.reload}>
          Refresh
        </button>
      </form>
      <ErrorNote error={runs.error} onRetry={runs.reload} />
      {runs.loading && !runs.data ? (
        <Loading what="runs" />
      ) : (
        <table className="list" data-testid="runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Attributes</th>
            </tr>
          </thead>
          <tbody>
            {(runs.data?.runs ?? []).map((r) => (
              <tr key={r.runId}>
                <td>
                  <a href={`#/runs/${encodeURIComponent(r.runId)}`}>
                    <code>{r.runId.slice(0, 18)}</code>
                  </a>
                </td>
                <td>
                  {r.workflowId} v{r.version}
                </td>
                <td>
                  <span className={`status ${r.status}`}>{r.status}</span>
                </td>
                <td>
                  <Time at={r.startedAt} />
                </td>
                <td className="small">
                  {Object.entries(r.searchAttributes ?? {})
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')}
                </td>
              </tr>
            ))}
            {runs.data && !runs.data.runs.length && (
              <tr>
                <td colSpan={5} className="muted">
                  No runs match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RunDetail({ id, canWrite, canApprove }: { id: string; canWrite: boolean; canApprove: boolean }) {
  const run = useLoad((signal) => get<Run>(`/runs/${encodeURIComponent(id)}`, signal), [id]);
  const wfKey = run.data ? `${run.data.workflowId}@${run.data.version}` : '';
  const def = useLoad(
    (signal) =>
      run.data
        ? get<{ document: Definition }>(`/workflows/${encodeURIComponent(run.data.workflowId)}/versions/${run.data.version}`, signal).then((s) => s.document)
        : Promise.resolve(undefined),
    [wfKey],
  );
  // The node types' ports, so the graph draws each connection between its ports.
  const library = useLoad((signal) => get<NodeType[]>('/workflows/nodes', signal), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [comment, setComment] = useState('');
  const [resetInputs, setResetInputs] = useState('');
  const ended = run.data ? ENDED.has(run.data.status) : false;

  const live = useStream(
    'workflow.runs',
    ({ event }) => {
      if (event.key === id) run.reload();
    },
    id,
  );
  // A slow stream (or one this caller may not read) still shows progress.
  useEffect(() => {
    if (ended) return;
    const t = setInterval(run.reload, 2000);
    return () => clearInterval(t);
  }, [ended, run.reload]);

  const nodes: Node<NodeData>[] = useMemo(() => {
    if (!def.data) return [];
    const pos = layout(def.data);
    return def.data.nodes.map((n) => {
      const st = run.data?.nodes?.[n.id];
      const status = run.data?.paused === n.id ? 'paused' : (st?.status ?? 'pending');
      return {
        id: n.id,
        type: 'wf',
        position: pos[n.id],
        data: { node: n, spec: library.data?.find((t) => t.type === n.type), problems: [], status, detail: st ? `${st.status}, attempt ${st.attempts ?? 0}${st.durationMs !== undefined ? `, ${st.durationMs} ms` : ''}` : 'not reached' },
        draggable: false,
        connectable: false,
      };
    });
  }, [def.data, run.data, library.data]);
  const edges = useMemo(
    () =>
      def.data
        ? edgesOf(def.data).map((e) => ({
            id: e.id,
            source: e.source,
            target: e.target,
            sourceHandle: `out:${e.sourcePort}`,
            targetHandle: `in:${e.targetPort}`,
            animated: run.data?.nodes?.[e.target]?.status === 'running',
          }))
        : [],
    [def.data, run.data],
  );

  const command = async (what: string, body: Record<string, unknown> = {}) => {
    setError(null);
    try {
      const r = await call<{ runId?: string }>('POST', `/runs/${encodeURIComponent(id)}/${what}`, { body });
      if (what === 'reset' && r.body.runId) go(`runs/${encodeURIComponent(r.body.runId)}`);
      else run.reload();
    } catch (e) {
      setError(e);
    }
  };

  if (run.error) return <ErrorNote error={run.error} onRetry={run.reload} />;
  if (!run.data) return <Loading what="the run" />;
  const r = run.data;
  const sel = selected ? r.nodes?.[selected] : undefined;
  // The approval node the run waits at, if any.
  const waitingApproval = Object.entries(r.nodes ?? {}).find(([id, n]) => n.status === 'waiting' && def.data?.nodes.some((d) => d.id === id && d.type === 'approval'));
  return (
    <section aria-labelledby="run-title">
      <p>
        <a href="#/runs">← Runs</a>
      </p>
      <div className="title-row">
        <h1 id="run-title">
          Run <code>{r.runId}</code>
        </h1>
        <span className={`live ${live}`} role="status">
          {live === 'live' ? '● live' : live}
        </span>
      </div>
      <dl className="facts">
        <dt>Workflow</dt>
        <dd>
          <a href={`#/workflows/${encodeURIComponent(r.workflowId)}/${r.version}`}>
            {r.workflowId} v{r.version}
          </a>
        </dd>
        <dt>Status</dt>
        <dd>
          <span className={`status ${r.status}`} data-testid="run-status">
            {r.status}
          </span>
          {r.paused ? ` at ${r.paused}` : ''}
        </dd>
        <dt>Started</dt>
        <dd>
          <Time at={r.startedAt} />
        </dd>
        {r.resetOf?.runId && (
          <>
            <dt>Reset of</dt>
            <dd>
              <a href={`#/runs/${encodeURIComponent(r.resetOf.runId)}`}>{r.resetOf.runId}</a> from node {r.resetOf.node}
            </dd>
          </>
        )}
      </dl>
      <div className="controls" role="toolbar" aria-label="Run controls">
        {canWrite && r.status === 'paused' && (
          <>
            <button type="button" onClick={() => void command('step')}>
              Step
            </button>
            <button type="button" onClick={() => void command('continue')}>
              Continue
            </button>
          </>
        )}
        {canApprove && waitingApproval && !ended && (
          <>
            <input aria-label="Comment" placeholder="comment" value={comment} onChange={(e) => setComment(e.target.value)} />
            <button type="button" onClick={() => void command('approve', { node: waitingApproval[0], comment })}>
              Approve
            </button>
            <button type="button" onClick={() => void command('reject', { node: waitingApproval[0], comment })}>
              Reject
            </button>
          </>
        )}
        {canWrite && !ended && (
          <button type="button" onClick={() => void command('cancel')}>
            Cancel run
          </button>
        )}
        {canWrite && ended && selected && (
          <>
            <input
              aria-label="Inputs to change on reset (JSON)"
              placeholder='inputs to change, e.g. {"ok": true}'
              value={resetInputs}
              onChange={(e) => setResetInputs(e.target.value)}
            />
            <button
              type="button"
              onClick={() => {
                let inputs: unknown;
                try {
                  inputs = resetInputs.trim() ? JSON.parse(resetInputs) : undefined;
                } catch (e) {
                  setError(new Error(`inputs to change: ${(e as Error).message}`));
                  return;
                }
                void command('reset', inputs === undefined ? { node: selected } : { node: selected, inputs });
              }}
            >
              Reset from {selected}
            </button>
          </>
        )}
      </div>
      <ErrorNote error={error} />
      <ErrorNote error={def.error} />
      <div className="run-body">
        <div className="canvas run-canvas" data-testid="run-graph">
          <ReactFlowProvider>
            <ReactFlow
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              nodesDraggable={false}
              nodesConnectable={false}
              onNodeClick={(_, n) => setSelected(n.id)}
              fitView
              fitViewOptions={{ maxZoom: 1 }}
            >
              <Background />
              <Controls showInteractive={false} />
            </ReactFlow>
          </ReactFlowProvider>
        </div>
        <aside className="inspector" aria-label="Node detail">
          {selected ? (
            <>
              <h3>{selected}</h3>
              {sel ? (
                <dl className="facts small">
                  <dt>Status</dt>
                  <dd>{sel.status}</dd>
                  <dt>Attempts</dt>
                  <dd>{sel.attempts ?? 0}</dd>
                  <dt>Started</dt>
                  <dd>
                    <Time at={sel.startedAt} />
                  </dd>
                  <dt>Duration</dt>
                  <dd>{sel.durationMs !== undefined ? `${sel.durationMs} ms` : '—'}</dd>
                </dl>
              ) : (
                <p className="muted">Not reached.</p>
              )}
              {sel?.inputs !== undefined && (
                <>
                  <h4>Inputs</h4>
                  <Json value={sel.inputs} />
                </>
              )}
              {sel?.output !== undefined && (
                <>
                  <h4>Output</h4>
                  <Json value={sel.output} />
                </>
              )}
              {sel?.error !== undefined && (
                <>
                  <h4>Error</h4>
                  <Json value={sel.error} />
                </>
              )}
            </>
          ) : (
            <>
              <h3>Run</h3>
              <h4>Inputs</h4>
              <Json value={r.inputs ?? {}} />
              {r.outputs !== undefined && (
                <>
                  <h4>Outputs</h4>
                  <Json value={r.outputs} />
                </>
              )}
              <p className="muted small">Select a node for its inputs, output and timings.</p>
            </>
          )}
        </aside>
      </div>
    </section>
  );
}
