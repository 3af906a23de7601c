// The shell: sign-in, the session (GET /session), navigation by location hash, the theme, and
// each view behind an error boundary.
import { type FormEvent, type ReactNode, useCallback, useEffect, useState } from 'react';
import { ApiError, call, credential, may, onSignedOut, type Session, setCredential } from './api';
import { Boundary, describe, useInterval } from './ui';
import { MissionsView } from './views/missions';
import { LedgerView } from './views/ledger';
import { EventsView } from './views/events';
import { TenantsView } from './views/tenants';
import { RunsView } from './views/runs';
import { WorkflowsView } from './views/workflows';
import { MarketplaceView } from './views/marketplace';
import { RegionsView } from './views/regions';

export interface Route {
  view: string;
  rest: string[];
  query: URLSearchParams;
}

function parseHash(): Route {
  const h = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [path, query = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean);
  return { view: parts[0] ?? 'missions', rest: parts.slice(1), query: new URLSearchParams(query) };
}

export function go(path: string) {
  location.hash = '#/' + path.replace(/^\//, '');
}

export interface ViewProps {
  session: Session;
  route: Route;
}

const VIEWS: { id: string; label: string; permission: string; render: (p: ViewProps) => ReactNode }[] = [
  { id: 'missions', label: 'Missions', permission: 'missions:read', render: (p) => <MissionsView {...p} /> },
  { id: 'marketplace', label: 'Marketplace', permission: 'marketplace:read', render: (p) => <MarketplaceView {...p} /> },
  { id: 'workflows', label: 'Workflows', permission: 'workflows:read', render: (p) => <WorkflowsView {...p} /> },
  { id: 'runs', label: 'Runs', permission: 'workflows:read', render: (p) => <RunsView {...p} /> },
  { id: 'ledger', label: 'Ledger', permission: 'ledger:read', render: (p) => <LedgerView {...p} /> },
  { id: 'tenants', label: 'Tenants', permission: 'tenants:read', render: (p) => <TenantsView {...p} /> },
  { id: 'regions', label: 'Regions & cluster', permission: 'cluster:read', render: (p) => <RegionsView {...p} /> },
  { id: 'events', label: 'Events', permission: 'events:read', render: (p) => <EventsView {...p} /> },
];

function useTheme() {
  const [theme, setTheme] = useState<string>(() => localStorage.getItem('nf.theme') ?? 'auto');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('nf.theme', theme);
  }, [theme]);
  return [theme, setTheme] as const;
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice: string }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCredential(value.trim());
    try {
      const s = (await call<Session>('GET', '/session')).body;
      onSignedIn(s);
    } catch (err) {
      setCredential(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Nexus Forge</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label htmlFor="credential">API key or JWT</label>
        <input
          id="credential"
          name="credential"
          type="password"
          autoComplete="off"
          required
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="nfk_… or eyJ…"
        />
        <button type="submit" disabled={busy || !value.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error ? (
          <p className="error" role="alert">
            {describe(error)}
          </p>
        ) : null}
        <p className="muted small">The credential stays in this tab (sessionStorage) and is sent to this server only.</p>
      </form>
    </main>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(() => credential() !== null);
  const [notice, setNotice] = useState('');
  const [route, setRoute] = useState(parseHash);
  const [theme, setTheme] = useTheme();
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const on = () => {
      setRoute(parseHash());
      setMenuOpen(false);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);

  useEffect(
    () =>
      onSignedOut((why) => {
        setSession(null);
        setNotice(`Signed out: ${why}`);
      }),
    [],
  );

  const refresh = useCallback(async () => {
    if (!credential()) return;
    try {
      setSession((await call<Session>('GET', '/session')).body);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) setNotice(describe(e));
    } finally {
      setChecking(false);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  // A revoked or expired credential signs the user out even while no view is asking.
  useInterval(() => {
    if (session) void refresh();
  }, 15000);

  if (checking) return <p className="muted">Checking the credential…</p>;
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice('');
          setSession(s);
        }}
      />
    );

  const allowed = VIEWS.filter((v) => may(session, v.permission));
  const current = allowed.find((v) => v.id === route.view) ?? allowed[0];
  const signOut = () => {
    setCredential(null);
    setSession(null);
    setNotice('Signed out.');
  };
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <button type="button" className="menu" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <span className="brand">Nexus Forge</span>
        <span className="who" data-testid="who">
          {session.platformAdmin ? 'platform admin' : session.tenant} · {session.roles.join(', ') || session.principal}
        </span>
        <label className="theme">
          <span className="sr-only">Theme</span>
          <select value={theme} onChange={(e) => setTheme(e.target.value)} aria-label="Theme">
            <option value="auto">Auto</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav id="nav" className={menuOpen ? 'open' : ''} aria-label="Views">
        <ul>
          {allowed.map((v) => (
            <li key={v.id}>
              <a href={`#/${v.id}`} aria-current={current?.id === v.id ? 'page' : undefined}>
                {v.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {current ? (
          <Boundary key={current.id} name={current.label}>
            {current.render({ session, route })}
          </Boundary>
        ) : (
          <p>This credential may not read any view.</p>
        )}
      </main>
    </div>
  );
}
