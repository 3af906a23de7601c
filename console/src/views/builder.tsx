// The visual workflow builder (React Flow): drag node types from the library onto the canvas,
// connect output ports to input ports (each connection is a binding "node.port"), edit a node's
// config through a form generated from its schema, and see the server's compile (POST
// /workflows/validate) on the nodes and edges as you go. Saving appends a new version; when
// someone saved that version first, the user sees both and chooses, never a silent overwrite.
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  Handle,
  MiniMap,
  type Node,
  type NodeProps,
  type OnEdgesChange,
  type OnNodesChange,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from '@xyflow/react';
import { type DragEvent, memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import YAML from 'yaml';
import { ApiError, call } from '../api';
import { type DefNode, type Definition, edgesOf, layout, type NodeType } from '../graph';
import { ErrorNote, describe } from '../ui';
import { ConfigForm } from './configform';

export interface Problem {
  message: string;
  node?: string;
  field?: string;
}

export interface NodeData extends Record<string, unknown> {
  node: DefNode;
  spec?: NodeType;
  problems: Problem[];
  status?: string; // a run's node status (the run view)
  detail?: string;
}

export const WfNode = memo(function WfNode({ data, selected }: NodeProps<Node<NodeData>>) {
  const { node, spec, problems, status, detail } = data;
  const bound = Object.keys(node.inputs ?? {});
  const ins = [...(spec?.inputs ?? []).map((p) => p.name), ...bound.filter((b) => !(spec?.inputs ?? []).some((p) => p.name === b))];
  const outs = (spec?.outputs ?? []).map((p) => p.name);
  const extra = (node.config?.cases as { port?: string }[] | undefined)?.map((c) => c.port).filter(Boolean) as string[] | undefined;
  const branches = node.config?.branches as string[] | undefined;
  const allOuts = [...new Set([...outs, ...(extra ?? []), ...(Array.isArray(branches) ? branches : []), ...(node.type === 'switch' ? ['default'] : [])])];
  const rows = Math.max(ins.length + (spec?.openInputs ? 1 : 0), allOuts.length, 1);
  return (
    <div
      className={`wf-node ${problems.length ? 'has-problems' : ''} ${status ? `st-${status}` : ''} ${selected ? 'selected' : ''}`}
      data-node={node.id}
      data-status={status}
      style={{ minHeight: 40 + rows * 18 }}
      title={problems.map((p) => p.message).join('\n') || detail}
    >
      <div className="wf-head">
        <strong>{node.id}</strong> <span className="muted">{node.type}</span>
        {status && <span className="wf-status"> · {status}</span>}
      </div>
      {problems.length > 0 && (
        <div className="wf-problems" role="note" style={{ marginTop: rows * 18 }}>
          {problems[0].message}
          {problems.length > 1 ? ` (+${problems.length - 1})` : ''}
        </div>
      )}
      {ins.map((p, i) => (
        <Handle key={`in-${p}`} type="target" position={Position.Left} id={`in:${p}`} style={{ top: 34 + i * 18 }} title={`input ${p}`}>
          <span className="port in">{p}</span>
        </Handle>
      ))}
      {spec?.openInputs && (
        <Handle type="target" position={Position.Left} id="in:*" style={{ top: 34 + ins.length * 18 }} title="a new input">
          <span className="port in">+</span>
        </Handle>
      )}
      {allOuts.map((p, i) => (
        <Handle key={`out-${p}`} type="source" position={Position.Right} id={`out:${p}`} style={{ top: 34 + i * 18 }} title={`output ${p}`}>
          <span className="port out">{p}</span>
        </Handle>
      ))}
    </div>
  );
});

export const nodeTypes = { wf: WfNode };

function problemsByNode(problems: Problem[]) {
  const m = new Map<string, Problem[]>();
  for (const p of problems) if (p.node) m.set(p.node, [...(m.get(p.node) ?? []), p]);
  return m;
}

// Line diff (longest common subsequence) of two texts, for the "someone saved first" prompt.
export function diffLines(a: string, b: string): { op: ' ' | '-' | '+'; line: string }[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  if (n * m > 4_000_000) return [...x.map((line) => ({ op: '-' as const, line })), ...y.map((line) => ({ op: '+' as const, line }))];
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out: { op: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', line: x[i] });
      i++;
      j++;
    } else if (dp[i + 1][j] >= dp[i][j + 1]) out.push({ op: '-', line: x[i++] });
    else out.push({ op: '+', line: y[j++] });
  }
  while (i < n) out.push({ op: '-', line: x[i++] });
  while (j < m) out.push({ op: '+', line: y[j++] });
  return out;
}

