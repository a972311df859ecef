import { MAX_RESOLVE_TIMEOUT_MS, parseDuration } from './duration.js';

describe(parseDuration.name, () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['4h', 14_400_000],
    ['30d', MAX_RESOLVE_TIMEOUT_MS],
    ['0.5s', 500],
    [1.5, 2],
    [1.4, 1],
    [0, 0],
  ])('reads %s as %i ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each([
    ['999999999d'],
    ['9'.repeat(400)],
    [1e300],
    [Number.POSITIVE_INFINITY],
    [Number.NaN],
    [-1],
    ['1e3'],
    ['soon'],
  ])('refuses %s', (value) => {
    expect(parseDuration(value)).toBeNull();
  });
});
