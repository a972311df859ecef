/** A failed call to the service, with what it answered (the error body described in the README, HTTP API). */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const message = (body as { message?: unknown } | null)?.message;
    const detail = Array.isArray(message)
      ? message.join('; ')
      : typeof message === 'string'
        ? message
        : JSON.stringify(body);
    super(`${what}: HTTP ${status}${detail ? ` ${detail}` : ''}`);
    this.name = 'ServiceError';
  }
}

export interface ServiceResponse<T = any> {
  status: number;
  body: T;
}

/** The service's HTTP API as the CLI uses it: JSON in and out, the API key on every call. */
export class ServiceClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** Any answer comes back as is; only network errors and timeouts throw. */
  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ServiceResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        ...headers,
      },
      body:
        body === undefined
          ? undefined
          : typeof body === 'string'
            ? body
            : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // a proxy's HTML error page: keep the text for the message
    }
    return { status: res.status, body: parsed as T };
  }

  /** Like {@link request}, but a non-2xx answer throws a {@link ServiceError}. */
  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (res.status < 200 || res.status > 299)
      throw new ServiceError(res.status, res.body, `${method} ${path}`);
    return res.body;
  }
}
