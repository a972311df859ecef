/**
 * The `/v1` API, found relative to the page (`/console` → `/v1`, `/alerting/console` →
 * `/alerting/v1`), with the operator's key in a header. The key lives in sessionStorage
 * only: never in a URL, a cookie or a log.
 */
const STORAGE = 'alerting-console-key';
const BASE = new URL('.', location.href);
const HEADER =
  document
    .querySelector<HTMLMetaElement>('meta[name="alerting-key-header"]')
    ?.content.toLowerCase() === 'authorization'
    ? 'authorization'
    : 'x-api-key';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The key refused or gone: the app shows the key form again. */
export class Unauthorized extends ApiError {}

export const key = {
  get: (): string | null => sessionStorage.getItem(STORAGE),
  set: (k: string) => sessionStorage.setItem(STORAGE, k),
  clear: () => sessionStorage.removeItem(STORAGE),
};

function headersWith(k: string | null, body: boolean): Headers {
  const headers = new Headers({ accept: 'application/json' });
  if (body) headers.set('content-type', 'application/json');
  if (k) headers.set(HEADER, HEADER === 'authorization' ? `Bearer ${k}` : k);
  return headers;
}

async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  withKey: string | null = key.get(),
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, BASE), {
      method,
      headers: headersWith(withKey, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'the service did not answer (network error)');
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) return data as T;
  const message = messageOf(data) ?? `${res.status} ${res.statusText}`;
  if (res.status === 401) throw new Unauthorized(401, message);
  throw new ApiError(res.status, message);
}

function messageOf(data: unknown): string | null {
  if (!data || typeof data !== 'object') return null;
  const m = (data as { message?: unknown }).message;
  if (Array.isArray(m)) return m.map(String).join('; ');
  return typeof m === 'string' ? m : null;
}

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => call<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, body),
  delete: <T>(path: string) => call<T>('DELETE', path),
  /** The cheapest authenticated read, to learn whether `k` (or no key) opens the API. */
  probe: (k: string | null) =>
    call<unknown>('GET', 'v1/incidents?limit=1', undefined, k),
};

export const enc = encodeURIComponent;

export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// API shapes the pages read
export interface Incident {
  id: string;
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  severity: string;
  alarmName: string;
  metricName: string | null;
  threshold: number | null;
  currentValue: number | null;
  environment: string;
  description: string | null;
  recommendations: string[];
  source: string | null;
  component: string | null;
  group: string | null;
  class: string | null;
  links: { href: string; text?: string }[];
  customDetails: Record<string, unknown>;
  occurrences: number;
  ingestSource: string;
  createdAt: string;
  lastSeenAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
  resolveReason: string | null;
  route: {
    names: string[];
    notifiers: string[];
    pageAfterUntil: string | null;
  } | null;
  suppressedBy: Record<string, unknown> | null;
  pagerduty: {
    incidentId: string;
    number: number | null;
    htmlUrl: string | null;
  } | null;
}

export interface Delivery {
  id: string;
  notifier: string;
  dedupKey: string;
  incidentId: string;
  action: string;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  lastResponse: unknown;
  createdAt: string;
  deliveredAt: string | null;
}

export interface IncidentDetail extends Incident {
  timeline: { at: string; type: string; detail: unknown }[];
  deliveries: Delivery[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Silence {
  id: string;
  matchers: Record<string, unknown>;
  startsAt: string;
  endsAt: string;
  comment: string;
  createdBy: string;
  state: 'active' | 'pending' | 'expired';
}
