const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * `500ms`, `30s`, `5m`, `4h`, `1d` or a plain number of milliseconds, rounded to a whole
 * millisecond (`1.5` is 2, `0.5s` is 500); null when malformed or beyond what a Date can
 * hold (`999999999d` would make every date computed from it invalid).
 */
export function parseDuration(value: string | number): number | null {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    if (!match) return null;
    ms = Number(match[1]) * UNITS[match[2] ?? 'ms'];
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) return null;
  return Math.round(ms);
}

/** 100 years: far beyond any sane setting, far below what Date arithmetic overflows on. */
const MAX_DURATION_MS = 100 * 365 * UNITS.d;

/** A per-alert `resolveTimeout` fits this range, stored as integer milliseconds on every dialect. */
export const MAX_RESOLVE_TIMEOUT_MS = 30 * UNITS.d;
