// The console's one way to the server: the public HTTP API (/openapi.json), with the signed-in
// credential as a bearer token. Every error answer becomes an ApiError carrying the server's
// code, message and field; a 401 signs the user out with the server's message.
import type { paths } from './api-schema';

const KEY = 'nf.credential';

export function credential(): string | null {
  return sessionStorage.getItem(KEY);
}
export function setCredential(c: string | null) {
  if (c) sessionStorage.setItem(KEY, c);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
  describe(): string {
    return `${this.message}${this.field ? ` (field ${this.field})` : ''} — HTTP ${this.status} ${this.code}`;
  }
}

type Listener = (why: string) => void;
const signedOutListeners = new Set<Listener>();
// Called when the server refuses the credential (expired, revoked, unknown).
export function onSignedOut(l: Listener): () => void {
  signedOutListeners.add(l);
  return () => signedOutListeners.delete(l);
}

// The paths of the API document, so a typo in a route is a type error.
export type ApiPath = keyof paths;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
// The JSON body a route answers with `status`, as the API document describes it.
export type Body<P extends ApiPath, M extends Method = 'get', S extends number = 200> = paths[P] extends { [m in M]: { responses: { [s in S]: { content: { 'application/json': infer B } } } } }
  ? B
  : never;

export interface Answer<T> {
  status: number;
  body: T;
  etag: string | null;
  position: string | null;
}

// Read your writes: the position (NF-Position) of this tab's latest write goes with its reads as
// NF-Wait-For, so a view read right after a write shows it, whichever instance answers.
let lastWrite: { token: string; at: number } | null = null;
const WAIT_FOR_MS = 60000;

export async function call<T = unknown>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  const c = credential();
  if (c) headers.Authorization = `Bearer ${c}`;
  if (method === 'GET' && lastWrite && Date.now() - lastWrite.at < WAIT_FOR_MS && !headers['NF-Wait-For']) headers['NF-Wait-For'] = lastWrite.token;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, signal: options.signal, cache: 'no-store' });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `the server did not answer: ${(e as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown = null;
  if (text && (res.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'bad_answer', `the server's answer is not JSON: ${text.slice(0, 200)}`);
    }
  } else parsed = text;
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    const e = new ApiError(res.status, err?.code ?? 'http_' + res.status, err?.message ?? (text.slice(0, 200) || res.statusText), err?.field);
    if (res.status === 401 && c) {
      setCredential(null);
      signedOutListeners.forEach((l) => l(e.message));
    }
    throw e;
  }
  const position = res.headers.get('NF-Position');
  if (position && method !== 'GET') lastWrite = { token: position, at: Date.now() };
  return { status: res.status, body: parsed as T, etag: res.headers.get('ETag'), position };
}

export const get = async <T = unknown>(path: string, signal?: AbortSignal) => (await call<T>('GET', path, { signal })).body;

export function q(params: Record<string, string | number | undefined | null | false>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) s.set(k, String(v));
  const t = s.toString();
  return t ? `?${t}` : '';
}

export type Session = Body<'/session'>;

export function may(s: Session | null, permission: string): boolean {
  if (!s) return false;
  return s.platformAdmin || s.permissions.includes(permission) || s.permissions.some((p) => p.startsWith(permission + '@'));
}

// Compile-time checks that the document describes what the console relies on (a route or schema
// the document lost makes these `never`, and the type check fails).
type Described<T> = [T] extends [never] ? 'missing from /openapi.json' : 'described';
const described: [
  Described<Session>,
  Described<Body<'/ledger/tree-head'>>,
  Described<Body<'/ledger/entries/{index}'>>,
  Described<Body<'/ledger/proof/inclusion'>>,
  Described<Body<'/ledger/public-key'>>,
  Described<Body<'/ledger/search'>>,
  Described<Body<'/ledger/proof/consistency'>>,
] = ['described', 'described', 'described', 'described', 'described', 'described', 'described'];
void described;
