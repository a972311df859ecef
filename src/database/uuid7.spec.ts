import { uuidv7 } from './uuid7.js';

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying its millisecond timestamp', () => {
    const at = Date.UTC(2026, 10, 27, 9, 30, 0, 123);
    const id = uuidv7(at);
    expect(id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts by time across milliseconds and never repeats', () => {
    const ids = Array.from({ length: 1000 }, (_, i) =>
      uuidv7(1_795_000_000_000 + Math.floor(i / 10)),
    );
    expect(new Set(ids).size).toBe(1000);
    const byMs = ids.filter((_, i) => i % 10 === 0);
    expect([...byMs].sort()).toEqual(byMs);
  });
});
