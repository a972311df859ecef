import { BadRequestException } from '@nestjs/common';

/**
 * Query and path parameters, read strictly: Fastify hands a repeated parameter over as an
 * array, and `Number()` reads `0x10`, `1e2` or ` 7 `; each of those is a client's mistake
 * and must be a 400 naming the parameter, never a 500 or a silent reinterpretation.
 */
const bad = (message: string) => new BadRequestException([message]);

/** The parameter's one value; a repeated or structured parameter is a 400. */
export function singleParam(name: string, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string')
    throw bad(
      `${name} must be given once (a comma list selects several values)`,
    );
  return raw;
}

export function parseList<T extends string>(
  name: string,
  raw: unknown,
  allowed: readonly T[],
): T[] {
  const values = (singleParam(name, raw) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = values.filter((v) => !allowed.includes(v as T));
  if (unknown.length > 0)
    throw bad(
      `${name} must be a comma list of ${allowed.join(', ')}; got ${unknown.join(', ')}`,
    );
  return values as T[];
}

export function parseLimit(raw: unknown, fallback = 50, max = 500): number {
  const value = singleParam('limit', raw);
  if (value === undefined) return fallback;
  const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= max))
    throw bad(`limit must be a decimal integer from 1 to ${max}`);
  return n;
}

/** A positive decimal integer id in a path (`/v1/deliveries/:id/retry`). */
export function parseIntegerId(name: string, raw: string): number {
  const n = /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n))
    throw bad(`${name} must be a positive decimal integer; got ${raw}`);
  return n;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type CursorPosition<Id> = { createdAt: string; id: Id };

export function encodeCursor(createdAt: string, id: string | number): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/**
 * The position a `nextCursor` encodes, checked field by field: a forged or truncated
 * cursor would otherwise reach the database as a malformed timestamp or id.
 */
export function parseCursor<K extends 'uuid' | 'integer'>(
  raw: unknown,
  idKind: K,
): CursorPosition<K extends 'uuid' ? string : number> | undefined {
  const value = singleParam('cursor', raw);
  if (value === undefined || value === '') return undefined;
  let decoded: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(value)) throw new Error('not base64url');
    decoded = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (Array.isArray(decoded) && decoded.length === 2) {
    const [createdAt, rawId] = decoded as unknown[];
    // PostgreSQL hands bigserial ids back as strings, so a cursor may carry either form.
    const id =
      idKind === 'integer' &&
      typeof rawId === 'string' &&
      /^[1-9]\d{0,15}$/.test(rawId)
        ? Number(rawId)
        : rawId;
    const idOk =
      idKind === 'uuid'
        ? typeof id === 'string' && UUID.test(id)
        : Number.isSafeInteger(id) && (id as number) > 0;
    if (
      typeof createdAt === 'string' &&
      ISO_INSTANT.test(createdAt) &&
      !Number.isNaN(Date.parse(createdAt)) &&
      idOk
    )
      return { createdAt, id: id as K extends 'uuid' ? string : number };
  }
  throw bad('cursor is not a nextCursor this listing returned');
}
