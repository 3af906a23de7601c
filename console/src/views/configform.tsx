// A form generated from a node type's config JSON Schema: strings, numbers, booleans and enums
// as inputs; objects, arrays and anything else as JSON text (checked as it is typed).
import { useEffect, useState } from 'react';

type Schema = { type?: string | string[]; enum?: unknown[]; description?: string; default?: unknown; properties?: Record<string, Schema>; required?: string[] };

function JsonField({ id, value, onChange }: { id: string; value: unknown; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(() => (value === undefined ? '' : JSON.stringify(value, null, 2)));
  const [bad, setBad] = useState('');
  useEffect(() => setText(value === undefined ? '' : JSON.stringify(value, null, 2)), [value]);
  return (
    <>
      <textarea
        id={id}
        value={text}
        aria-invalid={bad ? true : undefined}
        onChange={(e) => {
          setText(e.target.value);
          if (!e.target.value.trim()) {
            setBad('');
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setBad('');
          } catch (err) {
            setBad((err as Error).message);
          }
        }}
      />
      {bad && <span className="field-error">{bad}</span>}
    </>
  );
}

export function ConfigForm({
  schema,
  value,
  onChange,
  idPrefix,
  readOnly,
}: {
  schema: Schema;
  value: Record<string, unknown>;
  onChange: (v: Record<string, unknown>) => void;
  idPrefix: string;
  readOnly?: boolean;
}) {
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const set = (k: string, v: unknown) => {
    const next = { ...value };
    if (v === undefined || v === '') delete next[k];
    else next[k] = v;
    onChange(next);
  };
  if (!props.length) return <p className="muted small">This node type takes no configuration.</p>;
  return (
    <fieldset className="form" disabled={readOnly}>
      {props.map(([k, s]) => {
        const id = `${idPrefix}-${k}`;
        const t = Array.isArray(s.type) ? s.type[0] : s.type;
        const v = value[k];
        let field;
        if (s.enum)
          field = (
            <select id={id} value={v === undefined ? '' : String(v)} onChange={(e) => set(k, e.target.value === '' ? undefined : s.enum!.find((x) => String(x) === e.target.value))}>
              <option value="">—</option>
              {s.enum.map((x) => (
                <option key={String(x)} value={String(x)}>
                  {String(x)}
                </option>
              ))}
            </select>
          );
        else if (t === 'string') field = <input id={id} value={typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v)} onChange={(e) => set(k, e.target.value)} />;
        else if (t === 'integer' || t === 'number')
          field = <input id={id} type="number" step={t === 'integer' ? 1 : 'any'} value={typeof v === 'number' ? v : ''} onChange={(e) => set(k, e.target.value === '' ? undefined : Number(e.target.value))} />;
        else if (t === 'boolean') field = <input id={id} type="checkbox" checked={v === true} onChange={(e) => set(k, e.target.checked)} />;
        else field = <JsonField id={id} value={v} onChange={(x) => set(k, x)} />;
        return (
          <div key={k} className="field">
            <label htmlFor={id}>
              {k}
              {required.has(k) ? ' *' : ''}
            </label>
            {field}
            {s.description && <span className="muted small">{s.description}</span>}
          </div>
        );
      })}
    </fieldset>
  );
}
