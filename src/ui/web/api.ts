/**
 * The page's only way to the server: JSON over the routes of src/ui/api-types.ts, every
 * request carrying the token header. Errors arrive as `{ error: { code, message, status } }`
 * and are thrown as ApiError with that code.
 */
export const TOKEN_HEADER = 'X-Jetsaga-Token';
/** The server did not answer at all (stopped, or the network is down). */
export const UNREACHABLE = 'UNREACHABLE';
export const UNAUTHORIZED = 'UNAUTHORIZED';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status; 0 when there was no answer. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  readonly token: string | null;
  /** Called on every 401 (the page shows how to get a valid link). */
  readonly onUnauthorized: (error: ApiError) => void;
}

export class Api {
  constructor(private readonly options: ApiOptions) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** POSTs `body` as JSON; a string is sent as it is (an already serialised document). */
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, typeof body === 'string' ? body : JSON.stringify(body ?? {}));
  }

  /** The event stream's URL: EventSource cannot set headers, so the token rides in the query. */
  streamUrl(saga: string | null): string {
    const q = new URLSearchParams();
    if (this.options.token !== null) q.set('token', this.options.token);
    if (saga !== null) q.set('saga', saga);
    return `/api/stream?${q.toString()}`;
  }

  private async request<T>(method: string, path: string, body?: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.options.token !== null) headers[TOKEN_HEADER] = this.options.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(UNREACHABLE, `the jetsaga server did not answer (${e instanceof Error ? e.message : String(e)})`, 0);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      // Not JSON: the status and text still say what went wrong.
    }
    if (!res.ok) {
      const err = errorOf(json, res.status, text);
      if (res.status === 401) this.options.onUnauthorized(err);
      throw err;
    }
    return json as T;
  }
}

function errorOf(json: unknown, status: number, text: string): ApiError {
  const e = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (e && typeof e.code === 'string') return new ApiError(e.code, typeof e.message === 'string' ? e.message : e.code, status);
  const code = status === 401 ? UNAUTHORIZED : `HTTP_${status}`;
  return new ApiError(code, text.trim().slice(0, 200) || `HTTP ${status}`, status);
}
