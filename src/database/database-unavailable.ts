/** The database cannot be used right now (unreachable, silent, locked, its file gone). */
export class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/** PostgreSQL classes and codes a retry can cure: connection exceptions, shutdown, overload, timeouts. */
const PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// pg and TypeORM say these in words only.
const MESSAGES = [
  /^Connection terminated/,
  /^timeout expired$/,
  /timeout exceeded when trying to connect/,
  /^Query read timeout$/,
  /is not queryable/,
  /Cannot use a pool after calling end/,
  /database connection is not open/i,
  /Connection with .* database is not established/i,
  /^Cannot execute operation on ".*" connection because connection is not yet established/,
];

/**
 * Whether an error says the database is unavailable rather than that the request or the
 * code is wrong: answered 503 with Retry-After, so an alert's sender tries again.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  const e = error as {
    code?: unknown;
    message?: unknown;
    name?: unknown;
    driverError?: unknown;
    cause?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : '';
  if (PG_CODES.has(code) || code.startsWith('08') || SOCKET_CODES.has(code))
    return true;
  if (/^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY_DBMOVED)/.test(code))
    return true;
  if (e.name === 'CannotExecuteNotConnectedError') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (MESSAGES.some((m) => m.test(message))) return true;
  return (
    isDatabaseUnavailable(e.driverError, depth + 1) ||
    isDatabaseUnavailable(e.cause, depth + 1)
  );
}