interface Props {
  initial: Definition;
  baseVersion: number; // 0: a new workflow
  library: NodeType[];
  canWrite: boolean;
  onSaved: (id: string, version: number) => void;
}

export function Builder(props: Props) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function uniqueId(base: string, taken: Set<string>) {
  let k = 1;
  while (taken.has(`${base}_${k}`)) k++;
  return `${base}_${k}`;
}

function defaults(spec: NodeType): Record<string, unknown> {
  const s = spec.config as { properties?: Record<string, { default?: unknown }>; required?: string[] };
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(s.properties ?? {})) if (p.default !== undefined && (s.required ?? []).includes(k)) out[k] = p.default;
  return out;
}

function Canvas({ initial, baseVersion, library, canWrite, onSaved }: Props) {
  const [def, setDef] = useState<Definition>(initial);
  const [base, setBase] = useState(baseVersion);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [checking, setChecking] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<{ theirs: Definition; version: number } | null>(null);
  const [filter, setFilter] = useState('');
  // Zoomed far out, node text is too small to read: it is not painted (a large graph then drags
  // at interactive speed).
  const [far, setFar] = useState(false);
  const flow = useReactFlow<Node<NodeData>>();
  const wrapper = useRef<HTMLDivElement>(null);
  const types = useMemo(() => new Map(library.map((t) => [t.type, t])), [library]);

  // React Flow owns the nodes (uncontrolled): a drag moves a node inside its store alone, which
  // keeps a large graph responsive. The definition and the compile's problems rebuild the nodes'
  // data through setNodes, keeping their positions.
  const initialNodes = useMemo<Node<NodeData>[]>(() => {
    const pos = layout(initial);
    return initial.nodes.map((n) => ({ id: n.id, type: 'wf', position: pos[n.id] ?? { x: 0, y: 0 }, data: { node: n, spec: types.get(n.type), problems: [] } }));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const placed = useRef(new Map<string, { x: number; y: number }>());
  useEffect(() => {
    const byNode = problemsByNode(problems);
    flow.setNodes((old) => {
      const at = new Map(old.map((n) => [n.id, n]));
      const fresh = layout(def);
      return def.nodes.map((n) => {
        const prev = at.get(n.id);
        const np = byNode.get(n.id) ?? [];
        if (prev && prev.data.node === n && prev.data.problems.length === np.length && prev.data.problems.every((p, i) => p === np[i])) return prev;
        const position = prev?.position ?? placed.current.get(n.id) ?? fresh[n.id] ?? { x: 0, y: 0 };
        return { ...(prev ?? { id: n.id, type: 'wf' }), position, data: { node: n, spec: types.get(n.type), problems: np } } as Node<NodeData>;
      });
    });
  }, [def, problems, types, flow]);

  const edges: Edge[] = useMemo(() => {
    const bad = new Set(problems.filter((p) => p.node && p.field?.startsWith('inputs.')).map((p) => `${p.node}.${p.field!.slice(7).split('.')[0]}`));
    return edgesOf(def).map((e) => ({
      id: e.id,
      source: e.source,
      sourceHandle: `out:${e.sourcePort}`,
      target: e.target,
      targetHandle: `in:${e.targetPort}`,
      className: bad.has(`${e.target}.${e.targetPort}`) ? 'edge-bad' : undefined,
      // A connection's wide invisible hit area costs hit testing on every pointer move.
      interactionWidth: def.nodes.length > 300 ? 0 : undefined,
    }));
  }, [def, problems]);

  // The server's compile, a moment after each change.
  useEffect(() => {
    const ac = new AbortController();
    const t = setTimeout(async () => {
      setChecking(true);
      try {
        // A draft without an id or version is compiled as one, so its nodes' problems show from
        // the first node on; the missing id is reported by the id field itself.
        const draft = { ...def, id: def.id || 'draft', version: def.version ?? base + 1 };
        const r = await call<{ valid: boolean; problems: Problem[] }>('POST', '/workflows/validate', { body: draft, signal: ac.signal });
        setProblems([...(def.id ? [] : [{ field: 'id', message: 'is required: the workflow id, to save it' }]), ...(r.body.problems ?? [])]);
        setError(null);
      } catch (e) {
        if ((e as Error).name === 'AbortError') return;
        // A definition that is not even a document: the error names what.
        if (e instanceof ApiError && e.status === 400) setProblems([{ message: e.message, field: e.field }]);
        else setError(e);
      } finally {
        if (!ac.signal.aborted) setChecking(false);
      }
    }, 300);
    return () => {
      clearTimeout(t);
      ac.abort();
    };
  }, [def, base]);

  const updateNode = useCallback((id: string, fn: (n: DefNode) => DefNode | null) => {
    setDef((d) => {
      const nodesNext: DefNode[] = [];
      for (const n of d.nodes) {
        if (n.id !== id) nodesNext.push(n);
        else {
          const r = fn(n);
          if (r) nodesNext.push(r);
        }
      }
      return { ...d, nodes: nodesNext };
    });
  }, []);

  const onNodesChange: OnNodesChange<Node<NodeData>> = useCallback(
    (changes) => {
      const removed = changes.filter((c) => c.type === 'remove').map((c) => (c as { id: string }).id);
      const sel = changes.find((c) => c.type === 'select' && c.selected) as { id: string } | undefined;
      if (sel) setSelected(sel.id);
      if (removed.length && canWrite)
        setDef((d) => {
          const gone = new Set(removed);
          return {
            ...d,
            nodes: d.nodes
              .filter((n) => !gone.has(n.id))
              .map((n) => {
                const inputs = Object.fromEntries(Object.entries(n.inputs ?? {}).filter(([, b]) => !(typeof b === 'string' && gone.has(b.split('.')[0]))));
                return { ...n, inputs };
              }),
          };
        });
    },
    [canWrite],
  );

  const onEdgesChange: OnEdgesChange = useCallback(
    (changes) => {
      if (!canWrite) return;
      for (const c of changes) {
        if (c.type !== 'remove') continue;
        const e = edges.find((x) => x.id === c.id);
        if (!e) continue;
        const port = e.targetHandle!.slice(3);
        updateNode(e.target, (n) => {
          const inputs = { ...(n.inputs ?? {}) };
          delete inputs[port];
          return { ...n, inputs };
        });
      }
    },
    [edges, updateNode, canWrite],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      if (!canWrite || !c.source || !c.target || !c.sourceHandle || !c.targetHandle) return;
      const out = c.sourceHandle.slice(4);
      let port = c.targetHandle.slice(3);
      if (port === '*') port = c.source;
      updateNode(c.target, (n) => ({ ...n, inputs: { ...(n.inputs ?? {}), [port]: `${c.source}.${out}` } }));
    },
    [updateNode, canWrite],
  );

  const addNode = useCallback(
    (type: string, position: { x: number; y: number }) => {
      const spec = types.get(type);
      if (!spec) return;
      setDef((d) => {
        const id = uniqueId(type, new Set(d.nodes.map((n) => n.id)));
        placed.current.set(id, position);
        setSelected(id);
        return { ...d, nodes: [...d.nodes, { id, type, config: defaults(spec), inputs: {} }] };
      });
    },
    [types],
  );

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const type = e.dataTransfer.getData('application/x-nf-node');
    if (!type || !canWrite) return;
    addNode(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const save = async (version: number) => {
    setError(null);
    const doc = { ...def, version };
    try {
      const r = await call<{ workflowId: string; version: number }>('POST', '/workflows', { body: doc });
      setBase(r.body.version);
      setDef((d) => ({ ...d, version: r.body.version }));
      setConflict(null);
      onSaved(r.body.workflowId, r.body.version);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.code === 'version_exists') {
        try {
          const stored = (await call<{ version: number; document: Definition }>('GET', `/workflows/${encodeURIComponent(def.id)}`)).body;
          setConflict({ theirs: { ...stored.document, version: stored.version }, version: stored.version });
        } catch (e2) {
          setError(e2);
        }
      } else if (e instanceof ApiError && e.status === 400) {
        setError(e);
      } else setError(e);
    }
  };

  const exportAs = (format: 'yaml' | 'json') => {
    const doc = { ...def, version: def.version ?? base + 1 };
    const text = format === 'yaml' ? YAML.stringify(doc) : JSON.stringify(doc, null, 2);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: format === 'yaml' ? 'application/yaml' : 'application/json' }));
    a.download = `${def.id || 'workflow'}.${format}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  const importText = (text: string) => {
    try {
      const doc = (text.trim().startsWith('{') ? JSON.parse(text) : YAML.parse(text)) as Definition;
      if (!doc || typeof doc !== 'object' || !Array.isArray(doc.nodes)) throw new Error('a workflow document has a nodes list');
      const pos = layout(doc);
      flow.setNodes(doc.nodes.map((n) => ({ id: n.id, type: 'wf', position: pos[n.id], data: { node: n, spec: types.get(n.type), problems: [] } })));
      setDef(doc);
      setError(null);
    } catch (e) {
      setError(new Error(`import: ${describe(e)}`));
    }
  };

  const sel = def.nodes.find((n) => n.id === selected);
  const selSpec = sel ? types.get(sel.type) : undefined;
  const categories = useMemo(() => {
    const m = new Map<string, NodeType[]>();
    for (const t of library) if (!filter || t.type.includes(filter) || t.summary.toLowerCase().includes(filter.toLowerCase())) m.set(t.category, [...(m.get(t.category) ?? []), t]);
    return [...m.entries()];
  }, [library, filter]);
  const general = problems.filter((p) => !p.node);

  return (
    <div className="builder">
      <div className="builder-bar">
        <label>
          Workflow id
          <input value={def.id} onChange={(e) => setDef({ ...def, id: e.target.value })} disabled={!canWrite || base > 0} aria-label="Workflow id" />
        </label>
        <span className="muted small">
          {base > 0 ? `editing from version ${base}` : 'new workflow'} · {def.nodes.length} nodes ·{' '}
          <span data-testid="validity" data-valid={problems.length === 0 && !checking}>
            {checking ? 'checking…' : problems.length ? `${problems.length} problem${problems.length > 1 ? 's' : ''}` : 'valid'}
          </span>
        </span>
        {canWrite && (
          <button type="button" onClick={() => void save(base + 1)} disabled={!def.id}>
            Save as version {base + 1}
          </button>
        )}
        <button type="button" onClick={() => exportAs('yaml')}>
          Export YAML
        </button>
        <button type="button" onClick={() => exportAs('json')}>
          Export JSON
        </button>
        {canWrite && (
          <label className="button">
            Import
            <input
              type="file"
              accept=".yaml,.yml,.json"
              className="sr-only"
              onChange={(e) => {
                const f = e.target.files?.[0];
                if (f) void f.text().then(importText);
              }}
            />
          </label>
        )}
      </div>
      <ErrorNote error={error} />
      {general.length > 0 && (
        <ul className="problems" aria-label="Problems of the workflow">
          {general.map((p, i) => (
            <li key={i}>
              {p.field ? <code>{p.field}</code> : null} {p.message}
            </li>
          ))}
        </ul>
      )}
      {conflict && (
        <div className="conflict" role="alertdialog" aria-labelledby="conflict-title">
          <h3 id="conflict-title">Someone saved a newer version</h3>
          <p>
            Version {conflict.version} of {def.id} was saved after you loaded version {base}. Compare, then choose:
          </p>
          <pre className="diff" data-testid="diff">
            {diffLines(JSON.stringify({ ...conflict.theirs, version: undefined }, null, 2), JSON.stringify({ ...def, version: undefined }, null, 2)).map((d, i) => (
              <div key={i} className={d.op === '+' ? 'add' : d.op === '-' ? 'del' : ''}>
                {d.op} {d.line}
              </div>
            ))}
          </pre>
          <p className="small muted">− theirs (version {conflict.version}) · + yours</p>
          <button type="button" onClick={() => void save(conflict.version + 1)}>
            Save mine as version {conflict.version + 1}
          </button>
          <button
            type="button"
            onClick={() => {
              setBase(conflict.version);
              importText(JSON.stringify(conflict.theirs));
              setConflict(null);
            }}
          >
            Load theirs (drop my changes)
          </button>
          <button type="button" onClick={() => setConflict(null)}>
            Keep editing
          </button>
        </div>
      )}
      <div className="builder-body">
        {canWrite && (
          <aside className="library" aria-label="Node library">
            <input type="search" placeholder="Find a node type" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Find a node type" />
            {categories.map(([cat, ts]) => (
              <div key={cat}>
                <h4>{cat}</h4>
                <ul>
                  {ts.map((t) => (
                    <li key={t.type}>
                      <button
                        type="button"
                        className="palette"
                        draggable
                        data-node-type={t.type}
                        title={t.summary}
                        onDragStart={(e) => {
                          e.dataTransfer.setData('application/x-nf-node', t.type);
                          e.dataTransfer.effectAllowed = 'move';
                        }}
                        onClick={() => addNode(t.type, flow.screenToFlowPosition({ x: (wrapper.current?.getBoundingClientRect().left ?? 0) + 80, y: (wrapper.current?.getBoundingClientRect().top ?? 0) + 80 }))}
                      >
                        {t.type}
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            ))}
          </aside>
        )}
        <div className={`canvas ${far ? 'far' : ''}`} ref={wrapper} onDragOver={(e) => (e.preventDefault(), (e.dataTransfer.dropEffect = 'move'))} onDrop={onDrop} data-testid="canvas">
          <ReactFlow
            defaultNodes={initialNodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            nodesConnectable={canWrite}
            deleteKeyCode={canWrite ? ['Delete', 'Backspace'] : null}
            onlyRenderVisibleElements
            minZoom={0.05}
            fitView={initial.nodes.length > 0}
            fitViewOptions={{ maxZoom: 1 }}
            onMove={(_, vp) => setFar(vp.zoom < 0.35)}
            onInit={(inst) => setFar(inst.getZoom() < 0.35)}
          >
            <Background />
            <Controls />
            {/* The minimap redraws every node on every move: a large graph goes without it. */}
            {def.nodes.length <= 300 && <MiniMap pannable zoomable />}
          </ReactFlow>
        </div>
        <aside className="inspector" aria-label="Node settings">
          {sel ? (
            <>
              <h3>
                {sel.id} <span className="muted small">{sel.type}</span>
              </h3>
              <p className="small">{selSpec?.summary}</p>
              {(problems.filter((p) => p.node === sel.id) ?? []).map((p, i) => (
                <p key={i} className="field-error">
                  {p.field ? <code>{p.field}</code> : null} {p.message}
                </p>
              ))}
              <h4>Config</h4>
              <ConfigForm
                idPrefix={`cfg-${sel.id}`}
                schema={(selSpec?.config ?? {}) as never}
                value={sel.config ?? {}}
                readOnly={!canWrite}
                onChange={(config) => updateNode(sel.id, (n) => ({ ...n, config }))}
              />
              <h4>Inputs</h4>
              <ul className="plain small">
                {Object.entries(sel.inputs ?? {}).map(([k, v]) => (
                  <li key={k}>
                    <code>{k}</code> ← <code>{JSON.stringify(v)}</code>
                  </li>
                ))}
              </ul>
              {canWrite && (
                <button type="button" onClick={() => (updateNode(sel.id, () => null), setSelected(null))}>
                  Delete node
                </button>
              )}
            </>
          ) : (
            <>
              <h3>Workflow</h3>
              <WorkflowFields def={def} onChange={setDef} readOnly={!canWrite} />
            </>
          )}
        </aside>
      </div>
    </div>
  );
}

function WorkflowFields({ def, onChange, readOnly }: { def: Definition; onChange: (d: Definition) => void; readOnly: boolean }) {
  const schema = {
    properties: {
      inputs: { type: 'object', description: 'name: string | number | bool | object | array | any' },
      variables: { type: 'object', description: 'initial values' },
      outputs: { type: 'object', description: 'name: a binding' },
    },
  };
  const value = { inputs: def.inputs, variables: def.variables, outputs: def.outputs } as Record<string, unknown>;
  return <ConfigForm idPrefix="wf" schema={schema} value={value} readOnly={readOnly} onChange={(v) => onChange({ ...def, inputs: v.inputs as never, variables: v.variables as never, outputs: v.outputs as never })} />;
}
