// Tenants: for the platform admin every tenant, for others their own. Plan, quotas as gauges,
// usage per day as a chart, keys (create shows the secret once; revoke), roles, the audit log.
import { type FormEvent, useMemo, useState } from 'react';
import { call, get, may, q } from '../api';
import { Chart } from '../chart';
import type { ViewProps } from '../app';
import { CopyButton, ErrorNote, Gauge, Loading, Time, useLoad } from '../ui';

interface Tenant {
  id: string;
  name: string;
  plan: string;
  status: string;
  domains?: string[];
  limits: Record<string, number>;
  usage?: Record<string, number>;
  keys?: Record<string, { role: string; name?: string; revokedAt?: number; createdAt?: number }>;
  roles?: Record<string, string[] | { permissions: string[] }>;
  version?: number;
}

export function TenantsView({ session, route }: ViewProps) {
  const list = useLoad(
    (signal) =>
      session.platformAdmin
        ? get<{ items: { id: string; name: string; plan: string; status: string }[] }>('/tenants', signal).then((r) => r.items)
        : Promise.resolve([{ id: session.tenant, name: session.tenant, plan: '', status: '' }]),
    [session],
  );
  const id = route.rest[0] ?? (session.platformAdmin ? undefined : session.tenant);
  return (
    <section aria-labelledby="tenants-title">
      <h1 id="tenants-title">Tenants</h1>
      <ErrorNote error={list.error} onRetry={list.reload} />
      {session.platformAdmin && (
        <ul className="chips" data-testid="tenant-list">
          {(list.data ?? []).map((t) => (
            <li key={t.id}>
              <a href={`#/tenants/${encodeURIComponent(t.id)}`} aria-current={t.id === id ? 'page' : undefined}>
                {t.name || t.id} <span className="muted small">{t.plan}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
      {id ? <TenantDetail id={id} session={session} /> : <p className="muted">Choose a tenant.</p>}
    </section>
  );
}

function TenantDetail({ id, session }: { id: string; session: ViewProps['session'] }) {
  const t = useLoad((signal) => call<Tenant>('GET', `/tenants/${encodeURIComponent(id)}`, { signal }), [id]);
  if (t.error) return <ErrorNote error={t.error} onRetry={t.reload} />;
  if (!t.data) return <Loading what="the tenant" />;
  const tenant = t.data.body;
  const limits = Object.entries(tenant.limits ?? {}).filter(([, v]) => typeof v === 'number');
  return (
    <div data-testid="tenant">
      <h2>
        {tenant.name} <span className="muted small">({tenant.id})</span>
      </h2>
      <dl className="facts">
        <dt>Plan</dt>
        <dd>{tenant.plan}</dd>
        <dt>Status</dt>
        <dd>{tenant.status}</dd>
        <dt>Domains</dt>
        <dd>{(tenant.domains ?? []).join(', ') || '—'}</dd>
      </dl>
      <h3>Quotas</h3>
      <div className="gauges">
        {limits.map(([k, limit]) => (
          <Gauge key={k} label={k} used={Number(tenant.usage?.[k] ?? 0)} limit={limit} />
        ))}
      </div>
      {may(session, 'usage:read') && <Usage id={id} />}
      <Keys tenant={tenant} etag={t.data.etag} session={session} onChange={t.reload} />
      <Roles tenant={tenant} etag={t.data.etag} session={session} onChange={t.reload} />
      {may(session, 'audit:read') && <Audit id={id} />}
    </div>
  );
}

function Usage({ id }: { id: string }) {
  const [period, setPeriod] = useState(() => new Date().toISOString().slice(0, 7));
  const u = useLoad((signal) => get<{ rows: { date: string; metric: string; quantity: number }[] }>(`/tenants/${encodeURIComponent(id)}/usage${q({ period })}`, signal), [id, period]);
  const chart = useMemo(() => {
    const rows = u.data?.rows ?? [];
    const dates = [...new Set(rows.map((r) => r.date))].sort();
    const metrics = [...new Set(rows.map((r) => r.metric))].sort();
    const x = dates.map((d) => Date.parse(d + 'T00:00:00Z') / 1000);
    const series = metrics.map((m) => ({ label: m, values: dates.map((d) => rows.find((r) => r.date === d && r.metric === m)?.quantity ?? null) }));
    return { x, series };
  }, [u.data]);
  return (
    <div className="panel">
      <h3>Usage per day</h3>
      <label>
        Month
        <input type="month" value={period} onChange={(e) => setPeriod(e.target.value)} />
      </label>
      <ErrorNote error={u.error} />
      {chart.x.length ? <Chart title={`Usage ${period}`} x={chart.x} series={chart.series} /> : <p className="muted">No usage recorded in {period}.</p>}
    </div>
  );
}

function Keys({ tenant, etag, session, onChange }: { tenant: Tenant; etag: string | null; session: ViewProps['session']; onChange: () => void }) {
  const [role, setRole] = useState('viewer');
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canWrite = may(session, 'keys:write');
  const path = `/tenants/${encodeURIComponent(tenant.id)}/keys`;
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await call<{ key: string }>('POST', path, { body: { role, name }, headers: etag ? { 'If-Match': etag } : {} });
      setSecret(r.body.key);
      setName('');
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (keyId: string) => {
    if (!confirm(`Revoke key ${keyId}? Requests with it are refused from their next one.`)) return;
    try {
      await call('DELETE', `${path}/${encodeURIComponent(keyId)}`, { headers: etag ? { 'If-Match': etag } : {} });
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="panel">
      <h3>API keys</h3>
      {secret && (
        <div className="notice" role="alert" data-testid="new-secret">
          New key (shown once, copy it now): <code className="wrap">{secret}</code> <CopyButton text={secret} />
          <button type="button" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      )}
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Key id</th>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
            {canWrite && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {Object.entries(tenant.keys ?? {}).map(([k, v]) => (
            <tr key={k}>
              <td>
                <code>{k}</code>
              </td>
              <td>{v.name}</td>
              <td>{v.role}</td>
              <td>
                <Time at={v.createdAt} />
              </td>
              <td>{v.revokedAt ? 'revoked' : 'active'}</td>
              {canWrite && (
                <td>
                  {!v.revokedAt && (
                    <button type="button" onClick={() => void revoke(k)}>
                      Revoke
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {canWrite && (
        <form className="filters" onSubmit={create}>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value)} aria-label="Role of the new key">
              {['viewer', 'auditor', 'developer', 'admin', 'owner', ...Object.keys(tenant.roles ?? {})].map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} aria-label="Name of the new key" />
          </label>
          <button type="submit">Create key</button>
        </form>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

function Roles({ tenant, etag, session, onChange }: { tenant: Tenant; etag: string | null; session: ViewProps['session']; onChange: () => void }) {
  const [name, setName] = useState('');
  const [perms, setPerms] = useState('');
  const [error, setError] = useState<unknown>(null);
  const define = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const permissions = perms
        .split(/[\s,]+/)
        .map((p) => p.trim())
        .filter(Boolean);
      await call('POST', `/tenants/${encodeURIComponent(tenant.id)}/roles`, { body: { name, permissions }, headers: etag ? { 'If-Match': etag } : {} });
      setName('');
      setPerms('');
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const roles = Object.entries(tenant.roles ?? {});
  return (
    <div className="panel">
      <h3>Roles</h3>
      <p className="small muted">Built in: viewer, auditor, developer, admin, owner.</p>
      {roles.length ? (
        <table className="list small" data-testid="roles">
          <thead>
            <tr>
              <th scope="col">Custom role</th>
              <th scope="col">Permissions</th>
            </tr>
          </thead>
          <tbody>
            {roles.map(([r, p]) => (
              <tr key={r}>
                <td>{r}</td>
                <td>{(Array.isArray(p) ? p : (p?.permissions ?? [])).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">No custom roles.</p>
      )}
      {may(session, 'roles:write') && (
        <form className="filters" onSubmit={define}>
          <label>
            Role name
            <input value={name} onChange={(e) => setName(e.target.value)} pattern="[a-z0-9_\-]{1,64}" required />
          </label>
          <label>
            Permissions (e.g. missions:read events:write@orders.*)
            <input value={perms} onChange={(e) => setPerms(e.target.value)} required />
          </label>
          <button type="submit">Define role</button>
        </form>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

function Audit({ id }: { id: string }) {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [filter, setFilter] = useState('');
  const a = useLoad(
    (signal) =>
      get<{ items: Record<string, unknown>[] }>(
        `/tenants/${encodeURIComponent(id)}/audit${q({ from: from && new Date(from).toISOString(), to: to && new Date(to).toISOString(), limit: 200 })}`,
        signal,
      ),
    [id, from, to],
  );
  const rows = (a.data?.items ?? []).filter((r) => !filter || JSON.stringify(r).toLowerCase().includes(filter.toLowerCase())).reverse();
  return (
    <div className="panel">
      <h3>Audit log</h3>
      <div className="filters">
        <label>
          From
          <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <label>
          Filter
          <input value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="route, principal, status…" />
        </label>
      </div>
      <ErrorNote error={a.error} />
      <table className="list small">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <td>
                <Time at={(r.at ?? r.time ?? r.timestamp) as number | undefined} />
              </td>
              <td>{String(r.principal ?? '')}</td>
              <td>
                {String(r.method ?? '')} {String(r.path ?? r.route ?? r.type ?? '')}
              </td>
              <td>{String(r.status ?? '')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
