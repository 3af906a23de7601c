// A live stream of events over Server-Sent Events (GET /subscribe), signed in through
// access_token= (EventSource cannot set headers). The browser resumes a dropped connection with
// Last-Event-ID; when it gives up (the server restarted, say), this opens a new one from the last
// id seen. Ids already delivered are dropped, so a resume never shows an event twice.
import { useEffect, useRef, useState } from 'react';
import { credential, q } from './api';

export interface StreamEvent {
  id: string;
  event: Record<string, unknown> & { type?: string; topic?: string; tenant?: string; payload?: unknown; id?: string };
}
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export function subscribe(
  topics: string,
  filters: { from?: string; type?: string; tenant?: string },
  onEvent: (e: StreamEvent) => void,
  onState: (s: StreamState, detail?: string) => void,
): () => void {
  let last: string | undefined = filters.from;
  let source: EventSource | null = null;
  let stopped = false;
  let retry = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const seen = new Set<string>();
  const order: string[] = [];

  const open = () => {
    if (stopped) return;
    onState(last && last !== filters.from ? 'reconnecting' : 'connecting');
    const url =
      '/subscribe' + q({ topics, from: last ?? 'latest', type: filters.type, tenant: filters.tenant, access_token: credential() ?? undefined });
    source = new EventSource(url);
    source.onopen = () => {
      retry = 500;
      onState('live');
    };
    source.onmessage = (m) => {
      const id = m.lastEventId;
      if (id && seen.has(id)) return;
      if (id) {
        seen.add(id);
        order.push(id);
        if (order.length > 20000) seen.delete(order.shift()!);
        last = id;
      }
      try {
        const data = JSON.parse(m.data);
        onEvent({ id, event: data && typeof data === 'object' && 'event' in data ? data.event : data });
      } catch {
        onEvent({ id, event: { type: 'unparsable', payload: m.data } });
      }
    };
    source.addEventListener('error', (e) => {
      const detail = (e as MessageEvent).data as string | undefined;
      if (source && source.readyState === EventSource.CLOSED) {
        source.close();
        if (stopped) return;
        onState('reconnecting', detail);
        timer = setTimeout(open, retry);
        retry = Math.min(retry * 2, 10000);
      } else onState('reconnecting', detail);
    });
  };
  open();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    source?.close();
    onState('closed');
  };
}

// A view's live stream of `topics` from now on: calls `onEvent` (its latest version) for each
// event and returns the stream's state. Opened again when `key` changes.
export function useStream(topics: string, onEvent: (e: StreamEvent) => void, key: unknown = null): StreamState {
  const [state, setState] = useState<StreamState>('connecting');
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(
    () =>
      subscribe(
        topics,
        { from: 'latest' },
        (e) => handler.current(e),
        (st) => setState(st),
      ),
    [topics, key],
  );
  return state;
}
