// A workflow definition as a graph: nodes, and an edge for every connection binding
// ("node.port") of a node's inputs; with a layered layout (longest path from a source).
export interface DefNode {
  id: string;
  type: string;
  config?: Record<string, unknown>;
  inputs?: Record<string, unknown>;
  [k: string]: unknown;
}
export interface Definition {
  id: string;
  version?: number;
  inputs?: Record<string, unknown>;
  variables?: Record<string, unknown>;
  nodes: DefNode[];
  outputs?: Record<string, unknown>;
  [k: string]: unknown;
}
export interface Port {
  name: string;
  type: string;
  required: boolean;
  description?: string;
}
export interface NodeType {
  type: string;
  category: string;
  summary: string;
  config: Record<string, unknown>;
  inputs: Port[];
  outputs: Port[];
  openInputs?: boolean;
  portsFrom?: string;
}

// "a.out" -> {node: "a", port: "out"} when `a` names a node; anything else is not a connection.
export function connection(binding: unknown, ids: Set<string>): { node: string; port: string } | null {
  if (typeof binding !== 'string') return null;
  const m = binding.match(/^([A-Za-z0-9_.-]+?)\.([A-Za-z0-9_-]+)$/);
  if (!m || !ids.has(m[1])) return null;
  return { node: m[1], port: m[2] };
}

export interface GraphEdge {
  id: string;
  source: string;
  sourcePort: string;
  target: string;
  targetPort: string;
}

export function edgesOf(def: Definition): GraphEdge[] {
  const ids = new Set(def.nodes.map((n) => n.id));
  const out: GraphEdge[] = [];
  for (const n of def.nodes)
    for (const [port, b] of Object.entries(n.inputs ?? {})) {
      const c = connection(b, ids);
      if (c) out.push({ id: `${c.node}.${c.port}->${n.id}.${port}`, source: c.node, sourcePort: c.port, target: n.id, targetPort: port });
    }
  return out;
}

// Positions by layer (longest path from a node without inputs), rows within a layer. A graph
// deeper than `wrap` layers continues in bands below, so a long chain stays on screen.
export function layout(def: Definition, dx = 260, dy = 130, wrap = 24): Record<string, { x: number; y: number }> {
  const edges = edgesOf(def);
  const preds = new Map<string, string[]>();
  for (const e of edges) preds.set(e.target, [...(preds.get(e.target) ?? []), e.source]);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const d = (id: string): number => {
    if (depth.has(id)) return depth.get(id)!;
    if (visiting.has(id)) return 0; // a cycle: the compile reports it
    visiting.add(id);
    const v = Math.max(-1, ...(preds.get(id) ?? []).map(d)) + 1;
    visiting.delete(id);
    depth.set(id, v);
    return v;
  };
  const rows = new Map<number, number>();
  const layerOf = new Map<string, number>();
  for (const n of def.nodes) {
    const layer = d(n.id);
    layerOf.set(n.id, layer);
    rows.set(layer, (rows.get(layer) ?? 0) + 1);
  }
  const band = Math.max(1, ...rows.values()) + 1;
  const placed = new Map<number, number>();
  const pos: Record<string, { x: number; y: number }> = {};
  for (const n of def.nodes) {
    const layer = layerOf.get(n.id)!;
    const row = placed.get(layer) ?? 0;
    placed.set(layer, row + 1);
    pos[n.id] = { x: (layer % wrap) * dx, y: (Math.floor(layer / wrap) * band + row) * dy };
  }
  return pos;
}
